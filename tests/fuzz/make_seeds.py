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


def main():
    npy_seeds()
    json_seeds()
    image_seeds()
    weight_seeds()
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        size = sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files)
        print(f"{t}: {len(files)} files, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
