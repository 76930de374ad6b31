#!/usr/bin/env bash
# Before/after comparison of two NativeNet builds (e.g. main and a branch), interleaved with OpenBLAS cblas_sgemm and
# PyTorch 1.13 in the same run: per round and thread count, OpenBLAS, PyTorch, then every NativeNet case once with each
# build, back to back. Raw figures go to $OUT (one JSON line per NativeNet figure); parallel_summary.py takes medians
# over the rounds and prints the ratios.
#
# Usage: BASE=/path/to/main/checkout NEW=/path/to/branch/checkout [ROUNDS=3] [THREADS="1 2"] [CASES=$'case\ncase'] bench/scripts/parallel_compare.sh OUT
# Both checkouts must have src/NativeNet.Cli built in Release (dotnet build src/NativeNet.Cli -c Release).
# Needs gcc, libopenblas-dev and python3-torch (`dotnet cake --target=ReferenceDeps`); ANCHORS defaults to ../shared/anchors.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:?usage: parallel_compare.sh OUT}"
anchors="${ANCHORS:-$root/../shared/anchors}"
rounds="${ROUNDS:-3}"
threads="${THREADS:-1 2}"
mkdir -p "$out"
unset OPENBLAS_CORETYPE
gcc -O2 "$anchors/sgemm.c" -o "$out/sgemm" -lopenblas
declare -A cli=([base]="$BASE/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli.dll" [new]="$NEW/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli.dll")
cases=("gemm --m 256 --n 256 --k 256 --op NN" "gemm --m 512 --n 512 --k 512 --op NN" "gemm --m 1024 --n 1024 --k 1024 --op NN"
    "gemm --m 2048 --n 2048 --k 2048 --op NN" "gemm --m 128 --n 512 --k 784 --op NN" "gemm --m 128 --n 512 --k 784 --op NT"
    "gemm --m 512 --n 784 --k 128 --op TN" "gemm --m 128 --n 256 --k 512 --op NT" "gemm --m 128 --n 10 --k 256 --op NT"
    "gemm --m 64 --n 12544 --k 288 --op NN" "gemm --m 32 --n 50176 --k 9 --op NN" "gemm --m 128 --n 128 --k 3136 --op NT"
    "gemm --m 64 --n 1024 --k 256 --op NT"
    "conv2d --shape conv1 --pass fwd" "conv2d --shape conv1 --pass fwdbwd --dx false" "conv2d --shape conv1 --pass fwdbwd --dx true"
    "conv2d --shape conv2 --pass fwd" "conv2d --shape conv2 --pass fwdbwd" "maxpool --pass fwdbwd"
    "train-step --model mlp --batch 128" "train-step --model cnn --batch 128")
if [[ -n "${CASES:-}" ]]; then mapfile -t cases <<< "$CASES"; fi   # optional subset, one case per line
for r in $(seq 1 "$rounds"); do
    for t in $threads; do
        echo "== round $r, $t thread(s), load: $(cut -d' ' -f1-3 /proc/loadavg)"
        OPENBLAS_NUM_THREADS=$t "$out/sgemm" > "$out/openblas_T${t}_r$r.txt"
        (cd "$anchors" && OMP_WAIT_POLICY=PASSIVE GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 \
            OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/python3 torch_micro.py "$t") > "$out/torch_T${t}_r$r.txt"
        for c in "${cases[@]}"; do
            for build in base new; do
                # shellcheck disable=SC2086
                line="$(dotnet "${cli[$build]}" bench $c --backend simd --threads "$t" --json)" || line='{"failed":true}'
                printf '%s\t%s\t%s\t%s\n' "$build" "$r" "$c" "$line" >> "$out/nativenet.tsv"
            done
        done
    done
done
echo "done: $out"
