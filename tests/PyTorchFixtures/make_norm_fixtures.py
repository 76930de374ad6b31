#!/usr/bin/python3
"""Writes normalisation, activation and loss fixtures for the NativeNet tests: tests/NativeNet.Tests/Fixtures/norms.safetensors.

    /usr/bin/python3 tests/PyTorchFixtures/make_norm_fixtures.py

Needs Debian's python3-torch (PyTorch 1.13, CPU) and python3-numpy; the safetensors writer and reader are the ones of
make_fixtures.py (imported from beside this file).

Every case runs a torch.nn module or loss in float32 on seeded random inputs, then backpropagates a fixed random upstream
gradient (loss = sum(output * upstream); a scalar output has upstream 1 and none is stored). Keys:
  "CASE/input/NAME"    float inputs that are differentiated (x; the loss input)
  "CASE/const/NAME"    inputs that are not (target, labels (I32), class weights)
  "CASE/param/NAME"    module parameters under PyTorch's names
  "CASE/upstream/y"    upstream gradient of the output (absent for scalars)
  "CASE/output/y"      the output ([1] for a scalar loss)
  "CASE/grad/NAME"     gradient w.r.t. each input and parameter
Metadata: "cases" (comma-separated) and per case a JSON object: "kind" (module or loss), "name" and the arguments.

Fixture quality check, as make_layer_fixtures.py: every case is also run in float64 from the same float32 values and the
float32 results must agree with it to 2e-6 relative plus 2e-6 absolute.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import read_safetensors, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "NativeNet.Tests", "Fixtures", "norms.safetensors")

MODULES = {
    "layernorm_affine": {"name": "LayerNorm", "normalized_shape": [6], "x": [3, 4, 6]},
    "layernorm_2d": {"name": "LayerNorm", "normalized_shape": [3, 4], "eps": 1e-3, "x": [2, 3, 4]},
    "layernorm_no_affine": {"name": "LayerNorm", "normalized_shape": [5], "elementwise_affine": False, "x": [4, 5]},
    "groupnorm": {"name": "GroupNorm", "num_groups": 2, "num_channels": 6, "x": [2, 6, 3, 3]},
    "groupnorm_no_affine": {"name": "GroupNorm", "num_groups": 3, "num_channels": 6, "affine": False, "x": [3, 6, 4]},
    "gelu": {"name": "GELU", "approximate": "none", "x": [4, 7]},
    "gelu_tanh": {"name": "GELU", "approximate": "tanh", "x": [4, 7]},
    "silu": {"name": "SiLU", "x": [4, 7]},
    "softplus": {"name": "Softplus", "beta": 1.0, "threshold": 20.0, "x": [4, 7]},
    "softplus_beta2_threshold1": {"name": "Softplus", "beta": 2.0, "threshold": 1.0, "x": [4, 7]},
}

LOSSES = {
    "nll_mean": {"name": "NllLoss", "reduction": "mean"},
    "nll_weight_ignore_mean": {"name": "NllLoss", "reduction": "mean", "weight": True, "ignore": True},
    "nll_weight_ignore_sum": {"name": "NllLoss", "reduction": "sum", "weight": True, "ignore": True},
    "nll_weight_none": {"name": "NllLoss", "reduction": "none", "weight": True},
    "ce_mean": {"name": "CrossEntropy", "reduction": "mean"},
    "ce_sum": {"name": "CrossEntropy", "reduction": "sum"},
    "ce_weight_mean": {"name": "CrossEntropy", "reduction": "mean", "weight": True},
    "ce_smooth_mean": {"name": "CrossEntropy", "reduction": "mean", "label_smoothing": 0.2},
    "ce_smooth_ignore_mean": {"name": "CrossEntropy", "reduction": "mean", "label_smoothing": 0.1, "ignore": True},
    "ce_weight_smooth_ignore_mean": {"name": "CrossEntropy", "reduction": "mean", "weight": True, "label_smoothing": 0.3, "ignore": True},
    "ce_weight_smooth_ignore_sum": {"name": "CrossEntropy", "reduction": "sum", "weight": True, "label_smoothing": 0.3, "ignore": True},
    "ce_weight_smooth_none": {"name": "CrossEntropy", "reduction": "none", "weight": True, "label_smoothing": 0.25},
    "huber_mean": {"name": "HuberLoss", "reduction": "mean", "delta": 1.0},
    "huber_delta_half_none": {"name": "HuberLoss", "reduction": "none", "delta": 0.5},
    "huber_delta2_sum": {"name": "HuberLoss", "reduction": "sum", "delta": 2.0},
    "smooth_l1_mean": {"name": "SmoothL1Loss", "reduction": "mean", "beta": 1.0},
    "smooth_l1_beta0_sum": {"name": "SmoothL1Loss", "reduction": "sum", "beta": 0.0},
    "smooth_l1_beta2_none": {"name": "SmoothL1Loss", "reduction": "none", "beta": 2.0},
    "kl_batchmean": {"name": "KlDivLoss", "reduction": "batchmean", "log_target": False},
    "kl_mean": {"name": "KlDivLoss", "reduction": "mean", "log_target": False},
    "kl_sum_log_target": {"name": "KlDivLoss", "reduction": "sum", "log_target": True},
    "kl_none": {"name": "KlDivLoss", "reduction": "none", "log_target": False},
    "mse_none": {"name": "MseLoss", "reduction": "none"},
    "mse_sum": {"name": "MseLoss", "reduction": "sum"},
    "l1_mean": {"name": "L1Loss", "reduction": "mean"},
    "bce_none": {"name": "BinaryCrossEntropy", "reduction": "none"},
    "bce_logits_sum": {"name": "BinaryCrossEntropyWithLogits", "reduction": "sum"},
}

ROWS, CLASSES = 6, 5


def build_module(hp):
    n = hp["name"]
    if n == "LayerNorm":
        m = torch.nn.LayerNorm(hp["normalized_shape"], eps=hp.get("eps", 1e-5), elementwise_affine=hp.get("elementwise_affine", True))
    elif n == "GroupNorm":
        m = torch.nn.GroupNorm(hp["num_groups"], hp["num_channels"], affine=hp.get("affine", True))
    elif n == "GELU":
        return torch.nn.GELU(approximate=hp["approximate"])
    elif n == "SiLU":
        return torch.nn.SiLU()
    elif n == "Softplus":
        return torch.nn.Softplus(beta=hp["beta"], threshold=hp["threshold"])
    else:
        raise ValueError(n)
    with torch.no_grad():  # away from the defaults (γ = 1, β = 0), so each one is tested
        for name, p in m.named_parameters():
            p.copy_((1 if name == "weight" else 0) + 0.5 * torch.randn(p.shape))
    return m


def make_module_case(hp):
    data = {"input": {}, "const": {}, "param": {}}
    x = torch.randn(*hp["x"])
    if hp["name"] in ("LayerNorm", "GroupNorm"):
        x = 3 * x + 2  # statistics far from 0 and 1
    else:
        x = 3 * x  # the activations' tails and both sides of the softplus threshold
    data["input"]["x"] = x.numpy()
    module = build_module(hp)
    for name, p in module.named_parameters():
        data["param"][name] = p.detach().numpy().copy()
    return data, module


def make_loss_case(hp):
    data = {"input": {}, "const": {}, "param": {}}
    n = hp["name"]
    if n in ("NllLoss", "CrossEntropy"):
        logits = 2 * torch.randn(ROWS, CLASSES)
        data["input"]["x"] = (F.log_softmax(logits, 1) if n == "NllLoss" else logits).numpy()
        labels = torch.randint(0, CLASSES, (ROWS,), dtype=torch.int32)
        if hp.get("ignore"):
            labels[1] = -100
            labels[4] = -100
        data["const"]["labels"] = labels.numpy()
        if hp.get("weight"):
            data["const"]["weight"] = (0.2 + torch.rand(CLASSES)).numpy()
    elif n == "KlDivLoss":
        data["input"]["x"] = F.log_softmax(torch.randn(ROWS, CLASSES), 1).numpy()
        target = F.softmax(2 * torch.randn(ROWS, CLASSES), 1)
        if hp["log_target"]:
            target = target.log()
        else:
            target[0, 1] = 0  # exact zeros: target·log(target) is 0 there
            target[3, 4] = 0
        data["const"]["target"] = target.numpy()
    elif n == "BinaryCrossEntropy":
        data["input"]["x"] = (0.02 + 0.96 * torch.rand(ROWS, CLASSES)).numpy()
        data["const"]["target"] = torch.rand(ROWS, CLASSES).numpy()
    elif n == "BinaryCrossEntropyWithLogits":
        data["input"]["x"] = (4 * torch.randn(ROWS, CLASSES)).numpy()
        data["const"]["target"] = torch.rand(ROWS, CLASSES).numpy()
    else:  # regression losses: differences on both sides of δ/β
        data["input"]["x"] = (2 * torch.randn(ROWS, CLASSES)).numpy()
        data["const"]["target"] = (2 * torch.randn(ROWS, CLASSES)).numpy()
    return data, None


def run_loss(hp, x, const, dtype):
    n, r = hp["name"], hp["reduction"]
    def c(name):
        v = const[name]
        return torch.tensor(v).long() if v.dtype == np.int32 else torch.tensor(v).to(dtype)
    w = c("weight") if "weight" in const else None
    if n == "NllLoss":
        return F.nll_loss(x, c("labels"), weight=w, reduction=r)
    if n == "CrossEntropy":
        return F.cross_entropy(x, c("labels"), weight=w, reduction=r, label_smoothing=hp.get("label_smoothing", 0.0))
    if n == "HuberLoss":
        return F.huber_loss(x, c("target"), reduction=r, delta=hp["delta"])
    if n == "SmoothL1Loss":
        return F.smooth_l1_loss(x, c("target"), reduction=r, beta=hp["beta"])
    if n == "KlDivLoss":
        return F.kl_div(x, c("target"), reduction=r, log_target=hp["log_target"])
    if n == "MseLoss":
        return F.mse_loss(x, c("target"), reduction=r)
    if n == "L1Loss":
        return F.l1_loss(x, c("target"), reduction=r)
    if n == "BinaryCrossEntropy":
        return F.binary_cross_entropy(x, c("target"), reduction=r)
    if n == "BinaryCrossEntropyWithLogits":
        return F.binary_cross_entropy_with_logits(x, c("target"), reduction=r)
    raise ValueError(n)


def run(hp, data, module, dtype, upstream):
    x = torch.tensor(data["input"]["x"]).to(dtype).requires_grad_(True)
    if module is None:
        y = run_loss(hp, x, data["const"], dtype)
        params = {}
    else:
        module = __import__("copy").deepcopy(module).to(dtype)
        with torch.no_grad():
            for name, p in module.named_parameters():
                p.copy_(torch.tensor(data["param"][name]))
        y = module(x)
        params = dict(module.named_parameters())
    if y.dim() > 0 and "y" not in upstream:
        upstream["y"] = torch.randn(*y.shape).numpy()
    (y * torch.tensor(upstream["y"]).to(dtype)).sum().backward() if y.dim() > 0 else y.backward()
    grads = {"x": x.grad.numpy()}
    grads.update({name: p.grad.numpy() for name, p in params.items()})
    return y.detach().numpy(), grads


def main():
    tensors, metadata = {}, {}
    cases = {**{k: dict(v, kind="module") for k, v in MODULES.items()}, **{k: dict(v, kind="loss") for k, v in LOSSES.items()}}
    for case, hp in cases.items():
        data, module = make_module_case(hp) if hp["kind"] == "module" else make_loss_case(hp)
        upstream = {}
        y32, grad32 = run(hp, data, module, torch.float32, upstream)
        y64, grad64 = run(hp, data, module, torch.float64, upstream)
        assert np.allclose(y32, y64, rtol=2e-6, atol=2e-6), f"{case}/y: float32 torch differs from float64 by {np.abs(y32 - y64).max()}"
        for name, a in grad32.items():
            assert np.allclose(a, grad64[name], rtol=2e-6, atol=2e-6), f"{case}/{name}: float32 torch differs from float64"
        metadata[case] = json.dumps(hp)
        for group in ("input", "const", "param"):
            for name, v in data[group].items():
                tensors[f"{case}/{group}/{name}"] = v.astype(np.float32) if v.dtype != np.int32 else v
        for name, v in upstream.items():
            tensors[f"{case}/upstream/{name}"] = v.astype(np.float32)
        # A scalar loss is stored as [1] (the writer's np.ascontiguousarray makes 0-d arrays 1-d).
        tensors[f"{case}/output/y"] = np.asarray(y32, dtype=np.float32).reshape(y32.shape if y32.ndim else (1,))
        for name, v in grad32.items():
            tensors[f"{case}/grad/{name}"] = v.astype(np.float32)
    metadata["cases"] = ",".join(cases)
    write_safetensors(OUT, tensors, metadata)
    back, _ = read_safetensors(OUT)
    bad = [k for k, v in tensors.items() if not np.array_equal(back[k], v)]
    assert not bad, bad
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
