"""PyTorch CPU micro anchors (median ms). Run: sh run_torch.sh  (or: /usr/bin/python3 torch_micro.py THREADS)"""
import sys, time, statistics, torch, torch.nn as nn, torch.nn.functional as F
from models import mlp, cnn, busy
T = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(T); torch.manual_seed(0)

def bench(name, fn, warm=5, reps=30, min_time=1.0):
    for _ in range(warm): fn()
    ts = []; b0 = busy(); w0 = time.perf_counter(); t_end = w0 + min_time
    while len(ts) < reps or time.perf_counter() < t_end:
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
        if len(ts) >= 1000: break
    b1 = busy(); other = ((b1[0] - b0[0]) - (b1[1] - b0[1])) / (time.perf_counter() - w0)  # cores used by others
    print(f"{name:<55s} T={T}  median {1e3*statistics.median(ts):8.3f} ms  min {1e3*min(ts):8.3f} ms  n={len(ts):<4d} other-load {other:4.2f}", flush=True)

def conv_case(tag, N, Ci, Co, H, dx, fwd=True):
    x = torch.randn(N, Ci, H, H, requires_grad=dx); conv = nn.Conv2d(Ci, Co, 3, padding=1)
    g = torch.randn(N, Co, H, H)
    if fwd:
        with torch.no_grad(): bench(f"conv2d {tag} N={N} {Ci}->{Co} {H}x{H} 3x3 p1 fwd", lambda: conv(x))
    def fb():
        conv.weight.grad = conv.bias.grad = x.grad = None; conv(x).backward(g)
    bench(f"conv2d {tag} N={N} {Ci}->{Co} {H}x{H} fwd+bwd (dW,db{',dX' if dx else ''})", fb)

conv_case("conv1", 64, 1, 32, 28, False)
conv_case("conv1", 64, 1, 32, 28, True, fwd=False)
conv_case("conv2", 64, 32, 64, 14, True)
