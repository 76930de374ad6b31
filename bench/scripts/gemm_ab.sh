#!/bin/bash
# Interleaved GEMM A/B: a baseline NativeNet CLI build, this checkout's build, OpenBLAS cblas_sgemm (auto core type) and
# torch.mm, shape by shape, ROUNDS rounds at 1 and 2 threads; one line per shape and thread count, then the summary.
# usage: BASE=/tmp/base-worktree bench/scripts/gemm_ab.sh [out.log]   (build both CLIs in Release first; needs gcc,
# libopenblas-dev and /usr/bin/python3 with torch). Writes nothing under bench/results.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
log="${1:-/tmp/gemm_ab.log}"
base="${BASE:?set BASE to a worktree with a Release build of src/NativeNet.Cli}/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli.dll"
new="$root/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli.dll"
sg="$(mktemp -d)/sgemm_shape"
gcc -O2 "$root/bench/scripts/sgemm_shape.c" -o "$sg" -lopenblas
unset OPENBLAS_CORETYPE
shapes=("256 256 256 NN" "512 512 512 NN" "1024 1024 1024 NN" "2048 2048 2048 NN" "128 512 784 NN" "128 512 784 NT" "512 784 128 TN"
    "128 256 512 NT" "256 512 128 TN" "128 512 256 NN" "128 10 256 NT" "64 12544 288 NN" "32 50176 9 NN" "128 128 3136 NT"
    "64 1024 256 NT" "128 128 4096 TN" "384 128 4096 TN")
ms() { dotnet "$1" bench gemm --backend simd --threads "$2" --m "$3" --n "$4" --k "$5" --op "$6" --min-time 0.4 | grep -o 'min_ms=[0-9.]*' | cut -d= -f2; }
: > "$log"
for r in $(seq "${ROUNDS:-3}"); do
    for t in 1 2; do
        echo "# round $r T$t $(uptime)" | tee -a "$log"
        for s in "${shapes[@]}"; do
            set -- $s
            b=$(ms "$base" "$t" "$@"); n=$(ms "$new" "$t" "$@")
            o=$(OPENBLAS_NUM_THREADS=$t "$sg" "$@" | awk '{print $5/1000}')
            p=$(OMP_NUM_THREADS=$t /usr/bin/python3 "$root/bench/scripts/torch_mm.py" "$t" "$s" | awk '{print $5}')
            echo "R$r T$t $1x$2x$3 $4 base_ms $b new_ms $n openblas_ms $o torch_ms $p" | tee -a "$log"
        done
    done
done
python3 "$root/bench/scripts/gemm_ab_summary.py" "$log"
