"""PyTorch CPU recurrent anchors (median ms), adapted from ../shared/anchors/torch_micro.py (same bench() loop and shapes) with a
GRU case and --layers. Run: OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=T python3 torch_recurrent.py T [lstm|gru] [fwd|fwdbwd] [LAYERS]
Prints one line per case: '<cell> <pass> T=<threads> median <ms> ms min <ms> ms n=<reps> other-load <cores>'."""
import sys, torch, torch.nn as nn
from torch_bench import bench as bench_loop

T = int(sys.argv[1]) if len(sys.argv) > 1 else 1
cells = [sys.argv[2]] if len(sys.argv) > 2 else ["lstm", "gru"]
passes = [sys.argv[3]] if len(sys.argv) > 3 else ["fwd", "fwdbwd"]
layers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
torch.set_num_threads(T); torch.manual_seed(0)

def bench(name, fn): bench_loop(name, fn, T, warm=5, reps=10)

xs = torch.randn(50, 64, 128); gl = torch.randn(50, 64, 256)
for cell in cells:
    rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(128, 256, layers)
    if "fwd" in passes:
        with torch.no_grad(): bench(f"{cell} fwd", lambda: rnn(xs))
    if "fwdbwd" in passes:
        def fb():
            rnn.zero_grad(set_to_none=True); rnn(xs)[0].backward(gl)
        bench(f"{cell} fwdbwd", fb)
