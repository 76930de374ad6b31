"""Turns the raw files of bench/scripts/side_by_side.sh into the tables of bench/RESULTS.md (between the
'results:begin' and 'results:end' markers) and bench/chart.png/.svg (drawn by `nativenet chart bench`). Nothing here is typed in: every figure comes from
the run's files. Usage: python3 bench/scripts/make_results.py bench/results/side-by-side"""
import csv, glob, json, os, re, sys

run = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

def read(name):
    with open(os.path.join(run, name)) as f:
        return f.read()

# ---- raw figures ----
openblas = {}  # (t, m, n, k, op) -> best GFLOP/s
torch = {}     # (t, name) -> median ms
for path in glob.glob(os.path.join(run, "openblas_T*.txt")):
    t = int(re.search(r"_T(\d+)", path).group(1))
    for line in open(path):
        p = line.split()
        if len(p) >= 6 and p[0].isdigit():
            openblas[(t, int(p[0]), int(p[1]), int(p[2]), p[3])] = float(p[5])
# torch_micro.py (torch_T*.txt) and bench/scripts/torch_recurrent.py (torch_recurrent_T*.txt) print the same line format
for path in glob.glob(os.path.join(run, "torch_T*.txt")) + glob.glob(os.path.join(run, "torch_recurrent_T*.txt")):
    for line in open(path):
        m = re.match(r"(.+?)\s+T=(\d+)\s+median\s+([\d.]+) ms", line)
        if m:
            torch[(int(m.group(2)), m.group(1).strip())] = float(m.group(3))
ours = []      # (json, command)
for line in read("nativenet.jsonl").splitlines():
    text, command = line.split("\t")
    ours.append((json.loads(text), command))

def find(**want):
    for r, c in ours:
        if all(r.get(k) == v for k, v in want.items()):
            return r, c
    return None, None

threads = sorted({r["threads"] for r, _ in ours if r["backend"] == "simd"})
fmt = lambda v, d=2, unit="": "–" if v is None else f"{v:,.{d}f}{unit}"
lines = []
chart = []  # (family, label, ratio vs reference) for the chart

# ---- GEMM ----
lines += ["### GEMM (FP32, row-major): NativeNet Simd vs OpenBLAS `cblas_sgemm`", "",
          "Simd figures: median of ≥ 30 calls (and best); OpenBLAS: best of 7 (its anchor's method). "
          "Ratio = Simd best ÷ OpenBLAS best, > 1 means NativeNet is faster.", "",
          "| M×N×K | op | T | naive GFLOP/s | simd GFLOP/s median | simd best | OpenBLAS best | ratio | command |",
          "|---|---|---|---|---|---|---|---|---|"]
for r, c in ours:
    if r["op"] != "gemm" or r["backend"] != "simd":
        continue
    t, m, n, k, op = r["threads"], r["m"], r["n"], r["k"], r["gemm_op"]
    best = 2.0 * m * n * k / (r["min_ms"] * 1e6)
    ref = openblas.get((t, m, n, k, op))
    naive, _ = find(op="gemm", backend="naive", m=m, n=n, k=k, gemm_op=op)
    ratio = best / ref if ref else None
    lines.append(f"| {m}×{n}×{k} | {op} | {t} | {fmt(naive and naive['gflops'])} | {fmt(r['gflops'])} | {fmt(best)} | "
                 f"{fmt(ref)} | **{fmt(ratio)}** | `{c}` |")
    if (m, n, k) in ((1024, 1024, 1024), (128, 512, 784), (64, 12544, 288)) and ratio:
        chart.append(("GEMM vs OpenBLAS", f"{m}×{n}×{k} {op} T{t}", ratio))

# ---- layers and training steps vs PyTorch ----
cases = [  # (label, selector, torch name)
    ("conv2d conv1 1→32 28×28 fwd", dict(op="conv2d", shape="conv1", **{"pass": "fwd"}), "conv2d conv1 N=64 1->32 28x28 3x3 p1 fwd"),
    ("conv2d conv1 fwd+bwd (dW,db)", dict(op="conv2d", shape="conv1", dx="no", **{"pass": "fwdbwd"}), "conv2d conv1 N=64 1->32 28x28 fwd+bwd (dW,db)"),
    ("conv2d conv1 fwd+bwd (dW,db,dX)", dict(op="conv2d", shape="conv1", dx="yes", **{"pass": "fwdbwd"}), "conv2d conv1 N=64 1->32 28x28 fwd+bwd (dW,db,dX)"),
    ("conv2d conv2 32→64 14×14 fwd", dict(op="conv2d", shape="conv2", **{"pass": "fwd"}), "conv2d conv2 N=64 32->64 14x14 3x3 p1 fwd"),
    ("conv2d conv2 fwd+bwd (dW,db,dX)", dict(op="conv2d", shape="conv2", dx="yes", **{"pass": "fwdbwd"}), "conv2d conv2 N=64 32->64 14x14 fwd+bwd (dW,db,dX)"),
    ("max-pool 2×2 N=64 C=32 28×28 fwd", dict(op="maxpool", **{"pass": "fwd"}), "max_pool2d 2x2 N=64 C=32 28x28 fwd"),
    ("max-pool fwd+bwd", dict(op="maxpool", **{"pass": "fwdbwd"}), "max_pool2d 2x2 N=64 C=32 28x28 fwd+bwd (dX)"),
    ("train step MLP B=128", dict(op="train-step", model="mlp"), "train step MLP 784-512-256-10 B=128 (fwd+CE+bwd+Adam)"),
    ("train step CNN B=128", dict(op="train-step", model="cnn"), "train step CNN (see models.py) B=128 (fwd+CE+bwd+Adam)"),
    ("LSTM T=50 B=64 128→256 fwd", dict(op="lstm", **{"pass": "fwd"}), "lstm fwd"),
    ("LSTM fwd+bwd (weights)", dict(op="lstm", **{"pass": "fwdbwd"}), "lstm fwdbwd"),
    ("GRU T=50 B=64 128→256 fwd", dict(op="gru", **{"pass": "fwd"}), "gru fwd"),
    ("GRU fwd+bwd (weights)", dict(op="gru", **{"pass": "fwdbwd"}), "gru fwdbwd"),
]
lines += ["", "### Layers and training steps: NativeNet naive / Simd vs PyTorch 1.13 (tuned), median ms", "",
          "Ratio = PyTorch ÷ Simd, > 1 means NativeNet is faster. The naive backend is single-threaded.", "",
          "| case | T | naive ms | simd ms | simd speed-up over naive | PyTorch ms | ratio | command |",
          "|---|---|---|---|---|---|---|---|"]
for label, sel, tname in cases:
    naive, _ = find(backend="naive", **sel)
    for t in threads:
        r, c = find(backend="simd", threads=t, **sel)
        if r is None:
            continue
        ref = torch.get((t, tname))
        ratio = ref / r["median_ms"] if ref else None
        speedup = naive["median_ms"] / r["median_ms"] if naive else None
        lines.append(f"| {label} | {t} | {fmt(naive and naive['median_ms'])} | {fmt(r['median_ms'], 3)} | "
                     f"{fmt(speedup, 1, '×')} | {fmt(ref, 3)} | **{fmt(ratio)}** | `{c}` |")
        if ratio:
            family = {"train-step": "train step vs PyTorch", "lstm": "recurrent vs PyTorch", "gru": "recurrent vs PyTorch"}.get(sel["op"], f"{sel['op']} vs PyTorch")
            chart.append((family, f"{label} T{t}", ratio))

# ---- BenchmarkDotNet: elementwise and softmax ----
def to_us(text):
    m = re.match(r"([\d,.]+)\s*(ns|us|μs|ms|s)", text.strip())
    if not m:
        return None
    v = float(m.group(1).replace(",", ""))
    return v * {"ns": 1e-3, "us": 1, "μs": 1, "ms": 1e3, "s": 1e6}[m.group(2)]

for path in sorted(glob.glob(os.path.join(run, "bdn", "results", "*-report.csv"))):
    family = re.sub(r"-report\.csv$", "", os.path.basename(path)).split(".")[-1]
    rows = list(csv.DictReader(open(path)))
    size_key = "Size" if rows and "Size" in rows[0] else "Shape"
    table = {}
    for row in rows:
        table[(row["Method"], row[size_key], row["Backend"], row["Threads"])] = to_us(row["Mean"])
    lines += ["", f"### {family} (BenchmarkDotNet, mean µs)", "",
              f"| method | {size_key.lower()} | naive | simd T1 | simd T2 | speed-up T1 | speed-up T2 |", "|---|---|---|---|---|---|---|"]
    keys = sorted({(m, s) for (m, s, _, _) in table}, key=lambda ms: (ms[0], float(ms[1].split("x")[0]) * (float(ms[1].split("x")[1]) if "x" in ms[1] else 1)))
    for method, size in keys:
        nv = table.get((method, size, "naive", "1"))
        s1, s2 = table.get((method, size, "simd", "1")), table.get((method, size, "simd", "2"))
        sp1 = nv / s1 if nv and s1 else None
        sp2 = nv / s2 if nv and s2 else None
        lines.append(f"| {method} | {size} | {fmt(nv, 1)} | {fmt(s1, 1)} | {fmt(s2, 1)} | {fmt(sp1, 1, '×')} | {fmt(sp2, 1, '×')} |")
    if keys:
        method, size = keys[-1]
        nv, s1 = table.get((method, size, "naive", "1")), table.get((method, size, "simd", "1"))
        if nv and s1:
            chart.append((f"{family}: simd vs naive", f"{method} {size} T1", nv / s1))
    lines.append(f"\nCommand: `cd bench/results/side-by-side && dotnet run --project ../../NativeNet.Bench -c Release -- --filter '*{family}*'`")

machine = read("machine.txt").strip().splitlines()
header = ["Run: " + machine[0].replace("date: ", "") + "; " + "; ".join(l.split(":", 1)[1].strip() for l in machine[1:-1]) +
          f"; .NET SDK {machine[-1]}.", "", "Reproduce everything below (about 15 minutes): `bench/scripts/side_by_side.sh`.", ""]
results_md = os.path.join(root, "bench", "RESULTS.md")
text = open(results_md).read()
begin, end = "<!-- results:begin -->", "<!-- results:end -->"
generated = "\n".join(header + lines)
text = text[: text.index(begin) + len(begin)] + "\n" + generated + "\n" + text[text.index(end):]
with open(results_md, "w") as f:
    f.write(text)

# ---- chart: one horizontal bar per ratio, log scale, 1 = parity; drawn by `nativenet chart bench` (ScottPlot) ----
import subprocess
data = os.path.join(root, "bench", "chart-data.json")
with open(data, "w") as f:
    json.dump({"title": "NativeNet speed relative to the reference, per op family",
               "bars": [{"family": fam, "label": label, "ratio": round(ratio, 4)} for fam, label, ratio in chart]}, f, indent=1)
    f.write("\n")
subprocess.run([os.path.join(root, "nativenet"), "chart", "bench", "--data", data, "--out", os.path.join(root, "bench", "chart")], check=True)
print(f"wrote {results_md}, bench/chart-data.json and bench/chart.png/.svg ({len(chart)} bars)")
