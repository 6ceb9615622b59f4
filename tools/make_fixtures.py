#!/usr/bin/env python3
"""Generate vitcl's golden model fixtures with the real reference (transformers + torch).

Default run (rerunnable, deterministic; rewrites only the folders it owns):
    /opt/vitcl-tools/bin/python tools/make_fixtures.py
writes
    tests/fixtures/models/<model>/            config.json, preprocessor_config.json, weights
    tests/fixtures/models/<model>/golden/<case>/{pixel_values,last_hidden_state,hidden_states[,logits]}.npy, case.json
    tests/fixtures/models/manifest.json, tests/fixtures/models/VERSIONS.txt
    tests/fixtures/demo/                      the random-init 224x224 demo checkpoint

Benchmark checkpoint (never committed, not part of the default run):
    tools/make_fixtures.py --large OUTDIR [--large-format safetensors|bin|both]

All checkpoints are random-init. Weights are drawn with a much larger spread than
transformers' own init (which zeroes cls/position embeddings and uses std 0.02) so that
every term of the forward pass contributes visibly and a bug cannot hide behind tiny values.
Pinned versions: tools/requirements.txt.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import zlib

import numpy as np
import safetensors
import safetensors.torch
import torch
import transformers
from transformers import (ViTImageProcessorPil, ViTMSNConfig, ViTMSNForImageClassification,
                          ViTMSNModel)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS_DIR = os.path.join(REPO_ROOT, "tests", "fixtures", "models")
DEFAULT_DEMO_DIR = os.path.join(REPO_ROOT, "tests", "fixtures", "demo")

ATTN_IMPLEMENTATION = "eager"
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
BASE_SEED = 20240611

# ---------------------------------------------------------------------------------------------
# Fixture model zoo. Every entry varies something the C code must get right:
# hidden size, heads (head_dim 8/12/16), layers, MLP width (not always 4*D), patch size
# (including odd 5, 7, 9 and image sizes that leave remainder pixels), grid 4x4 or 6x6
# (so a non-square grid with the pretraining token count exists), a classifier head,
# F16 / BF16 storage and a sharded safetensors checkpoint.
# ---------------------------------------------------------------------------------------------
MODELS = [
    dict(name="d32_h4_l1_p7_s30", hidden=32, heads=4, layers=1, inter=48, patch=7, image=30,
         note="odd patch 7, image 30 not divisible by it (2 remainder pixels), head_dim 8"),
    dict(name="d48_h4_l2_p8_s32", hidden=48, heads=4, layers=2, inter=80, patch=8, image=32,
         note="head_dim 12, MLP width 80 (not 4*D)"),
    dict(name="d48_h3_l2_p16_s64", hidden=48, heads=3, layers=2, inter=192, patch=16, image=64,
         note="patch 16 as the released checkpoints, head_dim 16, MLP width 4*D"),
    dict(name="d72_h4_l2_p4_s24", hidden=72, heads=4, layers=2, inter=160, patch=4, image=24,
         note="patch 4 as vit-msn-base-4, 6x6 grid, head_dim 18 (not a power of two)"),
    dict(name="cls5_d48_h6_l2_p6_s36", hidden=48, heads=6, layers=2, inter=72, patch=6, image=36,
         num_labels=5, note="ViTMSNForImageClassification with 5 labels: keys carry the vit. prefix "
         "plus classifier.weight/bias; golden logits"),
    dict(name="f16_d32_h2_l2_p5_s21", hidden=32, heads=2, layers=2, inter=64, patch=5, image=21,
         storage="float16", note="model.safetensors stored as F16 (config dtype float16); golden from "
         "the F16-rounded weights upcast to fp32; pytorch_model.bin holds the same values in fp32"),
    dict(name="bf16_d40_h5_l1_p9_s38", hidden=40, heads=5, layers=1, inter=100, patch=9, image=38,
         storage="bfloat16", note="model.safetensors stored as BF16 (config dtype bfloat16); golden from "
         "the BF16-rounded weights upcast to fp32; pytorch_model.bin holds the same values in fp32"),
    dict(name="sharded_d56_h7_l3_p6_s36", hidden=56, heads=7, layers=3, inter=112, patch=6, image=36,
         shard="100KB", note="safetensors sharded (max_shard_size 100KB) with model.safetensors.index.json, "
         "7 heads of head_dim 8, 3 layers, 6x6 grid"),
    dict(name="d128_h2_l1_p16_s48", hidden=128, heads=2, layers=1, inter=256, patch=16, image=48,
         note="head_dim 64 as every released checkpoint, so backends' head_dim-64 attention paths "
         "run end to end"),
]

DEMO = dict(name="demo", hidden=64, heads=4, layers=2, inter=128, patch=16, image=224)

LARGE_CONFIG = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                    intermediate_size=4096, patch_size=16, image_size=224, num_channels=3,
                    layer_norm_eps=1e-6, qkv_bias=True, hidden_act="gelu",
                    hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.0,
                    initializer_range=0.02)


def log(msg):
    print(msg, flush=True)


def seed_for(name, what):
    """Deterministic per-model, per-purpose seed (independent of model order)."""
    return BASE_SEED + zlib.crc32(f"{name}/{what}".encode()) % 1_000_000


def make_config(spec):
    cfg = ViTMSNConfig(hidden_size=spec["hidden"], num_attention_heads=spec["heads"],
                       num_hidden_layers=spec["layers"], intermediate_size=spec["inter"],
                       patch_size=spec["patch"], image_size=spec["image"], num_channels=3,
                       layer_norm_eps=1e-6, qkv_bias=True, hidden_act="gelu",
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                       num_labels=spec.get("num_labels", 2))
    assert spec["hidden"] % spec["heads"] == 0
    cfg._attn_implementation = ATTN_IMPLEMENTATION
    return cfg


def model_class(spec):
    return ViTMSNForImageClassification if "num_labels" in spec else ViTMSNModel


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------
def random_value(name, shape, gen, scale):
    """Random tensor for the parameter `name` (HF checkpoint or in-memory name).

    LayerNorm gains are 1 + noise, LayerNorm shifts, biases and matrices are normal(0, scale);
    cls and position embeddings are normal(0, 5*scale) so they matter next to the patch
    embeddings. Query/key matrices get 2*scale so attention is far from uniform."""
    is_norm = "layernorm" in name
    if is_norm and name.endswith("weight"):
        return 1.0 + 2 * scale * torch.randn(shape, generator=gen)
    if "cls_token" in name or "position_embeddings" in name:
        return 5 * scale * torch.randn(shape, generator=gen)
    if any(k in name for k in ("q_proj.weight", "k_proj.weight", "query.weight", "key.weight")):
        return 2 * scale * torch.randn(shape, generator=gen)
    return scale * torch.randn(shape, generator=gen)


def randomize(model, seed, scale=0.1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(random_value(name, tuple(p.shape), gen, scale))


def hub_key_shapes(cfg):
    """Ordered (name, shape) of a bare ViTMSNModel as stored on the Hub (spec section 2.4)."""
    d, i, p, c = cfg.hidden_size, cfg.intermediate_size, cfg.patch_size, cfg.num_channels
    n0 = (cfg.image_size // p) ** 2
    keys = [("embeddings.cls_token", (1, 1, d)),
            ("embeddings.position_embeddings", (1, n0 + 1, d)),
            ("embeddings.patch_embeddings.projection.weight", (d, c, p, p)),
            ("embeddings.patch_embeddings.projection.bias", (d,))]
    for layer in range(cfg.num_hidden_layers):
        pre = f"encoder.layer.{layer}."
        keys += [(pre + "layernorm_before.weight", (d,)), (pre + "layernorm_before.bias", (d,))]
        for proj in ("query", "key", "value"):
            keys += [(pre + f"attention.attention.{proj}.weight", (d, d)),
                     (pre + f"attention.attention.{proj}.bias", (d,))]
        keys += [(pre + "attention.output.dense.weight", (d, d)),
                 (pre + "attention.output.dense.bias", (d,)),
                 (pre + "layernorm_after.weight", (d,)), (pre + "layernorm_after.bias", (d,)),
                 (pre + "intermediate.dense.weight", (i, d)), (pre + "intermediate.dense.bias", (i,)),
                 (pre + "output.dense.weight", (d, i)), (pre + "output.dense.bias", (d,))]
    keys += [("layernorm.weight", (d,)), ("layernorm.bias", (d,))]
    return keys


def read_safetensors_dir(folder):
    """All tensors of model.safetensors or of the shards listed in model.safetensors.index.json."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for fn in files:
        part = safetensors.torch.load_file(os.path.join(folder, fn))
        assert not (set(part) & set(out)), f"{folder}: key in two shards"
        out.update(part)
    return out


def write_legacy_bin(state, path):
    """pytorch_model.bin as the Hub's legacy files: torch.save of an OrderedDict of fp32 tensors."""
    from collections import OrderedDict
    od = OrderedDict((k, state[k].detach().to(torch.float32).contiguous().clone()) for k in sorted(state))
    torch.save(od, path)


def check_hub_layout(folder, cfg, prefix, extra):
    """The safetensors on disk must hold exactly the Hub key set (prefixed) and shapes."""
    want = {prefix + k: tuple(s) for k, s in hub_key_shapes(cfg)}
    want.update(extra)
    got = {k: tuple(v.shape) for k, v in read_safetensors_dir(folder).items()}
    if got != want:
        raise SystemExit(f"{folder}: key layout differs from the Hub layout:\n"
                         f"  missing {sorted(set(want) - set(got))}\n  unexpected {sorted(set(got) - set(want))}\n"
                         f"  shape diffs {[k for k in want if k in got and want[k] != got[k]]}")


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------
def same_token_nonsquare_grid(g0):
    """(gh, gw) with gh*gw == g0*g0 and gh != gw, closest to square; None if g0*g0 has none small."""
    n = g0 * g0
    best = None
    for gh in range(1, g0):
        if n % gh == 0 and (best is None or gh > best[0]):
            best = (gh, n // gh)
    return best if best and best[1] <= 4 * g0 else None


def cases_for(spec):
    p, s = spec["patch"], spec["image"]
    g0 = s // p
    out = [dict(name="native_b1", batch=1, height=s, width=s, interpolate_pos_encoding=False),
           dict(name="native_b3", batch=3, height=s, width=s, interpolate_pos_encoding=False),
           dict(name="interp_larger_square", batch=1, height=(g0 + 1) * p, width=(g0 + 1) * p,
                interpolate_pos_encoding=True),
           dict(name="interp_nonsquare", batch=2, height=(g0 - 1) * p, width=(g0 + 2) * p,
                interpolate_pos_encoding=True),
           dict(name="interp_not_multiple", batch=1, height=(g0 + 1) * p + p // 2 + 1,
                width=g0 * p + p - 1, interpolate_pos_encoding=True),
           # Same grid as pretraining but height != width in pixels: transformers resamples
           # (identity-sized bicubic) instead of returning the table (spec 1.4 step 2).
           dict(name="interp_same_grid_hw_differ", batch=1, height=g0 * p, width=g0 * p + p - 1,
                interpolate_pos_encoding=True)]
    ns = same_token_nonsquare_grid(g0)
    if ns:
        # Same token count as pretraining, non-square grid: must be resampled, not shortcut.
        out.append(dict(name="interp_same_tokens_nonsquare", batch=1, height=ns[0] * p,
                        width=ns[1] * p, interpolate_pos_encoding=True))
    # Native size with interpolation on: transformers' shortcut returns the table unchanged.
    out.append(dict(name="interp_native_shortcut", batch=1, height=s, width=s,
                    interpolate_pos_encoding=True))
    for c in out:
        assert c["height"] >= p and c["width"] >= p
    return out


def run_model(model, pixels, ipe):
    with torch.no_grad():
        out = model(pixel_values=pixels, interpolate_pos_encoding=ipe, output_hidden_states=True,
                    return_dict=True)
    return out


def load_fp32(cls, folder, **kw):
    model, info = cls.from_pretrained(folder, dtype=torch.float32, attn_implementation=ATTN_IMPLEMENTATION,
                                      output_loading_info=True, **kw)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise SystemExit(f"{folder}: loading {'bin' if kw.get('use_safetensors') is False else 'safetensors'} "
                         f"into {cls.__name__} reported {bad}")
    model.eval()
    assert model.config._attn_implementation == ATTN_IMPLEMENTATION
    # Weights loaded from safetensors may sit at 4-byte-aligned addresses inside the mapped file,
    # which sends torch's GEMM down a different SIMD path (1-ulp differences). Copy every tensor
    # to fresh memory so models loaded from different files compute bit-identically.
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            t.data = t.data.clone()
    return model


def attention_check(model, pixels, name):
    """Guard against degenerate random init: attention must be clearly non-uniform."""
    with torch.no_grad():
        att = model(pixel_values=pixels, output_attentions=True).attentions
    for li, a in enumerate(att):
        ent = -(a * torch.log(a.clamp_min(1e-30))).sum(-1).mean().item()
        if ent > 0.9 * np.log(a.shape[-1]):
            raise SystemExit(f"{name}: layer {li} attention nearly uniform (entropy {ent:.3f})")


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------
def save_processor(folder, image):
    proc = ViTImageProcessorPil(do_resize=True, size={"height": image, "width": image}, resample=2,
                                do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
                                image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)
    proc.save_pretrained(folder)


def build_checkpoint(spec, folder):
    """Random-init model saved as the Hub would have it; returns (class, config, weight files, key prefix)."""
    cfg = make_config(spec)
    cls = model_class(spec)
    torch.manual_seed(seed_for(spec["name"], "init"))
    model = cls(cfg).eval()
    randomize(model, seed_for(spec["name"], "weights"))
    storage = spec.get("storage", "float32")
    if storage != "float32":
        model = model.to(getattr(torch, storage))
    tmp = tempfile.mkdtemp(prefix="vitcl-fx-")
    try:
        kw = {"max_shard_size": spec["shard"]} if "shard" in spec else {}
        model.save_pretrained(tmp, safe_serialization=True, **kw)
        for fn in os.listdir(tmp):
            shutil.move(os.path.join(tmp, fn), os.path.join(folder, fn))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    state = read_safetensors_dir(folder)
    prefix, extra = "", {}
    if cls is ViTMSNForImageClassification:
        # transformers 5.23 writes embeddings/layernorm as vit.* but encoder.* without the prefix;
        # the Hub's fine-tuned files (saved by transformers 4.x) carry vit. on every base-model key.
        # Rewrite to that canonical layout (transformers loads both, checked below).
        state = {("vit." + k if k.startswith("encoder.") else k): v for k, v in state.items()}
        safetensors.torch.save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        prefix = "vit."
        extra = {"classifier.weight": (cfg.num_labels, cfg.hidden_size), "classifier.bias": (cfg.num_labels,)}
    check_hub_layout(folder, cfg, prefix, extra)
    write_legacy_bin(state, os.path.join(folder, "pytorch_model.bin"))
    save_processor(folder, spec["image"])
    files = sorted(f for f in os.listdir(folder) if f.endswith((".safetensors", ".bin", ".index.json")))
    return cls, cfg, files, prefix


def make_model_fixture(spec, root):
    name = spec["name"]
    folder = os.path.join(root, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    cls, cfg, files, prefix = build_checkpoint(spec, folder)

    ref = load_fp32(cls, folder, use_safetensors=True)
    legacy = load_fp32(cls, folder, use_safetensors=False)
    # The .bin must hold exactly the Hub's key names (bare for ViTMSNModel, vit./classifier. for
    # the head model); load_fp32 above already checked transformers loads it with no
    # missing/unexpected keys.
    sd = torch.load(os.path.join(folder, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    want = {prefix + k for k, _ in hub_key_shapes(cfg)}
    if cls is not ViTMSNModel:
        want |= {"classifier.weight", "classifier.bias"}
    if set(sd) != want:
        raise SystemExit(f"{name}: pytorch_model.bin keys differ: missing {sorted(want - set(sd))} "
                         f"unexpected {sorted(set(sd) - want)}")
    del sd

    gen = torch.Generator().manual_seed(seed_for(name, "pixels"))
    cases = []
    for case in cases_for(spec):
        pixels = torch.randn((case["batch"], 3, case["height"], case["width"]), generator=gen, dtype=torch.float32)
        out = run_model(ref, pixels, case["interpolate_pos_encoding"])
        out_legacy = run_model(legacy, pixels, case["interpolate_pos_encoding"])
        hs = torch.stack(out.hidden_states)  # [L+1, B, S, D], before the final LayerNorm
        if cls is ViTMSNModel:
            lhs = out.last_hidden_state
        else:
            # The head model returns no last_hidden_state: take it from its base model.
            with torch.no_grad():
                lhs = ref.vit(pixel_values=pixels, interpolate_pos_encoding=case["interpolate_pos_encoding"]).last_hidden_state
            # logits are the classifier applied to the CLS row of last_hidden_state (spec 1.7).
            assert torch.allclose(out.logits, ref.classifier(lhs[:, 0, :]), atol=1e-6)
        same = all(torch.equal(x, y) for x, y in zip(out.hidden_states, out_legacy.hidden_states))
        if cls is ViTMSNModel:
            same = same and torch.equal(out.last_hidden_state, out_legacy.last_hidden_state)
        if not same:
            raise SystemExit(f"{name}/{case['name']}: pytorch_model.bin and safetensors outputs differ")
        if cls is not ViTMSNModel and not torch.equal(out.logits, out_legacy.logits):
            raise SystemExit(f"{name}/{case['name']}: logits differ between bin and safetensors")
        gh, gw = case["height"] // cfg.patch_size, case["width"] // cfg.patch_size
        assert tuple(lhs.shape) == (case["batch"], gh * gw + 1, cfg.hidden_size)
        assert tuple(hs.shape) == (cfg.num_hidden_layers + 1, case["batch"], gh * gw + 1, cfg.hidden_size)
        if not torch.isfinite(hs).all() or lhs.std().item() < 0.3 or hs[-1].std().item() < 0.3:
            raise SystemExit(f"{name}/{case['name']}: degenerate activations")

        cdir = os.path.join(folder, "golden", case["name"])
        os.makedirs(cdir)
        arrays = {"pixel_values": pixels, "last_hidden_state": lhs, "hidden_states": hs}
        if cls is not ViTMSNModel:
            arrays["logits"] = out.logits
        for key, t in arrays.items():
            np.save(os.path.join(cdir, key + ".npy"), np.ascontiguousarray(t.detach().numpy().astype(np.float32)))
        meta = {k: case[k] for k in ("batch", "height", "width", "interpolate_pos_encoding")}
        with open(os.path.join(cdir, "case.json"), "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
        cases.append(dict(name=case["name"], **meta, grid=[gh, gw], seq_len=gh * gw + 1,
                          outputs=sorted(k + ".npy" for k in arrays)))
    attention_check(ref if cls is ViTMSNModel else ref.vit, torch.randn((1, 3, cfg.image_size, cfg.image_size), generator=gen), name)

    storage = spec.get("storage", "float32")
    return dict(
        name=name, folder=name, architecture=cls.__name__, key_prefix=prefix,
        weight_files=files,
        safetensors_dtype={"float32": "F32", "float16": "F16", "bfloat16": "BF16"}[storage],
        dtype_note=("all tensors F32" if storage == "float32" else
                    f"model.safetensors tensors are {storage}; pytorch_model.bin holds the same "
                    f"{storage}-rounded values as F32; golden outputs use those values upcast to fp32"),
        sharded="shard" in spec,
        note=spec["note"],
        config=dict(hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_hidden_layers,
                    num_attention_heads=cfg.num_attention_heads, head_dim=cfg.hidden_size // cfg.num_attention_heads,
                    intermediate_size=cfg.intermediate_size, patch_size=cfg.patch_size, image_size=cfg.image_size,
                    grid=cfg.image_size // cfg.patch_size, layer_norm_eps=cfg.layer_norm_eps,
                    num_labels=cfg.num_labels if cls is not ViTMSNModel else 0),
        cases=cases)


def versions_text(command):
    return "".join(f"{k}: {v}\n" for k, v in [
        ("python", platform.python_version()), ("torch", torch.__version__),
        ("transformers", transformers.__version__), ("numpy", np.__version__),
        ("safetensors", safetensors.__version__), ("attn_implementation", ATTN_IMPLEMENTATION),
        ("device", "cpu, float32, eval mode, torch.no_grad"),
        ("command", command),
    ])


def section_models(args):
    root = args.models_dir
    os.makedirs(root, exist_ok=True)
    entries = []
    for spec in MODELS:
        log(f"models: {spec['name']}")
        entries.append(make_model_fixture(spec, root))
    # Remove folders of models that are no longer in the zoo (only ones this script made).
    known = {m["name"] for m in MODELS}
    for d in os.listdir(root):
        if os.path.isdir(os.path.join(root, d)) and d not in known and \
                os.path.exists(os.path.join(root, d, "golden")):
            shutil.rmtree(os.path.join(root, d))
    manifest = dict(
        generator="tools/make_fixtures.py", reference="transformers ViTMSNModel / ViTMSNForImageClassification",
        attn_implementation=ATTN_IMPLEMENTATION, dtype="float32",
        layout=dict(pixel_values="[B, 3, H, W] float32",
                    last_hidden_state="[B, S, D] float32 (after the final LayerNorm)",
                    hidden_states="[L+1, B, S, D] float32: embedding output then each layer output, "
                                  "before the final LayerNorm",
                    logits="[B, num_labels] float32 (head models only)",
                    case_json="{batch, height, width, interpolate_pos_encoding}"),
        models=entries)
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    with open(os.path.join(root, "VERSIONS.txt"), "w") as f:
        f.write(versions_text(" ".join(["tools/make_fixtures.py"] + args.argv)))


DEMO_PREPROCESSOR = {
    # The 2022 Hub form of facebook/vit-msn-* (spec 2.3): legacy feature-extractor keys,
    # size as a plain int, no rescale keys (defaults do_rescale=True, 1/255).
    "do_normalize": True, "do_resize": True, "feature_extractor_type": "ViTFeatureExtractor",
    "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD, "resample": 2, "size": 224,
}

DEMO_README = """# Demo checkpoint (random weights)

This is a **randomly initialised** ViT-MSN encoder, made for demos and tests only. It has
never been trained: its embeddings carry no meaning about image content. Use a real
`facebook/vit-msn-*` checkpoint (see docs/models.md) for actual features.

It exists so that real-size photos go through the real preprocessing path
(resize to 224x224, ImageNet mean/std) and a complete model can be loaded and run without
downloading hundreds of megabytes.

- Architecture: `ViTMSNModel` (`model_type` `vit_msn`), image 224, patch 16 (14x14 grid, 197 tokens),
  hidden size {hidden}, {heads} heads (head_dim {head_dim}), {layers} layers, MLP width {inter},
  LayerNorm eps 1e-6, GELU (erf), qkv bias.
- Files: `config.json` (written by transformers' `save_pretrained`), `model.safetensors` (F32,
  Hub key names without prefix), `preprocessor_config.json` in the same 2022 form as the Hub's
  `facebook/vit-msn-*` files (`size: 224`, `resample: 2` = bilinear, ImageNet mean/std).
- Made by `tools/make_fixtures.py` (section `demo`) with fixed seeds; weights drawn from normal
  distributions (std 0.1, query/key matrices std 0.2, LayerNorm gains 1 +/- 0.2, cls/position
  embeddings std 0.5).
  Versions used:

```
{versions}```
"""


def section_demo(args):
    folder = args.demo_dir
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    spec = DEMO
    cfg = make_config(spec)
    torch.manual_seed(seed_for("demo", "init"))
    model = ViTMSNModel(cfg).eval()
    randomize(model, seed_for("demo", "weights"))
    model.save_pretrained(folder, safe_serialization=True)
    check_hub_layout(folder, cfg, "", {})
    with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
        f.write(json.dumps(DEMO_PREPROCESSOR, indent=2, sort_keys=True) + "\n")
    # Check: it loads back with the processor transformers picks for it and gives sane features.
    from transformers import AutoImageProcessor
    proc = AutoImageProcessor.from_pretrained(folder, backend="pil")
    assert (proc.size.height, proc.size.width) == (224, 224) and proc.resample == 2 and proc.do_rescale
    back = load_fp32(ViTMSNModel, folder)
    x = torch.randn((1, 3, 224, 224), generator=torch.Generator().manual_seed(seed_for("demo", "check")))
    with torch.no_grad():
        y = back(pixel_values=x).last_hidden_state
    assert y.shape == (1, 197, spec["hidden"]) and torch.isfinite(y).all() and y.std() > 0.3
    attention_check(back, x, "demo")
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write(DEMO_README.format(hidden=spec["hidden"], heads=spec["heads"],
                                   head_dim=spec["hidden"] // spec["heads"], layers=spec["layers"],
                                   inter=spec["inter"],
                                   versions=versions_text("tools/make_fixtures.py (section demo)")))
    log(f"demo: {folder}")


def section_large(args):
    """vit-msn-large-shaped random checkpoint for benchmarks; tensors made one at a time."""
    out = args.large
    os.makedirs(out, exist_ok=True)
    cfg = ViTMSNConfig(**LARGE_CONFIG)
    cfg.architectures = ["ViTMSNModel"]
    cfg.save_pretrained(out)
    ViTImageProcessorPil(do_resize=True, size={"height": 224, "width": 224}, resample=2,
                         image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD).save_pretrained(out)
    gen = torch.Generator().manual_seed(seed_for("large", "weights"))
    # Realistic magnitudes for 24 layers: transformers' std 0.02, LayerNorm gains 1 +/- 0.04.
    state = {k: random_value(k, s, gen, 0.02) for k, s in hub_key_shapes(cfg)}
    nparams = sum(t.numel() for t in state.values())
    if args.large_format in ("bin", "both"):
        write_legacy_bin_inplace(state, os.path.join(out, "pytorch_model.bin"))
    if args.large_format in ("safetensors", "both"):
        safetensors.torch.save_file(state, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    log(f"large: {out} ({nparams} parameters, {len(state)} tensors, {args.large_format})")


def write_legacy_bin_inplace(state, path):
    """Like write_legacy_bin without copying the tensors (they are already fp32 and contiguous)."""
    from collections import OrderedDict
    torch.save(OrderedDict((k, state[k]) for k in sorted(state)), path)


SECTIONS = {
    "models": section_models,
    "demo": section_demo,
    # "images": image fixtures are made by tools/make_image_fixtures.py (image area); hook it in here
    # as another section if one command should regenerate everything.
}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)")
    ap.add_argument("--models-dir", default=DEFAULT_MODELS_DIR)
    ap.add_argument("--demo-dir", default=DEFAULT_DEMO_DIR)
    ap.add_argument("--large", metavar="OUTDIR",
                    help="only write the vit-msn-large-shaped benchmark checkpoint into OUTDIR")
    ap.add_argument("--large-format", choices=("safetensors", "bin", "both"), default="both")
    args = ap.parse_args(argv)
    args.argv = argv
    torch.set_num_threads(1)  # bit-reproducible float reductions across machines with different core counts
    torch.use_deterministic_algorithms(True)
    if args.large:
        section_large(args)
        return 0
    for sec in args.sections.split(","):
        if sec not in SECTIONS:
            ap.error(f"unknown section {sec!r}")
        SECTIONS[sec](args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
