"""Model.run against the committed transformers golden outputs (tests/fixtures/models, made by
tools/make_fixtures.py) on every backend built, with the bound the C suites use:
max|ours - theirs| <= 1e-4 * max(1, max|theirs|)."""

import json

import numpy as np
import pytest

import vitcl

from conftest import BACKENDS, MODELS

MANIFEST = json.loads((MODELS / "manifest.json").read_text())
CASES = [(m["folder"], c["name"]) for m in MANIFEST["models"] for c in m["cases"]]


def assert_close(ours, theirs, what):
    assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
    bound = 1e-4 * max(1.0, float(np.abs(theirs).max()))
    err = float(np.abs(ours.astype(np.float64) - theirs.astype(np.float64)).max())
    assert err <= bound, f"{what}: max error {err:.3g} > bound {bound:.3g}"


@pytest.fixture(scope="module", params=BACKENDS)
def models(request):
    """Every fixture model loaded once on one backend."""
    loaded = {m["folder"]: vitcl.Model(MODELS / m["folder"], backend=request.param)
              for m in MANIFEST["models"]}
    yield request.param, loaded
    for m in loaded.values():
        m.close()


@pytest.mark.parametrize("folder,case", CASES, ids=[f"{f}/{c}" for f, c in CASES])
def test_run_matches_transformers(models, folder, case):
    backend, loaded = models
    m = loaded[folder]
    assert m.info["backend"] == backend
    g = MODELS / folder / "golden" / case
    meta = json.loads((g / "case.json").read_text())
    px = np.load(g / "pixel_values.npy")
    out = m.run(px, interpolate_pos_encoding=meta["interpolate_pos_encoding"], hidden_states=True)
    assert set(out) >= {"last_hidden_state", "hidden_states"}
    assert_close(out["last_hidden_state"], np.load(g / "last_hidden_state.npy"),
                 f"{backend} {folder}/{case} last_hidden_state")
    hs = np.load(g / "hidden_states.npy")
    assert len(out["hidden_states"]) == hs.shape[0]
    for i, h in enumerate(out["hidden_states"]):
        assert_close(h, hs[i], f"{backend} {folder}/{case} hidden_states[{i}]")
    if (g / "logits.npy").exists():
        assert_close(out["logits"], np.load(g / "logits.npy"), f"{backend} {folder}/{case} logits")
    else:
        assert "logits" not in out


def test_run_returns_array_without_hidden_states():
    folder = "d48_h4_l2_p8_s32"
    g = MODELS / folder / "golden" / "native_b3"
    with vitcl.Model(MODELS / folder, backend="ref") as m:
        out = m.run(np.load(g / "pixel_values.npy"))
        assert isinstance(out, np.ndarray) and out.dtype == np.float32
        assert out.flags.c_contiguous and not out.flags.owndata  # a view of the library's buffer
        assert_close(out, np.load(g / "last_hidden_state.npy"), "last_hidden_state")


def test_run_converts_noncontiguous_float32_once():
    folder = "d48_h4_l2_p8_s32"
    g = MODELS / folder / "golden" / "native_b3"
    px = np.load(g / "pixel_values.npy")
    # the same values through a strided (non-contiguous) view: converted, same result
    wide = np.zeros(px.shape[:-1] + (2 * px.shape[-1],), np.float32)
    wide[..., ::2] = px
    view = wide[..., ::2]
    assert not view.flags.c_contiguous
    with vitcl.Model(MODELS / folder, backend="ref") as m:
        np.testing.assert_array_equal(m.run(view), m.run(px))


def test_outputs_outlive_the_model():
    folder = "d48_h4_l2_p8_s32"
    g = MODELS / folder / "golden" / "native_b1"
    m = vitcl.Model(MODELS / folder, backend="ref")
    out = m.run(np.load(g / "pixel_values.npy"), hidden_states=True)
    m.close()
    assert_close(out["last_hidden_state"], np.load(g / "last_hidden_state.npy"), "after close")
    assert out["hidden_states"][0].shape == out["last_hidden_state"].shape


def test_config_and_info():
    with vitcl.Model(MODELS / "cls5_d48_h6_l2_p6_s36", backend="ref") as m:
        c, i = m.config, m.info
        ref = json.loads((MODELS / "cls5_d48_h6_l2_p6_s36" / "config.json").read_text())
        for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                  "intermediate_size", "patch_size", "image_size"):
            assert c[k] == ref[k], k
        assert c["num_labels"] == 5
        assert i["backend"] == "ref" and i["device"] and i["precision"] == "fp32"
        assert i["parameter_count"] > 0
    assert m.closed
