"""PyTorch CPU recurrent anchors (median ms), adapted from ../shared/anchors/torch_micro.py (same bench() loop and shapes) with a
GRU case and --layers. Run: OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=T python3 torch_recurrent.py T [lstm|gru] [fwd|fwdbwd] [LAYERS]
Prints one line per case: '<cell> <pass> T=<threads> median <ms> ms min <ms> ms n=<reps> other-load <cores>'."""
import os, sys, time, statistics, torch, torch.nn as nn

def busy():  # (system-wide busy cpu-s incl. steal, this process cpu-s) -> detect other load on the box
    v = [int(x) for x in open('/proc/stat').readline().split()[1:9]]; t = os.times()
    return (sum(v) - v[3] - v[4]) / os.sysconf('SC_CLK_TCK'), t.user + t.system

T = int(sys.argv[1]) if len(sys.argv) > 1 else 1
cells = [sys.argv[2]] if len(sys.argv) > 2 else ["lstm", "gru"]
passes = [sys.argv[3]] if len(sys.argv) > 3 else ["fwd", "fwdbwd"]
layers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
torch.set_num_threads(T); torch.manual_seed(0)

def bench(name, fn, warm=5, reps=10, min_time=1.0):
    for _ in range(warm): fn()
    ts = []; b0 = busy(); w0 = time.perf_counter(); t_end = w0 + min_time
    while len(ts) < reps or time.perf_counter() < t_end:
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
        if len(ts) >= 1000: break
    b1 = busy(); other = ((b1[0] - b0[0]) - (b1[1] - b0[1])) / (time.perf_counter() - w0)  # cores used by others
    print(f"{name} T={T} median {1e3*statistics.median(ts):.3f} ms min {1e3*min(ts):.3f} ms n={len(ts)} other-load {other:.2f}", flush=True)

xs = torch.randn(50, 64, 128); gl = torch.randn(50, 64, 256)
for cell in cells:
    rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(128, 256, layers)
    if "fwd" in passes:
        with torch.no_grad(): bench(f"{cell} fwd", lambda: rnn(xs))
    if "fwdbwd" in passes:
        def fb():
            rnn.zero_grad(set_to_none=True); rnn(xs)[0].backward(gl)
        bench(f"{cell} fwdbwd", fb)
