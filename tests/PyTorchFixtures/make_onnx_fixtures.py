#!/usr/bin/python3
"""Writes the ONNX import fixtures for the NativeNet tests: tests/NativeNet.Tests/Fixtures/onnx/{CASE.onnx,expected.safetensors}.

    /usr/bin/python3 tests/PyTorchFixtures/make_onnx_fixtures.py

Needs Debian's python3-torch (PyTorch 1.13, CPU), python3-numpy and python3-onnx (the checker runs on every file).

Every case is a small torch.nn model with the architecture of a NativeNet model-zoo model (narrower, so the files stay
small) or a mix of the layers the importer supports, in eval mode with seeded random parameters (batch norm also gets
random running statistics), exported with torch.onnx.export at opset 17 with constant folding (so PyTorch folds
conv + batch norm and pre-arranges the LSTM/GRU gate blocks, as a user's export would). Keys of expected.safetensors:
  "CASE/input"   the input (float32 images or int32 character indices; the graph's own input is int64 for those)
  "CASE/output"  PyTorch's float32 output for it
Metadata: "cases" (comma-separated).
"""
import os
import sys

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "NativeNet.Tests", "Fixtures", "onnx")


class BasicBlock(nn.Module):
    """torchvision's BasicBlock layout, as NativeNet's ResidualBlock."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class CharLstm(nn.Module):
    """NativeNet's CharLstm: embedding - LSTM - linear, time-major indices [T, N] to logits [T*N, V]."""

    def __init__(self, vocab, emb, hidden, layers, cell=nn.LSTM):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = cell(emb, hidden, layers)
        self.head = nn.Linear(hidden, vocab)
        self.hidden = hidden

    def forward(self, idx):
        out, _ = self.lstm(self.embedding(idx))
        return self.head(out.reshape(-1, self.hidden))


def mlp():  # ModelZoo.Mlp, narrower
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 10))


def cnn():  # ModelZoo.Cnn, narrower
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(392, 16), nn.ReLU(), nn.Linear(16, 10))


def resnet():  # ModelZoo.ResNet, narrower: a small ResNet with identity and projection shortcuts
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         BasicBlock(4, 4, 1), BasicBlock(4, 8, 2), BasicBlock(8, 16, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def layers():  # the other supported layers: pools, activations, dropout, batch norm after a linear layer
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.PReLU(4), nn.AvgPool2d(3, 2, 1),
                         nn.Conv2d(4, 6, 2), nn.LeakyReLU(0.1), nn.MaxPool2d(3, 1, 1), nn.ELU(0.5),
                         nn.Flatten(), nn.Dropout(0.3), nn.Linear(24, 12), nn.BatchNorm1d(12), nn.Tanh(),
                         nn.Linear(12, 8), nn.PReLU(), nn.Linear(8, 5), nn.Sigmoid())


CASES = {
    "mlp": (mlp, lambda g: torch.randn(3, 1, 28, 28, generator=g)),
    "cnn": (cnn, lambda g: torch.randn(3, 1, 28, 28, generator=g)),
    "resnet": (resnet, lambda g: torch.randn(2, 1, 28, 28, generator=g)),
    "layers": (layers, lambda g: torch.randn(4, 3, 9, 9, generator=g)),
    "charlstm": (lambda: CharLstm(11, 6, 8, 2), lambda g: torch.randint(0, 11, (5, 3), generator=g)),
    "chargru": (lambda: CharLstm(11, 6, 8, 2, nn.GRU), lambda g: torch.randint(0, 11, (5, 3), generator=g)),
}


def randomise(model, g):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if p.dim() > 1 else 0.2))
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors = {}
    for seed, (name, (build, make_input)) in enumerate(CASES.items()):
        g = torch.Generator().manual_seed(100 + seed)
        model = build()
        randomise(model, g)
        model.eval()
        x = make_input(g)
        with torch.no_grad():
            y = model(x)
        path = os.path.join(OUT, f"{name}.onnx")
        torch.onnx.export(model, (x,), path, opset_version=17, do_constant_folding=True,
                          input_names=["input"], output_names=["output"])
        onnx.checker.check_model(onnx.load(path), full_check=True)
        tensors[f"{name}/input"] = x.numpy().astype(np.int32) if x.dtype == torch.int64 else x.numpy()
        tensors[f"{name}/output"] = y.numpy()
        print(f"{name}: {os.path.getsize(path)} bytes, ops {sorted({n.op_type for n in onnx.load(path).graph.node})}")
    write_safetensors(os.path.join(OUT, "expected.safetensors"), tensors, {"cases": ",".join(CASES)})


if __name__ == "__main__":
    main()
