#!/usr/bin/python3
"""Writes attention fixtures for the NativeNet tests: tests/NativeNet.Tests/Fixtures/attention.safetensors.

    /usr/bin/python3 tests/PyTorchFixtures/make_attention_fixtures.py

Needs Debian's python3-torch (PyTorch 1.13, CPU) and python3-numpy. PyTorch 1.13 has no F.scaled_dot_product_attention,
so the "sdpa_*" cases compute it by its definition, softmax(q k^T / sqrt(D) + mask) v, with torch autograd for the
gradients (mask: int32 1 = attend, as PyTorch 2's boolean mask, or float added; causal = tril, top-left aligned). The
"mha_*" cases run torch.nn.MultiheadAttention itself (need_weights=False); its masks are stored as int32 with
PyTorch's bool meaning (1 = True = the key is ignored). Loss = sum(output * upstream). Keys:
  "CASE/input/NAME"    q, k, v (sdpa) or query, key, value (mha), and the masks
  "CASE/param/NAME"    the module's parameters under PyTorch's names
  "CASE/output/y"      the output; "CASE/upstream/y" its upstream gradient
  "CASE/grad/NAME"     gradients of the loss w.r.t. every float input and parameter
Metadata: "cases" and per case a JSON object of its settings.
Every case is also run in float64 from the same float32 values; the float32 results must agree to 2e-6.
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
OUT = os.path.join(HERE, "..", "NativeNet.Tests", "Fixtures", "attention.safetensors")

CASES = {
    "sdpa_plain": {"kind": "sdpa", "q": [2, 3, 5, 4], "k": [2, 3, 7, 4], "v": [2, 3, 7, 6]},
    "sdpa_causal": {"kind": "sdpa", "causal": True, "q": [2, 2, 6, 4], "k": [2, 2, 6, 4], "v": [2, 2, 6, 4]},
    "sdpa_bool_mask": {"kind": "sdpa", "mask": "bool", "mask_shape": [2, 1, 5, 7], "q": [2, 3, 5, 4], "k": [2, 3, 7, 4], "v": [2, 3, 7, 4]},
    "sdpa_float_mask": {"kind": "sdpa", "mask": "float", "mask_shape": [5, 7], "q": [2, 5, 4], "k": [2, 7, 4], "v": [2, 7, 3]},
    "mha_batch_first_masks": {"kind": "mha", "embed_dim": 8, "num_heads": 2, "batch_first": True, "query": [2, 5, 8], "key": [2, 7, 8],
                              "key_padding_mask": True, "attn_mask": "bool"},
    "mha_seq_first_float_mask": {"kind": "mha", "embed_dim": 12, "num_heads": 3, "batch_first": False, "query": [6, 2, 12], "key": [6, 2, 12],
                                 "self": True, "attn_mask": "float_causal"},
}


def bool_mask(shape, gen, keep_one_axis):
    """Random int32 mask of 0/1 with at least one 1 (kept) along the last axis."""
    m = (torch.rand(*shape, generator=gen) < 0.6).to(torch.int32)
    m[..., 0] = 1
    return m


def sdpa(q, k, v, mask, causal):
    s = q @ k.transpose(-2, -1) / (q.shape[-1] ** 0.5)
    if mask is not None:
        s = s + (torch.where(mask != 0, 0.0, float("-inf")).to(s.dtype) if mask.dtype == torch.int32 else mask.to(s.dtype))
    if causal:
        tq, tk = s.shape[-2], s.shape[-1]
        s = s.masked_fill(~torch.ones(tq, tk, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def make_case(name, hp, seed):
    gen = torch.Generator().manual_seed(seed)
    data = {"input": {}, "param": {}}
    module = None
    if hp["kind"] == "sdpa":
        for n in ("q", "k", "v"):
            data["input"][n] = torch.randn(*hp[n], generator=gen)
        if hp.get("mask") == "bool":
            data["input"]["mask"] = bool_mask(hp["mask_shape"], gen, True)
        elif hp.get("mask") == "float":
            data["input"]["mask"] = torch.randn(*hp["mask_shape"], generator=gen)
    else:
        torch.manual_seed(seed)
        module = torch.nn.MultiheadAttention(hp["embed_dim"], hp["num_heads"], batch_first=hp["batch_first"])
        # Non-zero biases so their gradients and effect are tested.
        with torch.no_grad():
            module.in_proj_bias.normal_(0, 0.5, generator=gen)
            module.out_proj.bias.normal_(0, 0.5, generator=gen)
        data["input"]["query"] = torch.randn(*hp["query"], generator=gen)
        if not hp.get("self"):
            data["input"]["key"] = torch.randn(*hp["key"], generator=gen)
            data["input"]["value"] = torch.randn(*hp["key"], generator=gen)
        bf = hp["batch_first"]
        b = hp["query"][0 if bf else 1]
        l = hp["query"][1 if bf else 0]
        s = hp["key"][1 if bf else 0]
        if hp.get("key_padding_mask"):
            m = (torch.rand(b, s, generator=gen) < 0.3).to(torch.int32)
            m[:, 0] = 0
            data["input"]["key_padding_mask"] = m
        if hp.get("attn_mask") == "bool":
            m = (torch.rand(l, s, generator=gen) < 0.3).to(torch.int32)
            m[:, 0] = 0
            data["input"]["attn_mask"] = m
        elif hp.get("attn_mask") == "float_causal":
            data["input"]["attn_mask"] = torch.triu(torch.full((l, s), float("-inf")), diagonal=1) + 0.1 * torch.randn(l, s, generator=gen)
        data["param"] = {n: p.detach().clone() for n, p in module.named_parameters()}
    return data, module


def run(hp, data, module, dtype, upstream):
    inputs = {n: (t.detach().to(dtype).clone().requires_grad_() if t.is_floating_point() and "mask" not in n else t.to(dtype) if t.is_floating_point() else t)
              for n, t in data["input"].items()}
    if hp["kind"] == "sdpa":
        y = sdpa(inputs["q"], inputs["k"], inputs["v"], inputs.get("mask"), hp.get("causal", False))
        params = {}
    else:
        module = module.to(dtype)
        q = inputs["query"]
        k = inputs.get("key", q)
        v = inputs.get("value", q)
        kpm = inputs.get("key_padding_mask")
        am = inputs.get("attn_mask")
        y, _ = module(q, k, v, key_padding_mask=None if kpm is None else kpm.bool(),
                      attn_mask=None if am is None else (am.bool() if am.dtype == torch.int32 else am), need_weights=False)
        params = dict(module.named_parameters())
    if upstream is None:
        upstream = torch.randn(*y.shape, generator=torch.Generator().manual_seed(99))
    (y * upstream.to(dtype)).sum().backward()
    grads = {n: t.grad.numpy() for n, t in inputs.items() if t.requires_grad}
    grads.update({n: p.grad.numpy() for n, p in params.items()})
    return y.detach().numpy(), grads, upstream


def main():
    tensors, metadata = {}, {}
    for seed, (case, hp) in enumerate(CASES.items()):
        data, module = make_case(case, hp, 100 + seed)
        y32, g32, upstream = run(hp, data, copy.deepcopy(module), torch.float32, None)
        y64, g64, _ = run(hp, data, copy.deepcopy(module), torch.float64, upstream)
        assert np.allclose(y32, y64, rtol=2e-6, atol=2e-6), f"{case}/y: float32 differs from float64 by {np.abs(y32 - y64).max()}"
        for n, a in g32.items():
            assert np.allclose(a, g64[n], rtol=2e-6, atol=2e-6), f"{case}/{n}: float32 differs from float64 by {np.abs(a - g64[n]).max()}"
        metadata[case] = json.dumps(hp)
        for group in ("input", "param"):
            for n, t in data[group].items():
                a = t.numpy()
                tensors[f"{case}/{group}/{n}"] = a.astype(np.int32) if a.dtype == np.int32 else a.astype(np.float32)
        tensors[f"{case}/output/y"] = y32.astype(np.float32)
        tensors[f"{case}/upstream/y"] = upstream.numpy().astype(np.float32)
        for n, a in g32.items():
            tensors[f"{case}/grad/{n}"] = a.astype(np.float32)
    metadata["cases"] = ",".join(CASES)
    write_safetensors(OUT, tensors, metadata)
    back, _ = read_safetensors(OUT)
    assert all(np.array_equal(back[k], v) for k, v in tensors.items())
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
