#!/usr/bin/python3
"""Writes the convolution-family fixtures for the NativeNet tests: tests/NativeNet.Tests/Fixtures/conv.safetensors.

    /usr/bin/python3 tests/PyTorchFixtures/make_conv_fixtures.py

Needs Debian's python3-torch (PyTorch 1.13, CPU) and python3-numpy; the safetensors writer and reader are the ones
of make_fixtures.py (imported from beside this file).

The layout is that of make_layer_fixtures.py: every case runs a torch.nn module in float32 on seeded random inputs and
parameters and backpropagates a fixed random upstream gradient (loss = sum(y * upstream)). Keys:
  "CASE/input/x", "CASE/param/NAME", "CASE/upstream/y", "CASE/output/y", "CASE/grad/NAME" (x and every parameter).
  "CASE/input/indices" (Int32) the indices of the max pool of a MaxPoolUnpool case.
Metadata: "cases" (comma-separated) and per case a JSON object: "module" and its constructor arguments.
"MaxPoolUnpool" is MaxPool2d(return_indices=True) followed by MaxUnpool2d with the same window (the indices of the
pool feed the unpool). Every case is also run in float64 from the same values; float32 must agree to 2e-6.
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
OUT = os.path.join(HERE, "..", "NativeNet.Tests", "Fixtures", "conv.safetensors")

CASES = {
    "conv_dilated": {"module": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": [3, 3], "stride": [1, 1], "padding": [2, 2],
                     "dilation": [2, 2], "groups": 1, "x": [2, 3, 7, 7]},
    "conv_grouped": {"module": "Conv2d", "in_channels": 4, "out_channels": 6, "kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1],
                     "dilation": [1, 1], "groups": 2, "x": [2, 4, 5, 5]},
    # (6 + 2 - 3) / 2 leaves a row over: dropped, as PyTorch does.
    "conv_depthwise_s2": {"module": "Conv2d", "in_channels": 4, "out_channels": 4, "kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                          "dilation": [1, 1], "groups": 4, "x": [2, 4, 6, 6]},
    "conv_rect_per_axis": {"module": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": [2, 3], "stride": [2, 1], "padding": [1, 0],
                           "dilation": [1, 2], "groups": 1, "x": [2, 3, 6, 8]},
    "conv_same": {"module": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": [3, 5], "padding": "same",
                  "dilation": [2, 1], "groups": 1, "x": [2, 3, 6, 7]},
    "conv1d_s2_d2": {"module": "Conv1d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1,
                     "dilation": 2, "groups": 1, "x": [2, 3, 10]},
    "conv1d_grouped": {"module": "Conv1d", "in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 1, "padding": 1,
                       "dilation": 1, "groups": 2, "x": [2, 4, 7]},
    "conv1d_same_d3": {"module": "Conv1d", "in_channels": 2, "out_channels": 3, "kernel_size": 5, "stride": 1, "padding": "same",
                       "dilation": 3, "groups": 1, "x": [2, 2, 13]},
    "convtranspose_s2_op1": {"module": "ConvTranspose2d", "in_channels": 3, "out_channels": 4, "kernel_size": [3, 3], "stride": [2, 2],
                             "padding": [1, 1], "output_padding": [1, 1], "groups": 1, "dilation": [1, 1], "x": [2, 3, 4, 4]},
    "convtranspose_grouped_dilated": {"module": "ConvTranspose2d", "in_channels": 4, "out_channels": 6, "kernel_size": [3, 2], "stride": [2, 1],
                                      "padding": [1, 0], "output_padding": [1, 0], "groups": 2, "dilation": [1, 2], "x": [2, 4, 3, 4]},
    "upsample_nearest_x2": {"module": "Upsample", "scale_factor": [2.0, 2.0], "mode": "nearest", "x": [2, 3, 3, 4]},
    "upsample_nearest_size": {"module": "Upsample", "size": [5, 7], "mode": "nearest", "x": [1, 2, 3, 4]},
    "upsample_nearest_scale_1p5": {"module": "Upsample", "scale_factor": [1.5, 2.5], "mode": "nearest", "x": [1, 2, 4, 3]},
    "upsample_bilinear_x2": {"module": "Upsample", "scale_factor": [2.0, 2.0], "mode": "bilinear", "align_corners": False, "x": [2, 2, 3, 4]},
    "upsample_bilinear_align_size": {"module": "Upsample", "size": [5, 7], "mode": "bilinear", "align_corners": True, "x": [1, 2, 3, 4]},
    "upsample_bilinear_down": {"module": "Upsample", "size": [2, 3], "mode": "bilinear", "align_corners": False, "x": [1, 2, 5, 7]},
    "maxunpool_2x2": {"module": "MaxPoolUnpool", "kernel_size": 2, "stride": 2, "x": [2, 3, 4, 6]},
    # overlapping windows: a maximum shared by two windows appears twice among the indices
    "maxunpool_3x3_s2": {"module": "MaxPoolUnpool", "kernel_size": 3, "stride": 2, "x": [1, 2, 7, 7]},
}


def build(hp):
    m = hp["module"]
    if m == "Conv2d":
        return torch.nn.Conv2d(hp["in_channels"], hp["out_channels"], hp["kernel_size"], stride=hp.get("stride", 1), padding=hp["padding"],
                               dilation=hp["dilation"], groups=hp["groups"])
    if m == "Conv1d":
        return torch.nn.Conv1d(hp["in_channels"], hp["out_channels"], hp["kernel_size"], stride=hp["stride"], padding=hp["padding"],
                               dilation=hp["dilation"], groups=hp["groups"])
    if m == "ConvTranspose2d":
        return torch.nn.ConvTranspose2d(hp["in_channels"], hp["out_channels"], hp["kernel_size"], stride=hp["stride"], padding=hp["padding"],
                                        output_padding=hp["output_padding"], groups=hp["groups"], dilation=hp["dilation"])
    if m == "Upsample":
        return torch.nn.Upsample(size=tuple(hp["size"]) if "size" in hp else None, scale_factor=tuple(hp["scale_factor"]) if "scale_factor" in hp else None, mode=hp["mode"],
                                 align_corners=hp.get("align_corners"))
    if m == "MaxPoolUnpool":
        class PoolUnpool(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.pool = torch.nn.MaxPool2d(hp["kernel_size"], hp["stride"], return_indices=True)
                self.unpool = torch.nn.MaxUnpool2d(hp["kernel_size"], hp["stride"])

            def forward(self, x):
                y, idx = self.pool(x)
                self.indices = idx
                return self.unpool(y, idx)
        return PoolUnpool()
    raise ValueError(m)


def run(data, module, dtype):
    x = torch.tensor(data["input"]["x"]).to(dtype).requires_grad_(True)
    module = module.to(dtype)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.tensor(data["param"][name]))
    y = module(x)
    if "y" not in data["upstream"]:
        data["upstream"]["y"] = torch.randn(*y.shape).numpy()
    (y * torch.tensor(data["upstream"]["y"]).to(dtype)).sum().backward()
    grads = {"x": x.grad.numpy()}
    grads.update({name: p.grad.numpy() for name, p in module.named_parameters()})
    return {"y": y.detach().numpy()}, grads


def main():
    tensors, metadata = {}, {}
    for case, hp in CASES.items():
        data = {"input": {"x": torch.randn(*hp["x"]).numpy()}, "param": {}, "upstream": {}}
        if hp["module"] == "MaxPoolUnpool":  # distinct values, so that the maximum of every window is unique
            data["input"]["x"] = torch.randperm(int(np.prod(hp["x"]))).reshape(*hp["x"]).float().div(10).numpy()
        module = build(hp)
        for name, p in module.named_parameters():
            data["param"][name] = p.detach().numpy().copy()
        module64 = copy.deepcopy(module)
        out32, grad32 = run(data, module, torch.float32)
        out64, grad64 = run(data, module64, torch.float64)
        if hp["module"] == "MaxPoolUnpool":  # the pool's indices, fed to NativeNet's unpool
            assert torch.equal(module.indices, module64.indices)
            data["input"]["indices"] = module.indices.int().numpy()
        for group32, group64 in ((out32, out64), (grad32, grad64)):
            for name, a in group32.items():
                b = group64[name]
                assert np.allclose(a, b, rtol=2e-6, atol=2e-6), f"{case}/{name}: float32 torch differs from float64 by {np.abs(a - b).max()}"
        metadata[case] = json.dumps(hp)
        for group in ("input", "param", "upstream"):
            for name, v in data[group].items():
                tensors[f"{case}/{group}/{name}"] = v if v.dtype == np.int32 else v.astype(np.float32)
        for group, values in (("output", out32), ("grad", grad32)):
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
