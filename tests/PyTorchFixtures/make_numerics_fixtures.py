#!/usr/bin/python3
"""Writes tests/NativeNet.Tests/Fixtures/numerics.safetensors: PyTorch 1.13 answers for special logits.

    /usr/bin/python3 tests/PyTorchFixtures/make_numerics_fixtures.py

Needs Debian's python3-torch (PyTorch 1.13, CPU) and python3-numpy. Each case is a row batch of logits holding
±inf, ±3e38 (a Float32 gap that overflows) or NaN, with class labels. For every case and dtype (f32, f64):
  "CASE/DT/x"              the logits [N, C]
  "CASE/DT/labels"         Int32 labels [N]
  "CASE/DT/ce"             F.cross_entropy (mean), and "CASE/DT/ce_grad" its gradient with respect to x
  "CASE/DT/log_softmax"    F.log_softmax(x, 1) and "CASE/DT/softmax" F.softmax(x, 1)
  "CASE/DT/svm"            F.multi_margin_loss(x, labels) * C: the CS231n hinge Σ_{j≠y} max(0, 1 − s_y + s_j)
                           averaged over rows (PyTorch divides by C as well), and "CASE/DT/svm_grad" its gradient
Metadata "cases": the case names, comma-separated.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from make_fixtures import write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "NativeNet.Tests", "Fixtures", "numerics.safetensors")
INF, NAN = float("inf"), float("nan")

CASES = {
    "neginf_nontarget": ([[0.0, -INF, 1.0], [2.0, 0.5, -INF]], [0, 1]),
    "neginf_target": ([[-INF, 0.0, 1.0]], [0]),
    "posinf_target": ([[INF, 0.0, 1.0]], [0]),
    "posinf_nontarget": ([[0.0, INF, 1.0]], [0]),
    "all_neginf": ([[-INF, -INF, -INF], [0.0, 1.0, 2.0]], [1, 2]),
    "huge_gap": ([[3e38, -3e38, 0.0], [3e38, -3e38, 0.0]], [0, 1]),
    "huge_tie": ([[3e38, 3e38, -3e38]], [0]),
    "neg_huge": ([[-3e38, -3e38, 1.0]], [2]),
    "nan_nontarget": ([[NAN, 0.0, 1.0], [0.0, 1.0, 2.0]], [1, 0]),
    "nan_target": ([[NAN, 0.0, 1.0]], [0]),
    # 17 classes: longer than one SIMD vector of Float32 or Float64, so vector bodies and tails both see the values.
    "wide_mixed": ([[(-INF if j % 5 == 0 else 3e38 if j == 7 else float(j) / 3) for j in range(17)],
                    [(-3e38 if j % 3 == 0 else float(-j)) for j in range(17)]], [7, 4]),
}


def main():
    tensors = {}
    for case, (x, labels) in CASES.items():
        for dt_name, dtype in (("f32", torch.float32), ("f64", torch.float64)):
            key = f"{case}/{dt_name}"
            y = torch.tensor(labels, dtype=torch.int64)
            classes = len(x[0])
            logits = torch.tensor(x, dtype=dtype, requires_grad=True)
            ce = F.cross_entropy(logits, y)
            ce.backward()
            ce_grad = logits.grad.detach().clone()
            logits.grad = None
            svm = F.multi_margin_loss(logits, y) * classes
            svm.backward()
            tensors[f"{key}/x"] = logits.detach().numpy()
            tensors[f"{key}/labels"] = np.array(labels, dtype=np.int32)
            tensors[f"{key}/ce"] = ce.detach().numpy().reshape([])
            tensors[f"{key}/ce_grad"] = ce_grad.numpy()
            tensors[f"{key}/log_softmax"] = F.log_softmax(logits.detach(), 1).numpy()
            tensors[f"{key}/softmax"] = F.softmax(logits.detach(), 1).numpy()
            tensors[f"{key}/svm"] = svm.detach().numpy().reshape([])
            tensors[f"{key}/svm_grad"] = logits.grad.numpy()  # the loss is already scaled by C
    write_safetensors(OUT, tensors, {"cases": ",".join(CASES), "torch": torch.__version__})
    print(f"wrote {OUT}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
