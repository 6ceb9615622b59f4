"""Bad input raises a vitcl.Error subclass with the library's message, and prints nothing."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import vitcl

from conftest import MODELS, cli_path

MODEL = MODELS / "d48_h4_l2_p8_s32"


@pytest.fixture(scope="module")
def model():
    with vitcl.Model(MODEL, backend="ref") as m:
        yield m


def pixels(b=1, c=3, h=32, w=32, dtype=np.float32):
    return np.zeros((b, c, h, w), dtype)


def test_missing_folder(tmp_path, capfd):
    with pytest.raises(vitcl.NotFoundError, match="config.json"):
        vitcl.Model(tmp_path / "no-such-model", backend="ref")
    assert capfd.readouterr().err == ""


def test_bad_pickle(tmp_path, capfd):
    d = tmp_path / "bad"
    d.mkdir()
    shutil.copy(MODEL / "config.json", d / "config.json")
    (d / "pytorch_model.bin").write_bytes(b"PK\x03\x04 this is not a torch zip file at all")
    with pytest.raises(vitcl.Error, match="pytorch_model.bin") as err:
        vitcl.Model(d, backend="ref")
    assert isinstance(err.value, (vitcl.FormatError, vitcl.FileError))
    assert capfd.readouterr().err == ""


def test_truncated_safetensors(tmp_path):
    d = tmp_path / "trunc"
    d.mkdir()
    shutil.copy(MODEL / "config.json", d / "config.json")
    data = (MODEL / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(vitcl.FormatError, match="model.safetensors"):
        vitcl.Model(d, backend="ref")


def test_unknown_backend_and_device():
    with pytest.raises(vitcl.NotFoundError, match="nope"):
        vitcl.Model(MODEL, backend="nope")
    with pytest.raises(vitcl.NotFoundError):
        vitcl.Model(MODEL, backend="ref", device=99)
    with pytest.raises(TypeError):
        vitcl.Model(MODEL, backend="ref", device=1.5)


def test_precision_names_are_checked_by_the_library():
    for bad in ("int8", "BF16", "", "fp32 "):
        with pytest.raises(vitcl.InvalidArgumentError,
                           match=r"precision: unknown precision '.*' \(valid: fp32, bf16, fp16\)"):
            vitcl.Model(MODEL, backend="ref", precision=bad)
    with pytest.raises(TypeError):
        vitcl.Model(MODEL, backend="ref", precision=16)


def test_offered_precisions_load_and_the_others_are_refused_by_name():
    # ref emulates every precision: each loads and says so; on every device, a precision it
    # does not list is refused before any weight is read (the ABI 1.0 skeleton below always
    # has such a precision).
    ref = next(d for d in vitcl.devices() if d["plugin"] == "ref")
    assert ref["precisions"] == ["fp32", "bf16", "fp16"]
    for p in ref["precisions"]:
        with vitcl.Model(MODEL, backend="ref", precision=p) as m:
            assert m.info["precision"] == p
            assert np.isfinite(m.run(np.zeros((1, 3, 32, 32), np.float32) + 0.5)).all()
    for dev in vitcl.devices():
        if dev["plugin"] is None:
            continue
        for p in (q for q in ("bf16", "fp16") if q not in dev["precisions"]):
            with pytest.raises(vitcl.UnsupportedError,
                               match=p + ": plugin '%s' \\(ABI 1\\." % dev["plugin"]) as ei:
                vitcl.Model(MODEL, backend=dev["plugin"], device=dev["device"], precision=p)
            assert "runs fp32" in str(ei.value)


def test_abi_1_0_plugin_refuses_bf16():
    # The plugin skeleton built against the frozen ABI 1.0 headers (tests/abi10) runs fp32
    # only; a fresh interpreter, since the registry is opened once per process.
    skel = cli_path().resolve().parents[2] / "tests" / "abi10" / "vitcl_skeleton_abi10.so"
    assert skel.is_file(), "build the C tree first (tools/test.sh does): no %s" % skel
    code = textwrap.dedent("""
        import sys, vitcl
        dev = [d for d in vitcl.devices() if d["plugin"] == "skeleton"]
        assert dev and dev[0]["precisions"] == ["fp32"], dev
        assert dev[0]["precision_notes"] == ""
        with vitcl.Model(sys.argv[1], backend="skeleton") as m:
            assert m.info["precision"] == "fp32"
        try:
            vitcl.Model(sys.argv[1], backend="skeleton", precision="bf16")
        except vitcl.UnsupportedError as e:
            print(e)
        else:
            raise SystemExit("bf16 was not refused")
    """)
    env = dict(os.environ, VITCL_PLUGIN_PATH=str(skel))
    r = subprocess.run([sys.executable, "-P", "-c", code, str(MODEL)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "bf16: plugin 'skeleton' (ABI 1.0) on device '" in r.stdout
    assert "runs fp32 only" in r.stdout


def test_wrong_dtype(model, capfd):
    for dt in (np.float64, np.float16, np.uint8, np.int32):
        with pytest.raises(vitcl.InvalidArgumentError, match="float32"):
            model.run(pixels(dtype=dt))
    with pytest.raises(vitcl.InvalidArgumentError, match="float32"):
        model.run(pixels().astype(">f4"))  # byte-swapped float32
    with pytest.raises(vitcl.InvalidArgumentError, match="ndarray"):
        model.run([[[[0.0]]]])
    assert capfd.readouterr().err == ""


def test_wrong_shape(model):
    with pytest.raises(vitcl.InvalidArgumentError, match="shape"):
        model.run(np.zeros((3, 32, 32), np.float32))
    with pytest.raises(vitcl.InvalidArgumentError, match="shape"):
        model.run(pixels(c=1))
    with pytest.raises(vitcl.InvalidArgumentError, match="shape"):
        model.run(pixels(b=0))
    # a size other than the model's needs interpolate_pos_encoding: the library says so
    with pytest.raises(vitcl.InvalidArgumentError, match="interpolate_pos_encoding"):
        model.run(pixels(h=40, w=40))
    assert model.run(pixels(h=40, w=40), interpolate_pos_encoding=True).shape == (1, 26, 48)


def test_closed_model():
    m = vitcl.Model(MODEL, backend="ref")
    m.close()
    m.close()  # idempotent
    assert m.closed
    with pytest.raises(vitcl.Error, match="closed"):
        m.run(pixels())
    with pytest.raises(vitcl.Error, match="closed"):
        m.embed([b""])
    assert "closed" in repr(m)


def test_error_carries_status():
    with pytest.raises(vitcl.Error) as err:
        vitcl.Model(MODEL, backend="nope")
    assert err.value.status == 6 and "nope" in err.value.message
