"""PyTorch 1.13 CPU anchors for `nativenet bench conv2d --shape depthwise` (median ms), with the bench() loop of torch_bench.py:
N=32, 64 channels, 28x28, 3x3, padding 1, groups G (64 = depthwise); fwdbwd computes dW, db and dX.
Run: OMP_NUM_THREADS=T python3 torch_conv.py T [GROUPS]
Prints one line per case: '<case> T=<threads> median <ms> ms min <ms> ms n=<reps> other-load <cores>'."""
import sys, torch, torch.nn as nn
from torch_bench import bench as bench_loop

T = int(sys.argv[1]) if len(sys.argv) > 1 else 1
G = int(sys.argv[2]) if len(sys.argv) > 2 else 64
torch.set_num_threads(T); torch.manual_seed(0)

def bench(name, fn): bench_loop(name, fn, T, warm=5, reps=30)

x = torch.randn(32, 64, 28, 28, requires_grad=True); conv = nn.Conv2d(64, 64, 3, padding=1, groups=G)
g = torch.randn(32, 64, 28, 28)
with torch.no_grad(): bench(f"conv2d depthwise groups={G} fwd", lambda: conv(x))
def fb():
    conv.weight.grad = conv.bias.grad = x.grad = None; conv(x).backward(g)
bench(f"conv2d depthwise groups={G} fwdbwd", fb)
