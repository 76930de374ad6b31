"""Op-by-op profile of PyTorch 1.13's chargpt training step (the model and step of torch_attention.py gpt-step), to compare
with `nativenet bench gpt-step --threads 1 --profile N`. torch.autograd.profiler over N steps after 3 warm-up steps; prints
the step's wall time and the ops by self CPU time per step (forward and autograd backward ops are separate rows).
Run: OMP_NUM_THREADS=1 python3 torch_gpt_profile.py [N=5] [ROWS=30]"""
import sys, time, torch
sys.argv = [sys.argv[0], "1", "none"] + sys.argv[1:]
import importlib.util, os
spec = importlib.util.spec_from_file_location("ta", os.path.join(os.path.dirname(__file__), "torch_attention.py"))
torch.set_num_threads(1)
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
rows = int(sys.argv[4]) if len(sys.argv) > 4 else 30
src = open(spec.origin).read().split('if case == "attention":')[0]
g = {"__name__": "ta"}; exec(compile(src, spec.origin, "exec"), g)
torch.manual_seed(0)
step = g["gpt_step"]()
for _ in range(3): step()
t0 = time.perf_counter()
for _ in range(steps): step()
print(f"gpt-step unprofiled {1e3 * (time.perf_counter() - t0) / steps:.1f} ms per step")
with torch.autograd.profiler.profile() as prof:
    for _ in range(steps): step()
events = prof.key_averages()
total = sum(e.self_cpu_time_total for e in events) / steps / 1e3
print(f"profiled {total:.1f} ms per step (self CPU summed over ops)")
for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:rows]:
    print(f"{e.self_cpu_time_total / steps / 1e3:9.3f} ms {100 * e.self_cpu_time_total / steps / 1e3 / total:5.1f}%  x{e.count / steps:<5g} {e.key}")
