#!/usr/bin/python3
"""Writes layer fixtures for the NativeNet tests: tests/NativeNet.Tests/Fixtures/layers.safetensors.

    /usr/bin/python3 tests/PyTorchFixtures/make_layer_fixtures.py

Needs Debian's python3-torch (PyTorch 1.13, CPU) and python3-numpy; the safetensors writer and reader are the ones
of make_fixtures.py (imported from beside this file).

Every case runs a torch.nn module in float32 on seeded random inputs and parameters, then backpropagates a fixed
random upstream gradient (loss = sum(output * upstream); for several outputs, the sum over all of them). Keys:
  "CASE/input/NAME"   inputs (x; h0 and c0 for the recurrent layers; labels (I32) for the loss)
  "CASE/param/NAME"   parameters under PyTorch's names (weight, bias, weight_ih_l0, ...)
  "CASE/buffer/NAME"  buffers before the step (running_mean, running_var)
  "CASE/output/NAME"  outputs (y; output, h_n, c_n; loss)
  "CASE/upstream/NAME" upstream gradient of each output (absent for the scalar loss, whose upstream is 1)
  "CASE/grad/NAME"    gradient of the loss w.r.t. each input and parameter (NAME as under input/ and param/)
  "CASE/after/NAME"   buffers after the step (batch norm in training mode)
Metadata: "cases" (comma-separated) and per case a JSON object: "module" and its constructor arguments.

Fixture quality check: every case is also run in float64 from the same (float32) values, and the float32 results
must agree with it to 2e-6 relative (plus 2e-6 absolute); the script fails otherwise. So the stored references
carry at most that error, well inside the 1e-5 tolerance of the C# tests.
"""
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import read_safetensors, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "NativeNet.Tests", "Fixtures", "layers.safetensors")

CASES = {
    "linear": {"module": "Linear", "in_features": 5, "out_features": 3, "x": [4, 5]},
    "conv_3x3_s1_p1": {"module": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 1, "x": [2, 3, 5, 5]},
    # (6 + 2 - 3) / 2 leaves a row over: PyTorch's floor output size, 3x3.
    "conv_3x3_s2_p1": {"module": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "x": [2, 3, 6, 6]},
    "conv_5x5_s1_p0": {"module": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 5, "stride": 1, "padding": 0, "x": [2, 3, 7, 7]},
    "maxpool_2x2_s2": {"module": "MaxPool2d", "kernel_size": 2, "stride": 2, "padding": 0, "x": [2, 3, 6, 6]},
    "maxpool_3x3_s2": {"module": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 0, "x": [2, 3, 7, 7]},
    "maxpool_3x3_s2_p1": {"module": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "x": [2, 3, 6, 6]},
    "avgpool_2x2_s2": {"module": "AvgPool2d", "kernel_size": 2, "stride": 2, "padding": 0, "x": [2, 3, 6, 6]},
    # count_include_pad=True (PyTorch's default): padding counts as zeros.
    "avgpool_3x3_s2_p1": {"module": "AvgPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "x": [2, 3, 6, 6]},
    "batchnorm2d_train": {"module": "BatchNorm2d", "num_features": 3, "eps": 1e-5, "momentum": 0.1, "training": True, "x": [4, 3, 3, 3]},
    "batchnorm2d_eval": {"module": "BatchNorm2d", "num_features": 3, "eps": 1e-5, "momentum": 0.1, "training": False, "x": [4, 3, 3, 3]},
    "lstm": {"module": "LSTM", "input_size": 4, "hidden_size": 6, "num_layers": 2, "x": [5, 3, 4]},
    "gru": {"module": "GRU", "input_size": 4, "hidden_size": 6, "num_layers": 2, "x": [5, 3, 4]},
    "softmax_cross_entropy": {"module": "SoftmaxCrossEntropy", "classes": 4, "x": [5, 4]},
}


def build(hp):
    m = hp["module"]
    if m == "Linear":
        return torch.nn.Linear(hp["in_features"], hp["out_features"])
    if m == "Conv2d":
        return torch.nn.Conv2d(hp["in_channels"], hp["out_channels"], hp["kernel_size"], stride=hp["stride"], padding=hp["padding"])
    if m == "MaxPool2d":
        return torch.nn.MaxPool2d(hp["kernel_size"], stride=hp["stride"], padding=hp["padding"])
    if m == "AvgPool2d":
        return torch.nn.AvgPool2d(hp["kernel_size"], stride=hp["stride"], padding=hp["padding"])
    if m == "BatchNorm2d":
        bn = torch.nn.BatchNorm2d(hp["num_features"], eps=hp["eps"], momentum=hp["momentum"])
        with torch.no_grad():  # away from the defaults (γ = 1, β = 0, mean 0, variance 1), so each one is tested
            bn.weight.copy_(1 + 0.5 * torch.randn(hp["num_features"]))
            bn.bias.copy_(0.5 * torch.randn(hp["num_features"]))
            bn.running_mean.copy_(0.5 * torch.randn(hp["num_features"]))
            bn.running_var.copy_(0.5 + torch.rand(hp["num_features"]))
        return bn.train(hp["training"])
    if m == "LSTM":
        return torch.nn.LSTM(hp["input_size"], hp["hidden_size"], hp["num_layers"])
    if m == "GRU":
        return torch.nn.GRU(hp["input_size"], hp["hidden_size"], hp["num_layers"])
    raise ValueError(m)


def make_case(hp):
    """Draws the inputs, parameters and upstream gradients of one case (float32 numpy arrays)."""
    data = {"input": {}, "param": {}, "buffer": {}, "upstream": {}}
    data["input"]["x"] = torch.randn(*hp["x"]).numpy()
    m = hp["module"]
    if m == "SoftmaxCrossEntropy":
        data["input"]["labels"] = torch.randint(0, hp["classes"], (hp["x"][0],), dtype=torch.int32).numpy()
        return data, None
    module = build(hp)
    for name, p in module.named_parameters():
        data["param"][name] = p.detach().numpy().copy()
    for name, b in module.named_buffers():
        if b.dtype.is_floating_point:
            data["buffer"][name] = b.detach().numpy().copy()
    if m in ("LSTM", "GRU"):
        state = [hp["num_layers"], hp["x"][1], hp["hidden_size"]]
        data["input"]["h0"] = torch.randn(*state).numpy()
        if m == "LSTM":
            data["input"]["c0"] = torch.randn(*state).numpy()
    return data, module


def run(hp, data, module, dtype):
    """Forward and backward in dtype from the stored float32 values; returns (outputs, grads, buffers after), as numpy."""
    inputs = {k: torch.tensor(v).to(dtype) if v.dtype == np.float32 else torch.tensor(v).long() for k, v in data["input"].items()}
    for k, v in inputs.items():
        if v.is_floating_point():
            v.requires_grad_(True)
    if module is None:  # the loss
        loss = torch.nn.functional.cross_entropy(inputs["x"], inputs["labels"])
        loss.backward()
        return {"loss": loss.detach().numpy().reshape(1)}, {"x": inputs["x"].grad.numpy()}, {}
    module = module.to(dtype)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.tensor(data["param"][name]))
        for name, b in module.named_buffers():
            if name in data["buffer"]:
                b.copy_(torch.tensor(data["buffer"][name]))
    x = inputs["x"]
    if hp["module"] == "LSTM":
        out, (h_n, c_n) = module(x, (inputs["h0"], inputs["c0"]))
        outputs = {"output": out, "h_n": h_n, "c_n": c_n}
    elif hp["module"] == "GRU":
        out, h_n = module(x, inputs["h0"])
        outputs = {"output": out, "h_n": h_n}
    else:
        outputs = {"y": module(x)}
    for name, y in outputs.items():
        if name not in data["upstream"]:
            data["upstream"][name] = torch.randn(*y.shape).numpy()
    loss = sum((y * torch.tensor(data["upstream"][name]).to(dtype)).sum() for name, y in outputs.items())
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in inputs.items() if v.is_floating_point()}
    grads.update({name: p.grad.numpy() for name, p in module.named_parameters()})
    after = {name: b.detach().numpy().copy() for name, b in module.named_buffers() if name in data["buffer"]} if module.training else {}
    return {k: v.detach().numpy() for k, v in outputs.items()}, grads, after


def main():
    tensors, metadata = {}, {}
    for case, hp in CASES.items():
        data, module = make_case(hp)
        module64 = copy.deepcopy(module)
        out32, grad32, after32 = run(hp, data, module, torch.float32)
        out64, grad64, after64 = run(hp, data, module64, torch.float64)
        for group32, group64 in ((out32, out64), (grad32, grad64), (after32, after64)):
            for name, a in group32.items():
                b = group64[name]
                assert np.allclose(a, b, rtol=2e-6, atol=2e-6), f"{case}/{name}: float32 torch differs from float64 by {np.abs(a - b).max()}"
        metadata[case] = json.dumps(hp)
        for group in ("input", "param", "buffer", "upstream"):
            for name, v in data[group].items():
                tensors[f"{case}/{group}/{name}"] = v.astype(np.float32) if v.dtype != np.int32 else v
        for group, values in (("output", out32), ("grad", grad32), ("after", after32)):
            for name, v in values.items():
                tensors[f"{case}/{group}/{name}"] = v.astype(np.float32)
    metadata["cases"] = ",".join(CASES)
    write_safetensors(OUT, tensors, metadata)
    back, _ = read_safetensors(OUT)
    assert all(np.array_equal(back[k], v) for k, v in tensors.items())
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
