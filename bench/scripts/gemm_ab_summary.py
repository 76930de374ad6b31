# Summarises gemm_ab.sh output: best GFLOP/s per build and reference, per-round OpenBLAS/new time ratios and their median.
import sys, collections, statistics as st
d = collections.defaultdict(list)
for l in open(sys.argv[1]):
    if l.startswith('#'): continue
    f = l.split(); key = (f[1], f[2], f[3]); m, n, k = map(int, f[2].split('x'))
    d[key].append(dict(base=float(f[5]), new=float(f[7]), ob=float(f[9]), pt=float(f[11]), fl=2*m*n*k/1e6))
for (t, s, op), rs in sorted(d.items(), key=lambda x: (x[0][0], x[0][1])):
    g = lambda x: rs[0]['fl'] / min(r[x] for r in rs)
    ratios = ' '.join(f"{r['ob']/r['new']:.2f}" for r in rs)
    print(f"{t} {s:>16} {op}  GF/s best: base {g('base'):6.1f} new {g('new'):6.1f} OpenBLAS {g('ob'):6.1f} torch {g('pt'):6.1f} | new/OB best {g('new')/g('ob'):.2f} (rounds {ratios}, median {st.median(r['ob']/r['new'] for r in rs):.2f}) base/OB {g('base')/g('ob'):.2f} new/torch {g('new')/g('pt'):.2f}")
