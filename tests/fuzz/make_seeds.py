#!/usr/bin/env python3
"""Writes the small valid seed files of tests/fuzz/corpus/<target>/ (run with the pinned tool
venv, /opt/vitcl-tools/bin/python, versions in tools/requirements.txt).

Seeds are kept tiny (under 4 KiB where the format allows) so libFuzzer mutates quickly; each
is a file the real producer (numpy, Pillow, safetensors, torch.save) wrote, and each must parse
(tests/fuzz/test_fuzz_regressions.c checks that). The JSON seeds are copied from tests/fixtures.
"""
import os
import shutil
import sys
import zipfile

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def out(target, name):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def npy_seeds():
    np.save(out("npy", "f4_2x3.npy"), np.arange(6, dtype="<f4").reshape(2, 3))
    np.save(out("npy", "f4_scalar.npy"), np.array(1.5, dtype="<f4"))
    np.save(out("npy", "f4_1x3x4x4.npy"), np.linspace(-1, 1, 48, dtype="<f4").reshape(1, 3, 4, 4))
    np.save(out("npy", "f4_empty.npy"), np.zeros((0, 4), dtype="<f4"))


def json_seeds():
    models = os.path.join(ROOT, "tests", "fixtures", "models")
    for m in ("d32_h4_l1_p7_s30", "cls5_d48_h6_l2_p6_s36"):
        shutil.copy(os.path.join(models, m, "config.json"), out("config", m + ".json"))
        shutil.copy(os.path.join(models, m, "preprocessor_config.json"),
                    out("preprocessor_config", m + ".json"))
    demo = os.path.join(ROOT, "tests", "fixtures", "demo")
    shutil.copy(os.path.join(demo, "config.json"), out("config", "demo.json"))
    shutil.copy(os.path.join(demo, "preprocessor_config.json"),
                out("preprocessor_config", "demo.json"))


def image_seeds():
    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8), "RGB")
    rgb.save(out("image", "rgb.png"))
    rgb.convert("RGBA").save(out("image", "rgba.png"))
    rgb.convert("L").save(out("image", "gray.png"))
    rgb.convert("LA").save(out("image", "gray_alpha.png"))
    rgb.convert("P").save(out("image", "palette.png"))
    rgb.convert("1").save(out("image", "bilevel.png"))
    Image.fromarray(rng.integers(0, 65536, (4, 3), dtype=np.uint16)).save(out("image", "i16.png"))
    rgb.save(out("image", "rgb.jpg"), quality=90)
    rgb.save(out("image", "rgb_progressive.jpg"), quality=75, progressive=True)
    rgb.convert("L").save(out("image", "gray.jpg"), quality=90)
    Image.fromarray(rng.integers(0, 256, (9, 17, 3), dtype=np.uint8), "RGB").save(
        out("image", "rgb_420.jpg"), quality=50, subsampling=2)


def tiny_state_dict(dtype):
    g = torch.Generator().manual_seed(3)
    return {
        "embeddings.cls_token": torch.randn(1, 1, 4, generator=g).to(dtype),
        "encoder.layer.0.output.dense.weight": torch.randn(4, 3, generator=g).to(dtype),
        "encoder.layer.0.output.dense.bias": torch.randn(4, generator=g).to(dtype),
    }


def weight_seeds():
    save_file(tiny_state_dict(torch.float32), out("safetensors", "f32.safetensors"),
              metadata={"format": "pt"})
    save_file(tiny_state_dict(torch.float16), out("safetensors", "f16.safetensors"))
    mixed = tiny_state_dict(torch.bfloat16)
    mixed["embeddings.cls_token"] = mixed["embeddings.cls_token"].float()
    save_file(mixed, out("safetensors", "mixed_bf16.safetensors"))
    for name, dtype in (("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
        path = out("torch_zip", name + ".bin")
        torch.save(tiny_state_dict(dtype), path)
        with zipfile.ZipFile(path) as z:
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            with open(out("pickle", name + ".pkl"), "wb") as f:
                f.write(z.read(pkl))


def regression(target, name):
    d = os.path.join(HERE, "regressions", target)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def raw_npy(header, data):
    """A .npy whose header dict text is exactly `header` (padded as numpy pads)."""
    h = header.encode("latin1")
    pad = (64 - (10 + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data


def raw_safetensors(header):
    h = header.encode()
    return len(h).to_bytes(8, "little") + h + bytes(8)


def hardening_seeds():
    """Issue 14's classes: inputs where a C reader could diverge from the reference (repeated
    keys, trailing data, escaped NULs, repeated .npy header keys), names with control bytes,
    sizes at the token limit and extreme aspect ratios. Seeds parse; regressions/ holds the
    refused forms, which must be refused cleanly."""
    le = np.arange(6, dtype="<f4").tobytes()
    seeds = {
        "npy": {
            "dup_descr_le_last.npy": "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), "
                                     "'descr': '<f4'}",
            "dup_fortran_false_last.npy": "{'descr': '<f4', 'fortran_order': True, "
                                          "'shape': (6,), 'fortran_order': False}",
            "dup_shape.npy": "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
                             "'shape': (3, 2)}",
            "double_quotes.npy": '{"descr": "<f4", "fortran_order": False, "shape": (6,)}',
        },
        "npy_refused": {
            "dup_descr_be_last.npy": "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
                                     "'descr': '>f4'}",
            "dup_fortran_true_last.npy": "{'descr': '<f4', 'fortran_order': False, "
                                         "'shape': (2, 3), 'fortran_order': True}",
            "extra_key.npy": "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}",
            "shape_int.npy": "{'descr': '<f4', 'fortran_order': False, 'shape': (6)}",
        },
    }
    for name, header in seeds["npy"].items():
        with open(out("npy", name), "wb") as f:
            f.write(raw_npy(header, le))
    for name, header in seeds["npy_refused"].items():
        with open(regression("npy", name), "wb") as f:
            f.write(raw_npy(header, le))
    base = ('"model_type": "vit_msn", "hidden_size": 48, "num_attention_heads": 3, '
            '"num_hidden_layers": 2, "intermediate_size": 192, "image_size": 64, "patch_size": 16')
    texts = {
        out("config", "dup_keys_last_wins.json"):
            "{" + base + ', "hidden_size": 96, "model_type": "vit", "id2label": {"0": "a", '
            '"0": "b"}}',
        out("config", "at_token_limit.json"):  # 127x127 + 1 = 16130 tokens
            '{"model_type": "vit", "hidden_size": 8, "num_attention_heads": 2, '
            '"image_size": 1016, "patch_size": 8}',
        out("config", "trailing_whitespace.json"): "{" + base + "} \n\t ",
        regression("config", "million_tokens.json"):
            '{"model_type": "vit", "hidden_size": 8, "num_attention_heads": 2, '
            '"image_size": 1024, "patch_size": 1}',
        regression("config", "trailing_object.json"): "{" + base + "} {}",
        regression("config", "escaped_nul_model_type.json"):
            '{"model_type": "vit\\u0000x", "hidden_size": 48, "num_attention_heads": 3}',
        regression("config", "escape_sequence_model_type.json"):
            '{"model_type": "\\u001b[2J\\u009b31m", "hidden_size": 48}',
        out("preprocessor_config", "dup_size_last_wins.json"):
            '{"size": {"height": 64, "width": 64}, "size": {"shortest_edge": 32}, '
            '"image_mean": [0.1, 0.2, 0.3], "image_mean": [0.4, 0.5, 0.6]}',
        out("preprocessor_config", "std_zero.json"): '{"image_std": [0.5, 0, 0.5]}',
        regression("preprocessor_config", "trailing_bracket.json"): '{"do_resize": false}]',
        regression("preprocessor_config", "escape_sequence_type.json"):
            '{"image_processor_type": "\\u001b]0;x\\u0007"}',
    }
    for path, text in texts.items():
        with open(path, "w") as f:
            f.write(text)
    entry = '{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}'
    with open(out("safetensors", "unicode_escaped_name.safetensors"), "wb") as f:
        f.write(raw_safetensors('{"w\\u00e9\\u4e2d": ' + entry + "}"))
    for name, header in {
        "escaped_nul_name.safetensors": '{"w\\u0000x": ' + entry + "}",
        "escape_sequence_name.safetensors": '{"w\\u001b[2J": ' + entry + "}",
        "raw_control_in_name.safetensors": '{"w\x1b[2J": ' + entry + "}",
        "repeated_field.safetensors":
            '{"w": {"dtype": "F32", "dtype": "F16", "shape": [2], "data_offsets": [0, 8]}}',
    }.items():
        with open(regression("safetensors", name), "wb") as f:
            f.write(raw_safetensors(header))
    # images: an extreme aspect ratio (resized under the seed processor) and a 1-pixel-wide one
    rng = np.random.default_rng(11)
    Image.fromarray(rng.integers(0, 256, (1, 400, 3), dtype=np.uint8), "RGB").save(
        out("image", "rgb_1x400.png"))
    Image.fromarray(rng.integers(0, 256, (300, 1), dtype=np.uint8), "L").save(
        out("image", "gray_300x1.png"))
    # weights whose names hold control bytes: readable (names are data), printed defused
    sd = {"na\x1bme[2J": torch.zeros(2), "ok": torch.ones(1)}
    path = out("torch_zip", "control_byte_name.bin")
    torch.save(sd, path)
    with zipfile.ZipFile(path) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        with open(out("pickle", "control_byte_name.pkl"), "wb") as f:
            f.write(z.read(pkl))


def main():
    npy_seeds()
    json_seeds()
    image_seeds()
    weight_seeds()
    hardening_seeds()
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        size = sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files)
        print(f"{t}: {len(files)} files, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
