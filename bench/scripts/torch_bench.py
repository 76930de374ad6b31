"""The timing loop of the PyTorch anchor scripts, the method of ../shared/anchors/torch_micro.py: `warm` calls, then at
least `reps` calls and `min_time` seconds (at most 1000 calls); prints
'<name> T=<threads> median <ms> ms min <ms> ms n=<calls> other-load <cores>'. Imported by torch_recurrent.py, torch_conv.py,
torch_attention.py (and through it torch_gpt_profile.py) and torch_charlstm.py, which run from this folder."""
import os, statistics, time

def busy():  # (system-wide busy cpu-s incl. steal, this process cpu-s) -> detect other load on the box
    v = [int(x) for x in open('/proc/stat').readline().split()[1:9]]; t = os.times()
    return (sum(v) - v[3] - v[4]) / os.sysconf('SC_CLK_TCK'), t.user + t.system

def other_load(b0, w0):
    """Cores other processes used since busy() gave b0 at perf_counter() time w0."""
    b1 = busy()
    return ((b1[0] - b0[0]) - (b1[1] - b0[1])) / (time.perf_counter() - w0)

def bench(name, fn, threads, warm, reps, min_time=1.0):
    for _ in range(warm): fn()
    ts = []; b0 = busy(); w0 = time.perf_counter(); t_end = w0 + min_time
    while len(ts) < reps or time.perf_counter() < t_end:
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
        if len(ts) >= 1000: break
    other = other_load(b0, w0)
    print(f"{name} T={threads} median {1e3*statistics.median(ts):.3f} ms min {1e3*min(ts):.3f} ms n={len(ts)} other-load {other:.2f}", flush=True)
