"""Model.embed: against transformers' last_hidden_state for the demo checkpoint (the image
fixtures' lhs_demo, tools/make_image_fixtures.py), bit for bit against `vitcl embed` on every
sample image and every backend, and the same rows whatever form the images come in."""

import os
import subprocess

import numpy as np
import pytest
from PIL import Image

import vitcl

from conftest import DEMO, IMAGES, PLUGIN_DIR, cli_path, sample_images

LHS_IMAGES = ["jpg_baseline_astronaut_320x256.jpg", "jpg_cmyk_chelsea_150x100.jpg",
              "png_gray16_40x30.png"]


def assert_close(ours, theirs, what):
    bound = 1e-4 * max(1.0, float(np.abs(theirs).max()))
    err = float(np.abs(ours.astype(np.float64) - theirs.astype(np.float64)).max())
    assert err <= bound, f"{what}: max error {err:.3g} > bound {bound:.3g}"


@pytest.fixture(scope="module")
def demo_models():
    cache = {}
    yield lambda backend: cache.setdefault(backend, vitcl.Model(DEMO, backend=backend))
    for m in cache.values():
        m.close()


def test_embed_matches_transformers(demo_models, backend):
    m = demo_models(backend)
    paths = [str(IMAGES / "src" / n) for n in LHS_IMAGES]
    golden = np.stack([np.load(IMAGES / "golden" / (n.rsplit(".", 1)[0] + ".npz"))["lhs_demo"][0]
                       for n in LHS_IMAGES])
    none = m.embed(paths, pool="none")
    assert none.dtype == np.float32 and none.shape == golden.shape
    assert_close(none, golden, f"{backend} pool=none")
    cls = m.embed(paths, pool="cls")
    assert cls.shape == (3, golden.shape[2])
    assert_close(cls, golden[:, 0], f"{backend} pool=cls")
    assert_close(m.embed(paths, pool="mean"), golden.mean(axis=1), f"{backend} pool=mean")


@pytest.mark.parametrize("pool", ["cls", "mean", "none"])
def test_embed_equals_cli_bit_for_bit(demo_models, backend, pool, tmp_path):
    cli = cli_path()
    assert cli.is_file(), f"{cli} missing: build the C project (tools/test.sh does) or set VITCL_CLI"
    paths = sample_images()
    out = tmp_path / "cli.npy"
    # the CLI loads the package's own plugin files, so both sides run the same plugin code
    env = dict(os.environ, VITCL_PLUGIN_PATH=str(PLUGIN_DIR))
    r = subprocess.run([str(cli), "embed", str(DEMO), *paths, "--backend", backend, "--pool",
                        pool, "--batch", "8", "-o", str(out)], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    listed = (tmp_path / "cli.paths.txt").read_text().splitlines()
    assert listed == paths  # the CLI embedded every image, in order
    theirs = np.load(out)
    ours = demo_models(backend).embed(paths, pool=pool, batch_size=8)
    assert ours.dtype == theirs.dtype == np.float32
    assert ours.shape == theirs.shape
    assert ours.tobytes() == theirs.tobytes(), \
        f"{backend} pool={pool}: {np.count_nonzero(ours != theirs)} values differ"


def test_every_input_form_gives_the_same_rows(demo_models):
    m = demo_models("ref")
    paths = sample_images()[:6]
    by_path = m.embed(paths)
    by_bytes = m.embed([open(p, "rb").read() for p in paths])
    pil = [Image.open(p) for p in paths]
    by_pil = m.embed(pil)
    by_array = m.embed([np.asarray(im.convert("RGB")) for im in pil])
    assert by_path.tobytes() == by_bytes.tobytes()
    assert by_path.tobytes() == by_pil.tobytes()
    assert by_path.tobytes() == by_array.tobytes()
    # a pathlib.Path and a mixed list work too
    import pathlib
    mixed = m.embed([pathlib.Path(paths[0]), by_array_src(paths[1]), open(paths[2], "rb").read()])
    assert mixed.tobytes() == by_path[:3].tobytes()


def by_array_src(p):
    return np.asarray(Image.open(p).convert("RGB"))


def test_embed_batch_sizes_and_empty(demo_models):
    m = demo_models("ref")
    paths = sample_images()[:5]
    one = m.embed(paths, batch_size=1)
    assert one.shape == (5, m.config["hidden_size"])
    assert m.embed([]).shape == (0, m.config["hidden_size"])
    with pytest.raises(vitcl.InvalidArgumentError, match="batch_size"):
        m.embed(paths, batch_size=0)
    with pytest.raises(vitcl.InvalidArgumentError, match="pool"):
        m.embed(paths, pool="max")


def test_embed_errors_name_the_input(demo_models, tmp_path):
    m = demo_models("ref")
    missing = str(tmp_path / "nope.png")
    with pytest.raises(vitcl.FileError, match="nope.png"):
        m.embed([missing])
    bad = str(IMAGES / "errors" / "truncated.png")
    with pytest.raises(vitcl.FormatError, match="truncated.png"):
        m.embed([bad])
    with pytest.raises(vitcl.FormatError, match=r"images\[0\]"):
        m.embed([b"not an image"])
    with pytest.raises(vitcl.InvalidArgumentError, match="uint8"):
        m.embed([np.zeros((4, 4, 3), np.float32)])
    with pytest.raises(vitcl.InvalidArgumentError, match="list"):
        m.embed(sample_images()[0])
    with pytest.raises(vitcl.InvalidArgumentError, match=r"images\[1\]"):
        m.embed([sample_images()[0], 42])
