"""Summarises bench/results/attention/raw.txt (from attention_side_by_side.sh) into bench/results/attention.md: per case the
per-round medians of both engines, their median, and the ratio NativeNet/PyTorch (> 1: NativeNet slower). Earlier runs
(raw-DATE-TIME.txt beside raw.txt, kept by the script) follow under History, newest first, each with its own table and load."""
import glob, os, re, statistics, sys
raw = sys.argv[1] if len(sys.argv) > 1 else "bench/results/attention/raw.txt"
out = sys.argv[2] if len(sys.argv) > 2 else "bench/results/attention.md"

def summarise(path):
    cases, uptimes = {}, []
    for line in open(path):
        line = line.strip()
        if line.startswith(("round", "end")): uptimes.append(line); continue
        if line.startswith("nativenet "):
            f = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            key = f"attention {f['pass']} seq={f['seq']}" if f["op"] == "attention" else "gpt-step"
            cases.setdefault(key, {"nativenet": [], "torch": []})["nativenet"].append(float(f["median_ms"]))
        elif line.startswith("torch "):
            m = re.match(r"torch (.*) T=\d+ median ([\d.]+) ms", line)
            cases.setdefault(m.group(1), {"nativenet": [], "torch": []})["torch"].append(float(m.group(2)))
    rows = ["| case | NativeNet median ms (rounds) | PyTorch 1.13 median ms (rounds) | NativeNet / PyTorch |", "|---|---|---|---|"]
    for key, v in cases.items():
        a, b = statistics.median(v["nativenet"]), statistics.median(v["torch"])
        fmt = lambda xs: ", ".join(f"{x:.2f}" for x in xs)
        rows.append(f"| {key} | **{a:.2f}** ({fmt(v['nativenet'])}) | **{b:.2f}** ({fmt(v['torch'])}) | **{a / b:.2f}** |")
    return rows, uptimes

rows, uptimes = summarise(raw)
history = []
for old in sorted(glob.glob(os.path.join(os.path.dirname(raw), "raw-*.txt")), reverse=True):
    old_rows, old_uptimes = summarise(old)
    history.append(f"### {os.path.basename(old)}\n\n" + "\n".join(old_rows) + "\n\n" + "\n".join("    " + u for u in old_uptimes))
text = f"""# Attention and GPT training step: NativeNet vs PyTorch 1.13 (CPU, 1 thread)

Made by `bench/scripts/attention_side_by_side.sh 3 && python3 bench/scripts/attention_summary.py` (raw lines, commands and
`uptime` per round in `bench/results/attention/raw.txt`). NativeNet: `nativenet bench attention --threads 1 --seq S --pass P`
(SDPA on q, k, v [8, 4, S, 32], causal, fused kernel) and `nativenet bench gpt-step --threads 1 --repeats 5 --min-time 0`
(chargpt: 4 blocks, 4 heads, width 128, context 128, 32 streams, vocabulary 76, AdamW, no clipping). PyTorch:
`OMP_NUM_THREADS=1 python3 bench/scripts/torch_attention.py 1 attention P S` (explicit softmax(QKᵀ/√D + mask)·V; 1.13 has no
F.scaled_dot_product_attention) and `... 1 gpt-step` (the same GPT with nn.MultiheadAttention). The two engines run interleaved,
each case once per round; the figure is the median of the per-round medians.

The machine is shared (2 cores, other jobs running; load averages below), so single figures are noisy; compare ratios within a round.

{chr(10).join(rows)}

Load during the run:

{chr(10).join('    ' + u for u in uptimes)}
""" + ("\n## History (earlier runs, older code)\n\n" + "\n\n".join(history) + "\n" if history else "")
open(out, "w").write(text)
print(text)
