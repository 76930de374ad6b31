#!/usr/bin/env bash
# Same-session side-by-side run: NativeNet (naive, simd) against OpenBLAS sgemm and PyTorch 1.13 ("tuned" configuration of
# the anchors: auto OpenBLAS core type, OMP_WAIT_POLICY=PASSIVE, glibc malloc tunables), alternating per thread count so
# every ratio comes from figures taken minutes apart on the same machine. Then bench/scripts/make_results.py turns the raw
# files into the tables of bench/RESULTS.md and bench/chart.svg. The LSTM/GRU rows (bench/scripts/torch_recurrent.py, a GRU case
# added to the anchors' method) are also measured interleaved and repeated by bench/scripts/recurrent_side_by_side.sh.
#
# Usage: bench/scripts/side_by_side.sh [--no-bdn]
#   ANCHORS  the anchors folder (sgemm.c, torch_micro.py, models.py); default ../shared/anchors next to the repository
#   THREADS  thread counts to run (default "1 2")
#   --no-bdn skip the BenchmarkDotNet elementwise/softmax families (about 7 minutes)
# Needs gcc, libopenblas-dev and python3-torch (`dotnet cake --target=ReferenceDeps` installs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
anchors="${ANCHORS:-$root/../shared/anchors}"
threads="${THREADS:-1 2}"
bdn=1; [[ "${1:-}" == "--no-bdn" ]] && bdn=0
out="$root/bench/results/side-by-side"
rm -rf "$out"; mkdir -p "$out"
[[ -f "$anchors/sgemm.c" && -f "$anchors/torch_micro.py" ]] || { echo "side_by_side: no anchors in '$anchors' (set ANCHORS)" >&2; exit 2; }

unset OPENBLAS_CORETYPE   # the box exports Haswell, which halves OpenBLAS's sgemm; compare against the auto (AVX-512) kernel
dotnet build "$root/src/NativeNet.Cli" -c Release -nologo -v quiet
cli=(dotnet "$root/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli.dll")
gcc -O2 "$anchors/sgemm.c" -o "$out/sgemm" -lopenblas
{ echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"; lscpu | grep -E 'Model name|^CPU\(s\)|L1d|L2|L3'; dotnet --version; } > "$out/machine.txt"

# One NativeNet figure: appends its JSON line, with the command that reproduces it, to nativenet.jsonl.
nn() {
    local line
    if ! line="$("${cli[@]}" bench "$@" --json)"; then
        echo "side_by_side: FAILED: ./nativenet bench $*" | tee -a "$out/failures.txt" >&2
        return 0
    fi
    printf '%s\t%s\n' "$line" "./nativenet bench $*" >> "$out/nativenet.jsonl"
    echo "  $line"
}

gemm_shapes=("256 256 256 NN" "512 512 512 NN" "1024 1024 1024 NN" "2048 2048 2048 NN"
    "128 512 784 NN" "128 512 784 NT" "512 784 128 TN" "128 256 512 NT" "128 10 256 NT"
    "64 12544 288 NN" "32 50176 9 NN" "128 128 3136 NT" "64 1024 256 NT")

for t in $threads; do
    echo "== $t thread(s): OpenBLAS"
    OPENBLAS_NUM_THREADS=$t "$out/sgemm" | tee "$out/openblas_T$t.txt"
    echo "== $t thread(s): PyTorch (tuned)"
    (cd "$anchors" && OMP_WAIT_POLICY=PASSIVE GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 \
        OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/python3 torch_micro.py "$t") | tee "$out/torch_T$t.txt"
    (cd "$root/bench/scripts" && OMP_WAIT_POLICY=PASSIVE GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 \
        OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/python3 torch_recurrent.py "$t") | tee "$out/torch_recurrent_T$t.txt"
    echo "== $t thread(s): NativeNet"
    for s in "${gemm_shapes[@]}"; do
        read -r m n k op <<< "$s"
        nn gemm --backend simd --threads "$t" --m "$m" --n "$n" --k "$k" --op "$op"
    done
    nn conv2d --backend simd --threads "$t" --shape conv1 --pass fwd
    nn conv2d --backend simd --threads "$t" --shape conv1 --pass fwdbwd --dx false
    nn conv2d --backend simd --threads "$t" --shape conv1 --pass fwdbwd --dx true
    nn conv2d --backend simd --threads "$t" --shape conv2 --pass fwd
    nn conv2d --backend simd --threads "$t" --shape conv2 --pass fwdbwd
    nn maxpool --backend simd --threads "$t" --pass fwd
    nn maxpool --backend simd --threads "$t" --pass fwdbwd
    nn train-step --backend simd --threads "$t" --model mlp --batch 128
    nn train-step --backend simd --threads "$t" --model cnn --batch 128
    for cell in lstm gru; do
        nn "$cell" --backend simd --threads "$t" --pass fwd --seq 50 --batch 64 --input 128 --hidden 256
        nn "$cell" --backend simd --threads "$t" --pass fwdbwd --seq 50 --batch 64 --input 128 --hidden 256
    done
done

echo "== NativeNet naive (single-threaded reference; few repeats, it is slow)"
slow=(--repeats 3 --min-time 0)
nn gemm --backend naive --threads 1 --m 256 --n 256 --k 256 --op NN "${slow[@]}"
nn gemm --backend naive --threads 1 --m 1024 --n 1024 --k 1024 --op NN "${slow[@]}"
nn gemm --backend naive --threads 1 --m 128 --n 512 --k 784 --op NT "${slow[@]}"
nn conv2d --backend naive --threads 1 --shape conv1 --pass fwd "${slow[@]}"
nn conv2d --backend naive --threads 1 --shape conv2 --pass fwd "${slow[@]}"
nn conv2d --backend naive --threads 1 --shape conv2 --pass fwdbwd "${slow[@]}"
nn maxpool --backend naive --threads 1 --pass fwd "${slow[@]}"
nn maxpool --backend naive --threads 1 --pass fwdbwd "${slow[@]}"
nn train-step --backend naive --threads 1 --model mlp --batch 128 "${slow[@]}"
nn train-step --backend naive --threads 1 --model cnn --batch 128 "${slow[@]}"

if [[ $bdn == 1 ]]; then
    echo "== BenchmarkDotNet: elementwise and softmax, naive vs simd"
    (cd "$out" && dotnet run --project "$root/bench/NativeNet.Bench" -c Release -- --filter '*Elementwise*' '*Softmax*' \
        --artifacts "$out/bdn" > "$out/bdn.log")
fi

/usr/bin/python3 "$root/bench/scripts/make_results.py" "$out"
