#!/usr/bin/env bash
# LSTM/GRU T=50 B=64 128→256 (1 layer): NativeNet Simd against PyTorch 1.13 ("tuned" configuration of the anchors: auto
# OpenBLAS core type, OMP_WAIT_POLICY=PASSIVE, glibc malloc tunables), interleaved case by case so both engines see the same
# machine load; every case is repeated REPS times and the report gives the median of the per-run medians and their ratio.
# Writes the raw lines to bench/results/recurrent/ and the table to bench/results/recurrent.md.
#
# Usage: bench/scripts/recurrent_side_by_side.sh        REPS (default 5), THREADS (default "1 2")
# Needs python3-torch (`dotnet cake --target=ReferenceDeps` installs it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
reps="${REPS:-5}"
threads="${THREADS:-1 2}"
out="$root/bench/results/recurrent"
rm -rf "$out"; mkdir -p "$out"
unset OPENBLAS_CORETYPE   # the box exports Haswell, which halves OpenBLAS's sgemm; compare against the auto (AVX-512) kernel
dotnet build "$root/src/NativeNet.Cli" -c Release -nologo -v quiet
cli=(dotnet "$root/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli.dll")
{ echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"; lscpu | grep -E 'Model name|^CPU\(s\)'; dotnet --version; echo "uptime at start: $(uptime)"; } > "$out/machine.txt"

for rep in $(seq 1 "$reps"); do
    for t in $threads; do
        for cell in lstm gru; do
            for pass in fwd fwdbwd; do
                (cd "$root/bench/scripts" && OMP_WAIT_POLICY=PASSIVE GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 \
                    OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/python3 torch_recurrent.py "$t" "$cell" "$pass") | tee -a "$out/torch.txt"
                line="$("${cli[@]}" bench "$cell" --backend simd --threads "$t" --pass "$pass" --seq 50 --batch 64 --input 128 --hidden 256 --repeats 10 --json)"
                echo "$line" | tee -a "$out/nativenet.jsonl"
            done
        done
    done
done
echo "uptime at end: $(uptime)" >> "$out/machine.txt"

/usr/bin/python3 - "$out" "$root/bench/results/recurrent.md" "$reps" <<'PY'
import json, re, statistics, sys
out, md, reps = sys.argv[1], sys.argv[2], sys.argv[3]
torch, nn = {}, {}
for line in open(f"{out}/torch.txt"):
    m = re.match(r"(\w+) (\w+) T=(\d+) median ([\d.]+) ms min ([\d.]+) ms n=(\d+) other-load ([\d.-]+)", line)
    if m: torch.setdefault((m[1], m[2], int(m[3])), []).append((float(m[4]), float(m[7])))
for line in open(f"{out}/nativenet.jsonl"):
    r = json.loads(line)
    nn.setdefault((r["op"], r["pass"], r["threads"]), []).append((r["median_ms"], r["other_load"]))
machine = open(f"{out}/machine.txt").read().strip()
rows = ["| case | T | NativeNet Simd ms (median of runs) | PyTorch ms | NativeNet ÷ PyTorch | target | per-run NativeNet | per-run PyTorch | other load (nn / torch) |",
        "|---|---|---|---|---|---|---|---|---|"]
targets = {("lstm", "fwdbwd"): 0.8, ("lstm", "fwd"): 1.0, ("gru", "fwdbwd"): 1.0}
for key in sorted(nn, key=lambda k: (k[0] != "lstm", k[1] != "fwd", k[2])):
    if key not in torch: continue
    a = statistics.median(v for v, _ in nn[key]); b = statistics.median(v for v, _ in torch[key])
    tgt = targets.get(key[:2])
    ratio = a / b
    mark = "" if tgt is None else (f"≤ {tgt} {'met' if ratio <= tgt else 'missed'}")
    load = f"{statistics.median(l for _, l in nn[key]):.2f} / {statistics.median(l for _, l in torch[key]):.2f}"
    rows.append(f"| {key[0].upper()} {'fwd+bwd' if key[1] == 'fwdbwd' else 'fwd'} | {key[2]} | {a:.2f} | {b:.2f} | **{ratio:.2f}** | {mark} | "
                f"{' '.join(f'{v:.1f}' for v, _ in nn[key])} | {' '.join(f'{v:.1f}' for v, _ in torch[key])} | {load} |")
text = f"""# Recurrent layers: NativeNet (fused LSTM/GRU) vs PyTorch 1.13, same run

T=50, batch 64, input 128, hidden 256, one layer, Float32; fwd without recording, fwd+bwd backpropagates a fixed upstream
gradient of the output into the weights (input without gradient), as in `../shared/anchors/torch_micro.py`.
NativeNet and PyTorch ran interleaved case by case, {reps} runs each; every figure is the median of the per-run medians.
Ratio < 1 means NativeNet is faster. "other load" is the number of cores other processes used during the measurement
(2-core machine shared with other jobs), from /proc/stat.

Reproduce: `REPS={reps} bench/scripts/recurrent_side_by_side.sh` (one case by hand:
`./nativenet bench lstm --backend simd --threads 1 --pass fwdbwd --seq 50 --batch 64 --input 128 --hidden 256` and
`OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/scripts/torch_recurrent.py 1 lstm fwdbwd`).

```
{machine}
```

""" + "\n".join(rows) + "\n"
open(md, "w").write(text)
print(text)
PY
