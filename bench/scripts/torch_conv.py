"""PyTorch 1.13 CPU anchors for `nativenet bench conv2d --shape depthwise` (median ms), with the bench() loop of torch_recurrent.py:
N=32, 64 channels, 28x28, 3x3, padding 1, groups G (64 = depthwise); fwdbwd computes dW, db and dX.
Run: OMP_NUM_THREADS=T python3 torch_conv.py T [GROUPS]
Prints one line per case: '<case> T=<threads> median <ms> ms min <ms> ms n=<reps> other-load <cores>'."""
import os, sys, time, statistics, torch, torch.nn as nn

def busy():
    v = [int(x) for x in open('/proc/stat').readline().split()[1:9]]; t = os.times()
    return (sum(v) - v[3] - v[4]) / os.sysconf('SC_CLK_TCK'), t.user + t.system

T = int(sys.argv[1]) if len(sys.argv) > 1 else 1
G = int(sys.argv[2]) if len(sys.argv) > 2 else 64
torch.set_num_threads(T); torch.manual_seed(0)

def bench(name, fn, warm=5, reps=30, min_time=1.0):
    for _ in range(warm): fn()
    ts = []; b0 = busy(); w0 = time.perf_counter(); t_end = w0 + min_time
    while len(ts) < reps or time.perf_counter() < t_end:
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
        if len(ts) >= 1000: break
    b1 = busy(); other = ((b1[0] - b0[0]) - (b1[1] - b0[1])) / (time.perf_counter() - w0)
    print(f"{name} T={T} median {1e3*statistics.median(ts):.3f} ms min {1e3*min(ts):.3f} ms n={len(ts)} other-load {other:.2f}", flush=True)

x = torch.randn(32, 64, 28, 28, requires_grad=True); conv = nn.Conv2d(64, 64, 3, padding=1, groups=G)
g = torch.randn(32, 64, 28, 28)
with torch.no_grad(): bench(f"conv2d depthwise groups={G} fwd", lambda: conv(x))
def fb():
    conv.weight.grad = conv.bias.grad = x.grad = None; conv(x).backward(g)
bench(f"conv2d depthwise groups={G} fwdbwd", fb)
