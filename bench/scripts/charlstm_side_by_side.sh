#!/usr/bin/env bash
# The char-LSTM end to end: `nativenet train --model charlstm` with its defaults (GPL-3 text, embedding 64, LSTM 256,
# 32 streams × chunks of 64, Adam 2e-3, clip 5, 5 epochs, Simd) against bench/scripts/torch_charlstm.py (PyTorch 1.13, the
# same model, data and recipe; "tuned" configuration as in recurrent_side_by_side.sh), interleaved run by run so both see
# the same machine load. The figure is training characters per second over the whole run (evaluation and sampling
# excluded), from metrics.json and from the script's last line. Writes the raw output to bench/results/charlstm/ and the
# table to bench/results/charlstm.md.
#
# Usage: bench/scripts/charlstm_side_by_side.sh        ROUNDS (default 3), THREADS (default "1 2")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds="${ROUNDS:-3}"
threads="${THREADS:-1 2}"
out="$root/bench/results/charlstm"
rm -rf "$out"; mkdir -p "$out"
unset OPENBLAS_CORETYPE
dotnet build "$root/src/NativeNet.Cli" -c Release -nologo -v quiet
cli=(dotnet "$root/src/NativeNet.Cli/bin/Release/net10.0/NativeNet.Cli.dll")
{ echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"; lscpu | grep -E 'Model name|^CPU\(s\)'; dotnet --version; echo "uptime at start: $(uptime)"; } > "$out/machine.txt"

for round in $(seq 1 "$rounds"); do
    for t in $threads; do
        echo "round $round T=$t torch: $(uptime)" >> "$out/uptime.txt"
        (cd "$root/bench/scripts" && OMP_WAIT_POLICY=PASSIVE GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 \
            OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/python3 torch_charlstm.py "$t") | tee "$out/torch-T$t-r$round.txt"
        echo "round $round T=$t nativenet: $(uptime)" >> "$out/uptime.txt"
        "${cli[@]}" train --model charlstm --backend simd --threads "$t" --out "$out/nativenet-T$t-r$round" | tee "$out/nativenet-T$t-r$round.txt"
        rm -f "$out/nativenet-T$t-r$round"/*.safetensors "$out/nativenet-T$t-r$round"/metrics.png "$out/nativenet-T$t-r$round"/metrics.svg
    done
done
echo "uptime at end: $(uptime)" >> "$out/machine.txt"

/usr/bin/python3 - "$out" "$root/bench/results/charlstm.md" "$rounds" "$threads" <<'PY'
import json, re, statistics, sys
out, md, rounds, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(t) for t in sys.argv[4].split()]
rows = ["| threads | NativeNet chars/s (median) | PyTorch chars/s (median) | NativeNet ÷ PyTorch (throughput) | per-round NativeNet | per-round PyTorch | per-round ratio | test acc after 5 epochs (nn / torch) |",
        "|---|---|---|---|---|---|---|---|"]
for t in threads:
    nn, torch, nn_acc, torch_acc = [], [], [], []
    for r in range(1, rounds + 1):
        m = json.load(open(f"{out}/nativenet-T{t}-r{r}/metrics.json"))
        nn.append(m["chars_per_s"]); nn_acc.append(m["final_test_acc"])
        last = open(f"{out}/torch-T{t}-r{r}.txt").read().strip().splitlines()[-1]
        g = re.match(r"charlstm T=\d+ chars_per_s ([\d.]+) train_seconds [\d.]+ test_acc ([\d.]+)", last)
        torch.append(float(g[1])); torch_acc.append(float(g[2]))
    a, b = statistics.median(nn), statistics.median(torch)
    rows.append(f"| {t} | {a:.0f} | {b:.0f} | **{a / b:.2f}** | {' '.join(f'{v:.0f}' for v in nn)} | {' '.join(f'{v:.0f}' for v in torch)} | "
                f"{' '.join(f'{x / y:.2f}' for x, y in zip(nn, torch))} | {statistics.median(nn_acc) * 100:.2f}% / {statistics.median(torch_acc) * 100:.2f}% |")
machine = open(f"{out}/machine.txt").read().strip()
load = open(f"{out}/uptime.txt").read().strip()
text = f"""# Char-LSTM end to end: `nativenet train --model charlstm` vs PyTorch 1.13, same machine, same run

Model: embedding 64 → LSTM 256 (one layer) → linear to the 76 characters of `/usr/share/common-licenses/GPL-3`; data: the first
90% as 32 streams in chunks of 64 characters (truncated BPTT, state carried), the last 10% held out; recipe: Adam lr 2e-3,
global-norm clipping 5, 5 epochs (the train command's charlstm defaults; `bench/scripts/torch_charlstm.py` is the same in
PyTorch). Figure: training characters per second over the whole run (31,616 per epoch), evaluation and sampling excluded
(metrics.json `chars_per_s`, and the script's last line). NativeNet on Simd; the two engines ran interleaved, {rounds} rounds.
Ratio > 1 means NativeNet trains faster.

Reproduce: `ROUNDS={rounds} bench/scripts/charlstm_side_by_side.sh` (by hand: `./nativenet train --model charlstm --threads 1` and
`OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/scripts/torch_charlstm.py 1`).

```
{machine}
{load}
```

""" + "\n".join(rows) + "\n"
open(md, "w").write(text)
print(text)
PY
