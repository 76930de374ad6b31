# torch.mm for shapes given as "M N K OP" arguments after the thread count: min of >= 30 calls and 0.4 s; used by gemm_ab.sh.
import sys, time, torch
t = int(sys.argv[1]); torch.set_num_threads(t)
for s in sys.argv[2:]:
    m, n, k, op = s.split(); m, n, k = int(m), int(n), int(k)
    a = torch.randn(k, m).t() if op[0] == 'T' else torch.randn(m, k)
    b = torch.randn(n, k).t() if op[1] == 'T' else torch.randn(k, n)
    c = torch.empty(m, n)
    for _ in range(5): torch.mm(a, b, out=c)
    best = 1e9; t0 = time.perf_counter(); cnt = 0
    while cnt < 30 or time.perf_counter() - t0 < 0.4:
        s0 = time.perf_counter(); torch.mm(a, b, out=c); best = min(best, time.perf_counter() - s0); cnt += 1
    print(f"torch {m}x{n}x{k} {op} min_ms {best*1e3:.4f} GFLOPs {2*m*n*k/best/1e9:.1f}")
