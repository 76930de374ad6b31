#!/usr/bin/python3
"""Writes tensor-op fixtures for the NativeNet tests: tests/NativeNet.Tests/Fixtures/tensorops.safetensors.

    /usr/bin/python3 tests/PyTorchFixtures/make_tensorop_fixtures.py

Needs Debian's python3-torch (PyTorch 1.13, CPU) and python3-numpy. Each case runs one op in float32 on seeded inputs
and backpropagates a seeded upstream gradient (loss = sum(output * upstream)). Keys:
  "CASE/input/x", "CASE/input/src" (float inputs), "CASE/input/index", "CASE/input/mask" (I32)
  "CASE/output/y" (and "CASE/output/indices" (I32) for topk), "CASE/upstream/y", "CASE/grad/x", "CASE/grad/src"
Metadata: "cases" (comma-separated) and per case a JSON object: "op" and its arguments.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import read_safetensors, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "NativeNet.Tests", "Fixtures", "tensorops.safetensors")

g = torch.Generator().manual_seed(1313)


def randn(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def randint(high, *shape):
    return torch.randint(0, high, shape, generator=g, dtype=torch.int64)


def unique_rows(high, rows, cols):
    """An index [rows, cols] whose columns hold distinct values (plain scatter with repeats is unspecified in PyTorch)."""
    return torch.stack([torch.randperm(high, generator=g)[:rows] for _ in range(cols)], dim=1)


CASES = {}


def case(name, meta, inputs, run):
    CASES[name] = (meta, inputs, run)


case("gather_dim1", {"op": "gather", "axis": 1}, {"x": randn(3, 5), "index": randint(5, 2, 4)},
     lambda t, m: torch.gather(t["x"], m["axis"], t["index"]))
case("gather_dim0_neg", {"op": "gather", "axis": -2}, {"x": randn(4, 3), "index": randint(4, 6, 3)},
     lambda t, m: torch.gather(t["x"], m["axis"], t["index"]))
case("scatter_dim0", {"op": "scatter", "axis": 0}, {"x": randn(5, 3), "index": unique_rows(5, 3, 3), "src": randn(3, 3)},
     lambda t, m: torch.scatter(t["x"], m["axis"], t["index"], t["src"]))
case("scatter_add_dim1", {"op": "scatter_add", "axis": 1}, {"x": randn(3, 5), "index": randint(5, 3, 7), "src": randn(3, 7)},
     lambda t, m: torch.scatter_add(t["x"], m["axis"], t["index"], t["src"]))
case("index_select_dim1", {"op": "index_select", "axis": 1}, {"x": randn(3, 5, 2), "index": torch.tensor([4, 0, 4, 2])},
     lambda t, m: torch.index_select(t["x"], m["axis"], t["index"]))
case("masked_fill", {"op": "masked_fill", "value": -2.5}, {"x": randn(3, 4), "mask": torch.tensor([1, 0, 0, 1])},
     lambda t, m: t["x"].masked_fill(t["mask"].bool(), m["value"]))
case("pad_reflect", {"op": "pad", "mode": "reflect", "pad": [2, 1, 3, 0]}, {"x": randn(2, 3, 4, 5)},
     lambda t, m: torch.nn.functional.pad(t["x"], m["pad"], mode="reflect"))
case("pad_constant_crop", {"op": "pad", "mode": "constant", "pad": [1, 2, -1, 1], "value": 0.5}, {"x": randn(2, 3, 4)},
     lambda t, m: torch.nn.functional.pad(t["x"], m["pad"], mode="constant", value=m["value"]))
case("tril_minus1", {"op": "tril", "diagonal": -1}, {"x": randn(2, 4, 5)}, lambda t, m: torch.tril(t["x"], m["diagonal"]))
case("triu_plus2", {"op": "triu", "diagonal": 2}, {"x": randn(2, 4, 5)}, lambda t, m: torch.triu(t["x"], m["diagonal"]))
case("cumsum_dim1", {"op": "cumsum", "axis": 1}, {"x": randn(3, 4, 5)}, lambda t, m: torch.cumsum(t["x"], m["axis"]))
case("topk_largest", {"op": "topk", "k": 3, "axis": 1, "largest": True, "ties": False}, {"x": randn(4, 7)},
     lambda t, m: torch.topk(t["x"], m["k"], m["axis"], m["largest"]))
case("topk_smallest_dim0", {"op": "topk", "k": 2, "axis": 0, "largest": False, "ties": False}, {"x": randn(5, 3)},
     lambda t, m: torch.topk(t["x"], m["k"], m["axis"], m["largest"]))
nan = float("nan")
TIES = torch.tensor([[1, 3, 3, 2, 3, nan, 1, nan], [0, -0.0, 0, 5, 5, 5, -1, -1], [nan, nan, nan, 2, 2, 1, 1, 1]], dtype=torch.float32)
case("topk_ties_nan_largest", {"op": "topk", "k": 5, "axis": 1, "largest": True, "ties": True}, {"x": TIES.clone()},
     lambda t, m: torch.topk(t["x"], m["k"], m["axis"], m["largest"]))
case("topk_ties_nan_smallest", {"op": "topk", "k": 7, "axis": 1, "largest": False, "ties": True}, {"x": TIES.clone()},
     lambda t, m: torch.topk(t["x"], m["k"], m["axis"], m["largest"]))


def main():
    tensors, metadata = {}, {"cases": ",".join(CASES)}
    for name, (meta, inputs, run) in CASES.items():
        leaves = {k: (v.clone().requires_grad_(True) if v.is_floating_point() else v) for k, v in inputs.items()}
        result = run(leaves, meta)
        y, indices = (result.values, result.indices) if meta["op"] == "topk" else (result, None)
        upstream = randn(*y.shape)
        if not meta.get("ties"):
            (y * upstream).sum().backward()
            for k, v in leaves.items():
                if v.is_floating_point():
                    tensors[f"{name}/grad/{k}"] = v.grad.numpy()
        for k, v in inputs.items():
            tensors[f"{name}/input/{k}"] = v.numpy() if v.is_floating_point() else v.numpy().astype(np.int32)
        tensors[f"{name}/output/y"] = y.detach().numpy()
        tensors[f"{name}/upstream/y"] = upstream.numpy()
        if indices is not None:
            tensors[f"{name}/output/indices"] = indices.numpy().astype(np.int32)
        metadata[name] = json.dumps(meta)
    write_safetensors(OUT, tensors, metadata)
    back, _ = read_safetensors(OUT)
    assert set(back) == set(tensors)
    print(f"wrote {len(CASES)} cases, {len(tensors)} tensors to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
