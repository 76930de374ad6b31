#!/usr/bin/python3
"""Writes learning-rate schedule fixtures for the NativeNet tests from torch.optim.lr_scheduler.

    /usr/bin/python3 tests/PyTorchFixtures/make_schedule_fixtures.py   # regenerates tests/NativeNet.Tests/Fixtures/schedules.safetensors

Needs Debian's python3-torch (PyTorch 1.13, CPU). Each case builds SGD (no momentum) over one parameter, a
scheduler with the hyper-parameters in the metadata, and records param_groups[0]["lr"] before each of STEPS calls of
scheduler.step() (so element t is the rate of epoch or step t). Keys: "CASE/lr" (F64 [STEPS]) and, for
ReduceLROnPlateau, "CASE/metric" (F64 [STEPS], the value passed to step() after epoch t). Metadata: "cases" and per
case a JSON object with "scheduler" and its arguments.
"""
import json
import os

import numpy as np
import torch

from make_fixtures import write_safetensors, read_safetensors

STEPS = 40
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "NativeNet.Tests", "Fixtures", "schedules.safetensors")

CASES = {
    "step": {"scheduler": "StepLR", "lr": 0.1, "step_size": 7, "gamma": 0.5},
    "exponential": {"scheduler": "ExponentialLR", "lr": 0.05, "gamma": 0.9},
    "cosine": {"scheduler": "CosineAnnealingLR", "lr": 0.1, "T_max": 25, "eta_min": 0.001},
    "onecycle": {"scheduler": "OneCycleLR", "max_lr": 0.2, "total_steps": STEPS, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
    "onecycle_short_warmup": {"scheduler": "OneCycleLR", "max_lr": 1.0, "total_steps": STEPS, "pct_start": 0.1, "div_factor": 10.0, "final_div_factor": 100.0},
    "plateau_min": {"scheduler": "ReduceLROnPlateau", "lr": 0.1, "mode": "min", "factor": 0.5, "patience": 2, "threshold": 1e-2, "cooldown": 1, "min_lr": 0.004},
    "plateau_max": {"scheduler": "ReduceLROnPlateau", "lr": 0.2, "mode": "max", "factor": 0.1, "patience": 0, "threshold": 1e-4, "cooldown": 0, "min_lr": 0.0},
}


def metrics(mode):
    """A metric that improves, stalls with noise, improves again: exercises patience, threshold and cooldown."""
    rng = np.random.default_rng(7)
    base = np.concatenate([np.linspace(1.0, 0.6, 8), np.full(14, 0.6), np.linspace(0.6, 0.4, 6), np.full(12, 0.4)])
    values = base + rng.normal(0, 0.003, STEPS)
    return values if mode == "min" else 1 - values


def run(hp):
    p = torch.nn.Parameter(torch.zeros(3))
    name = hp["scheduler"]
    lr = hp.get("lr", 0.1)
    opt = torch.optim.SGD([p], lr=lr)
    args = {k: v for k, v in hp.items() if k not in ("scheduler", "lr")}
    if name == "OneCycleLR":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cycle_momentum=False, anneal_strategy="cos", three_phase=False, **args)
    else:
        sched = getattr(torch.optim.lr_scheduler, name)(opt, **args)
    lrs, values = [], metrics(hp.get("mode", "min")) if name == "ReduceLROnPlateau" else None
    for t in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if name == "ReduceLROnPlateau":
            sched.step(float(values[t]))
        elif name == "OneCycleLR" and t == STEPS - 1:
            break  # stepping past total_steps raises in PyTorch
        else:
            sched.step()
    return np.array(lrs, dtype=np.float64), values


def main():
    tensors, metadata = {}, {"steps": str(STEPS)}
    for case, hp in CASES.items():
        lrs, values = run(hp)
        tensors[f"{case}/lr"] = lrs
        if values is not None:
            tensors[f"{case}/metric"] = np.asarray(values, dtype=np.float64)
        metadata[case] = json.dumps(hp)
    metadata["cases"] = ",".join(CASES)
    write_safetensors(OUT, tensors, metadata)
    back, _ = read_safetensors(OUT)
    assert all(np.array_equal(back[k], v) for k, v in tensors.items())
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes), torch {torch.__version__}")


if __name__ == "__main__":
    main()
