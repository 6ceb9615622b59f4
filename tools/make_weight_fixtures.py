#!/usr/bin/env python3
"""Writes the weight-reader fixtures under tests/weights/data/ with the real writers.

- torch/pytorch_model.bin     torch.save of a small state dict: float32, float16 and bfloat16
                              tensors (special values included), a 0-d tensor, an empty tensor,
                              a view into a larger storage (storage offset) and an nn.Parameter
                              (so the pickle uses torch._utils._rebuild_parameter).
- safetensors/model.safetensors  safetensors.torch.save_file of the same tensors (copied).
- sharded/                    the same tensors split into shards by huggingface_hub's
                              split_torch_state_dict_into_shards plus the index JSON that
                              transformers writes (metadata.total_size, weight_map).
- sharded_bin/                the torch.save variant split the way transformers' save_pretrained
                              (safe_serialization=False) does: split_torch_state_dict_into_shards
                              with pytorch_model{suffix}.bin names, torch.save per shard, and
                              pytorch_model.bin.index.json.
- noncontig/pytorch_model.bin torch.save of a transposed (non-contiguous) tensor.
- expected.json               every tensor's name, dtype, shape and its values widened to float32
                              (torch's `.float()`; numpy's IEEE conversion for float16, see bits())
                              as uint32 bit patterns, plus the versions used.

Run from the repository root with the pinned venv (tools/requirements.txt):
    /opt/vitcl-tools/bin/python tools/make_weight_fixtures.py
"""
import collections
import json
import os
import sys

import huggingface_hub
import numpy
import safetensors
import torch
from huggingface_hub import split_torch_state_dict_into_shards
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "weights", "data")


def state_dict():
    g = torch.Generator().manual_seed(1234)
    sd = collections.OrderedDict()
    sd["encoder.f32.weight"] = torch.randn(3, 4, generator=g, dtype=torch.float32)
    sd["encoder.f32.weight"][0, 0] = float("inf")
    sd["encoder.f32.weight"][0, 1] = float("-inf")
    sd["encoder.f32.weight"][0, 2] = float("nan")
    sd["encoder.f32.weight"][0, 3] = 1.0e-45  # smallest float32 subnormal
    sd["scalar"] = torch.tensor(2.5, dtype=torch.float32)  # 0-d
    sd["empty"] = torch.zeros(0, 3, dtype=torch.float32)
    sd["half.bias"] = torch.tensor(
        [1.0, -2.5, 65504.0, 2.0 ** -24, -(2.0 ** -20), 6.1e-5, float("inf"), float("-inf"),
         float("nan"), -0.0, 0.333],
        dtype=torch.float16)
    sd["bf16.weight"] = torch.tensor(
        [[1.0, -3.0e38, 1.0e-40, -9.2e-41], [float("inf"), float("nan"), -0.0, 0.1]],
        dtype=torch.bfloat16)
    sd["layers.0.w"] = torch.randn(2, 3, 2, generator=g, dtype=torch.float32)
    return sd


def torch_state_dict(sd):
    """The torch.save variant: a view with a storage offset and a Parameter."""
    t = collections.OrderedDict(sd)
    big = torch.arange(20, dtype=torch.float32) * 0.5
    t["view.offset"] = big[5:11].view(2, 3)  # storage offset 5 into a 20-element storage
    t["param"] = torch.nn.Parameter(torch.tensor([0.25, -0.75], dtype=torch.float32))
    return t


def bits(t):
    """float32 bit patterns of t widened exactly. torch's float16 -> float32 conversion turns
    NaN into 0x7fffffff (it does not keep the payload), so float16 is widened by numpy (IEEE 754
    conversion, payload kept); the script checks that torch agrees on every other value."""
    t = t.detach().contiguous()
    by_torch = t.float().view(torch.int32).reshape(-1).numpy().view(numpy.uint32)
    if t.dtype != torch.float16:
        return [int(x) for x in by_torch]
    by_numpy = t.view(torch.int16).numpy().view(numpy.float16).astype(numpy.float32)
    by_numpy_bits = by_numpy.reshape(-1).view(numpy.uint32)
    finite = ~numpy.isnan(by_numpy.reshape(-1))
    assert (by_numpy_bits[finite] == by_torch[finite]).all(), "torch and numpy disagree"
    return [int(x) for x in by_numpy_bits]


def describe(sd):
    out = []
    for name, t in sd.items():
        out.append({"name": name, "dtype": {torch.float32: "F32", torch.float16: "F16",
                                              torch.bfloat16: "BF16"}[t.dtype],
                    "shape": list(t.shape), "f32_bits": bits(t)})
    return out


def main():
    sd = state_dict()
    tsd = torch_state_dict(sd)
    for d in ("torch", "safetensors", "sharded", "sharded_bin", "noncontig"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)

    torch.save(tsd, os.path.join(OUT, "torch", "pytorch_model.bin"))
    save_file({k: v.clone().contiguous() for k, v in sd.items()},
              os.path.join(OUT, "safetensors", "model.safetensors"), metadata={"format": "pt"})

    split = split_torch_state_dict_into_shards(sd, max_shard_size=100)
    assert split.is_sharded, "fixture needs more than one shard"
    for fname, names in split.filename_to_tensors.items():
        save_file({n: sd[n].clone().contiguous() for n in names},
                  os.path.join(OUT, "sharded", fname), metadata={"format": "pt"})
    index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
    with open(os.path.join(OUT, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")

    split_bin = split_torch_state_dict_into_shards(tsd, filename_pattern="pytorch_model{suffix}.bin",
                                                   max_shard_size=100)
    assert split_bin.is_sharded, "fixture needs more than one shard"
    for fname, names in split_bin.filename_to_tensors.items():
        torch.save(collections.OrderedDict((n, tsd[n]) for n in names),
                   os.path.join(OUT, "sharded_bin", fname))
    index = {"metadata": split_bin.metadata, "weight_map": split_bin.tensor_to_filename}
    with open(os.path.join(OUT, "sharded_bin", "pytorch_model.bin.index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")

    nc = collections.OrderedDict()
    nc["transposed.weight"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    assert not nc["transposed.weight"].is_contiguous()
    torch.save(nc, os.path.join(OUT, "noncontig", "pytorch_model.bin"))

    expected = {
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "safetensors": safetensors.__version__, "numpy": numpy.__version__,
                     "huggingface_hub": huggingface_hub.__version__},
        "torch": describe(tsd),
        "safetensors": describe(sd),
        "shards": sorted(split.filename_to_tensors.keys()),
        "bin_shards": sorted(split_bin.filename_to_tensors.keys()),
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
