#!/usr/bin/env python3
"""Summarises a bench/scripts/parallel_compare.sh run: medians over rounds, before/after and reference ratios (markdown).

Usage: parallel_summary.py RUN_DIR [LAST_ROUND]   (LAST_ROUND: ignore later, e.g. interrupted, rounds)
GEMM: ratio = OpenBLAS best time / NativeNet time (> 1: NativeNet faster), for NativeNet's median and its best call.
Others: ratio = PyTorch median / NativeNet median (> 1: NativeNet faster)."""
import glob, json, os, re, statistics, sys
from collections import defaultdict

run = sys.argv[1]
last_round = int(sys.argv[2]) if len(sys.argv) > 2 else 10**9
nn = defaultdict(list)  # (build, case, T) -> [(median_ms, min_ms)]
for line in open(os.path.join(run, "nativenet.tsv")):
    build, rnd, case, js = line.rstrip("\n").split("\t")
    d = json.loads(js)
    if d.get("failed") or int(rnd) > last_round: continue
    nn[(build, case, d["threads"])].append((d["median_ms"], d["min_ms"]))

blas = defaultdict(list)  # ("M N K OP", T) -> [best_us]
for f in glob.glob(os.path.join(run, "openblas_T*_r*.txt")):
    t = int(re.search(r"_T(\d+)_", f).group(1))
    if int(re.search(r"_r(\d+)", f).group(1)) > last_round: continue
    for l in open(f):
        p = l.split()
        if len(p) >= 5 and p[0].isdigit(): blas[(" ".join(p[:4]), t)].append(float(p[4]))

torch = defaultdict(list)
for f in glob.glob(os.path.join(run, "torch_T*_r*.txt")):
    t = int(re.search(r"_T(\d+)_", f).group(1))
    if int(re.search(r"_r(\d+)", f).group(1)) > last_round: continue
    for l in open(f):
        m = re.match(r"(.*?)\s+T=\d+\s+median\s+([\d.]+) ms", l)
        if m: torch[(m.group(1).strip(), t)].append(float(m.group(2)))

torch_names = {
    "conv2d --shape conv1 --pass fwd": "conv2d conv1 N=64 1->32 28x28 3x3 p1 fwd",
    "conv2d --shape conv1 --pass fwdbwd --dx false": "conv2d conv1 N=64 1->32 28x28 fwd+bwd (dW,db)",
    "conv2d --shape conv1 --pass fwdbwd --dx true": "conv2d conv1 N=64 1->32 28x28 fwd+bwd (dW,db,dX)",
    "conv2d --shape conv2 --pass fwd": "conv2d conv2 N=64 32->64 14x14 3x3 p1 fwd",
    "conv2d --shape conv2 --pass fwdbwd": "conv2d conv2 N=64 32->64 14x14 fwd+bwd (dW,db,dX)",
    "maxpool --pass fwdbwd": "max_pool2d 2x2 N=64 C=32 28x28 fwd+bwd (dX)",
    "train-step --model mlp --batch 128": "train step MLP 784-512-256-10 B=128 (fwd+CE+bwd+Adam)",
    "train-step --model cnn --batch 128": "train step CNN (see models.py) B=128 (fwd+CE+bwd+Adam)",
}

def med(xs): return statistics.median(xs) if xs else float("nan")

cases = []
for (b, c, t) in nn:
    if (c, t) not in cases: cases.append((c, t))
order = list(dict.fromkeys(c for c, _ in cases))
cases.sort(key=lambda ct: (ct[1], order.index(ct[0])))
rounds = max((len(v) for v in nn.values()), default=0)
print(f"Up to {rounds} rounds per figure; figures are medians over the rounds (NativeNet: median of >= 30 calls per round, and best call).\n")
print("| case | T | ref ms | base ms (best) | new ms (best) | new speed-up | base ratio | new ratio (best) |")
print("|---|---|---|---|---|---|---|---|")
for c, t in cases:
    bm = med([x[0] for x in nn[("base", c, t)]]); bb = med([x[1] for x in nn[("base", c, t)]])
    nm = med([x[0] for x in nn[("new", c, t)]]); nb = med([x[1] for x in nn[("new", c, t)]])
    if c.startswith("gemm"):
        m = dict(re.findall(r"--(\w+) (\S+)", c))
        key = f"{m['m']} {m['n']} {m['k']} {m['op']}"
        ref = med(blas[(key, t)]) / 1000.0
        name = f"SGEMM {m['m']}x{m['n']}x{m['k']} {m['op']} (OpenBLAS best)"
    else:
        ref = med(torch[(torch_names.get(c, c), t)])
        name = c + " (PyTorch median)"
    print(f"| {name} | {t} | {ref:.4g} | {bm:.4g} ({bb:.4g}) | {nm:.4g} ({nb:.4g}) | {bm / nm:.2f}x | {ref / bm:.2f} | {ref / nm:.2f} ({ref / nb:.2f}) |")

print("\nScaling of the new build, T=1 median / T=2 median:\n")
print("| case | base T1/T2 | new T1/T2 |")
print("|---|---|---|")
for c in dict.fromkeys(c for c, _ in cases):
    def r(b): return med([x[0] for x in nn[(b, c, 1)]]) / med([x[0] for x in nn[(b, c, 2)]]) if nn[(b, c, 2)] else float("nan")
    print(f"| {c} | {r('base'):.2f} | {r('new'):.2f} |")
