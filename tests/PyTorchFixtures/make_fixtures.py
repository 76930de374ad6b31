#!/usr/bin/python3
"""Writes optimiser fixtures for the NativeNet tests, and checks safetensors files written by NativeNet.

    /usr/bin/python3 tests/PyTorchFixtures/make_fixtures.py            # regenerates tests/NativeNet.Tests/Fixtures/optimizers.safetensors
    /usr/bin/python3 tests/PyTorchFixtures/make_fixtures.py --verify F # reads F with the reader below and prints each tensor

Needs Debian's python3-torch (PyTorch 1.13, CPU) and python3-numpy. The safetensors package is not needed:
the file format is written and read by the small functions here, following the specification
(8-byte little-endian header size, JSON header, data section with offsets relative to its start).

Every case starts from the same parameters w [3, 7] and b [7] (21 and 7 elements: full SIMD vectors and tails)
and applies STEPS steps with given per-step gradients. Torch cases run torch.optim in float32; the CS231n cases
(CONCEPTS.md formulas that differ from PyTorch's parameterisation) are computed independently with numpy in
float64 from the same float32 inputs. Keys: "CASE/PARAM/init", "CASE/PARAM/grad{k}" (absent: no gradient in
step k, the parameter is skipped), "CASE/PARAM/after{k}". Metadata: "steps", "cases", and per case a JSON object
of hyper-parameters: optimizer, lr, and optional momentum, nesterov, eps, alpha (RMSProp decay), betas,
weight_decay, decay_biases (false: weight decay on w only).
"""
import json
import os
import struct
import sys

import numpy as np
import torch

STEPS = 3
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "NativeNet.Tests", "Fixtures", "optimizers.safetensors")

DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int32): "I32"}
NP_TYPES = {v: k for k, v in DTYPES.items()}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """A strict reader: checks the header size, JSON, dtypes, shapes and that the offsets tile the data section."""
    with open(path, "rb") as f:
        content = f.read()
    (n,) = struct.unpack("<Q", content[:8])
    assert 8 + n <= len(content), f"header size {n} exceeds the file"
    header = json.loads(content[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    data = content[8 + n:]
    spans = []
    tensors = {}
    for name, info in header.items():
        assert set(info) == {"dtype", "shape", "data_offsets"}, info
        dtype = NP_TYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == count * dtype.itemsize, f"{name}: {end - begin} bytes for {count} elements"
        spans.append((begin, end))
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype.newbyteorder("<")).reshape(info["shape"])
    position = 0
    for begin, end in sorted(spans):
        assert begin == position, f"offsets not contiguous at {begin} (expected {position})"
        position = end
    assert position == len(data), f"data section has {len(data)} bytes, tensors cover {position}"
    return tensors, metadata


def inputs():
    rng = np.random.RandomState(1234)
    init = {"w": rng.randn(3, 7).astype(np.float32), "b": rng.randn(7).astype(np.float32)}
    grads = [{"w": rng.randn(3, 7).astype(np.float32), "b": rng.randn(7).astype(np.float32)} for _ in range(STEPS)]
    return init, grads


def run_torch(hp, init, grads):
    params = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    wd = hp.get("weight_decay", 0.0)
    groups = [{"params": [params["w"]], "weight_decay": wd},
              {"params": [params["b"]], "weight_decay": wd if hp.get("decay_biases", True) else 0.0}]
    name, lr = hp["optimizer"], hp["lr"]
    if name == "Sgd":
        opt = torch.optim.SGD(groups, lr=lr)
    elif name == "Momentum":
        opt = torch.optim.SGD(groups, lr=lr, momentum=hp["momentum"], nesterov=hp.get("nesterov", False))
    elif name == "AdaGrad":
        opt = torch.optim.Adagrad(groups, lr=lr, eps=hp.get("eps", 1e-10))
    elif name == "RmsProp":
        opt = torch.optim.RMSprop(groups, lr=lr, alpha=hp["alpha"], eps=hp.get("eps", 1e-8))
    elif name == "Adam":
        opt = torch.optim.Adam(groups, lr=lr, betas=tuple(hp.get("betas", (0.9, 0.999))), eps=hp.get("eps", 1e-8))
    elif name == "AdamW":
        opt = torch.optim.AdamW(groups, lr=lr, betas=tuple(hp.get("betas", (0.9, 0.999))), eps=hp.get("eps", 1e-8))
    else:
        raise ValueError(name)
    after = []
    for step in grads:
        for k, p in params.items():
            p.grad = torch.tensor(step[k]) if k in step else None
        opt.step()
        after.append({k: p.detach().numpy().copy() for k, p in params.items()})
    return after


def run_cs231n(hp, init, grads):
    """CONCEPTS.md forms in float64 numpy, independent of torch and of the C# code."""
    x = {k: v.astype(np.float64) for k, v in init.items()}
    state = {k: np.zeros_like(v) for k, v in x.items()}
    lr = hp["lr"]
    after = []
    for step in grads:
        for k in x:
            if k not in step:
                continue
            wd = hp.get("weight_decay", 0.0) if (k == "w" or hp.get("decay_biases", True)) else 0.0
            dx = step[k].astype(np.float64) + wd * x[k]
            if hp["optimizer"] == "Nesterov":
                rho = hp["momentum"]
                v_old = state[k].copy()
                state[k] = rho * state[k] - lr * dx
                x[k] = x[k] - rho * v_old + (1 + rho) * state[k]
            elif hp["optimizer"] == "Momentum":
                state[k] = hp["momentum"] * state[k] + dx
                x[k] = x[k] - lr * state[k]
            elif hp["optimizer"] == "AdaGrad":
                state[k] = state[k] + dx * dx
                x[k] = x[k] - lr * dx / (np.sqrt(state[k]) + hp["eps"])
            elif hp["optimizer"] == "RmsProp":
                d = hp["alpha"]
                state[k] = d * state[k] + (1 - d) * dx * dx
                x[k] = x[k] - lr * dx / (np.sqrt(state[k]) + hp["eps"])
            else:
                raise ValueError(hp["optimizer"])
        after.append({k: v.astype(np.float32) for k, v in x.items()})
    return after


TORCH_CASES = {
    "sgd": {"optimizer": "Sgd", "lr": 0.1},
    "sgd_wd": {"optimizer": "Sgd", "lr": 0.1, "weight_decay": 0.05, "decay_biases": False},
    "momentum": {"optimizer": "Momentum", "lr": 0.05, "momentum": 0.9},
    "momentum_wd": {"optimizer": "Momentum", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.05, "decay_biases": False},
    "nesterov_torch": {"optimizer": "Momentum", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    "nesterov_torch_wd": {"optimizer": "Momentum", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05},
    "adagrad": {"optimizer": "AdaGrad", "lr": 0.1},
    "adagrad_wd": {"optimizer": "AdaGrad", "lr": 0.1, "weight_decay": 0.05, "decay_biases": False},
    "rmsprop": {"optimizer": "RmsProp", "lr": 0.01, "alpha": 0.99},
    "rmsprop_wd": {"optimizer": "RmsProp", "lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.05, "decay_biases": False},
    "adam": {"optimizer": "Adam", "lr": 0.01},
    "adam_betas": {"optimizer": "Adam", "lr": 0.02, "betas": [0.8, 0.99], "eps": 1e-6},
    "adam_wd": {"optimizer": "Adam", "lr": 0.01, "weight_decay": 0.1, "decay_biases": False},
    "adam_skip": {"optimizer": "Adam", "lr": 0.01, "skip": ["b", 1]},
    "adamw": {"optimizer": "AdamW", "lr": 0.01, "weight_decay": 0.1, "decay_biases": False},
    "adamw_all": {"optimizer": "AdamW", "lr": 0.01, "weight_decay": 0.1},
}

CS231N_CASES = {
    "cs231n_nesterov": {"optimizer": "Nesterov", "lr": 0.05, "momentum": 0.9},
    "cs231n_nesterov_wd": {"optimizer": "Nesterov", "lr": 0.05, "momentum": 0.95, "weight_decay": 0.05, "decay_biases": False},
    "cs231n_momentum": {"optimizer": "Momentum", "lr": 0.05, "momentum": 0.99},
    "cs231n_adagrad": {"optimizer": "AdaGrad", "lr": 0.1, "eps": 1e-7},
    "cs231n_rmsprop": {"optimizer": "RmsProp", "lr": 0.01, "alpha": 0.9, "eps": 1e-8},
}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        tensors, metadata = read_safetensors(sys.argv[2])
        print("metadata", metadata)
        for name, array in tensors.items():
            as_torch = torch.from_numpy(array.copy())
            print(name, array.dtype, list(array.shape), as_torch.flatten()[:6].tolist())
        return
    init, grads = inputs()
    tensors, metadata = {}, {"steps": str(STEPS)}
    for case, hp in {**TORCH_CASES, **CS231N_CASES}.items():
        case_grads = [dict(g) for g in grads]
        if "skip" in hp:
            param, step = hp["skip"]
            del case_grads[step][param]
        after = run_torch(hp, init, case_grads) if case in TORCH_CASES else run_cs231n(hp, init, case_grads)
        metadata[case] = json.dumps(hp)
        for k in init:
            tensors[f"{case}/{k}/init"] = init[k]
            for s in range(STEPS):
                if k in case_grads[s]:
                    tensors[f"{case}/{k}/grad{s}"] = case_grads[s][k]
                tensors[f"{case}/{k}/after{s}"] = after[s][k]
    metadata["cases"] = ",".join([*TORCH_CASES, *CS231N_CASES])
    # The CS231n momentum form is PyTorch's SGD momentum: the independent numpy result must agree with torch.
    torch_momentum = run_torch(CS231N_CASES["cs231n_momentum"], init, grads)
    for s in range(STEPS):
        for k in init:
            np.testing.assert_allclose(torch_momentum[s][k], tensors[f"cs231n_momentum/{k}/after{s}"], rtol=1e-5, atol=1e-6)
    write_safetensors(OUT, tensors, metadata)
    back, _ = read_safetensors(OUT)
    assert all(np.array_equal(back[k], v) for k, v in tensors.items())
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
