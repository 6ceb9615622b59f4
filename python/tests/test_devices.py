"""vitcl.devices() and the plugins built with the package."""

import subprocess

import vitcl

from conftest import BACKENDS, cli_path


def test_devices_lists_every_built_backend():
    devs = vitcl.devices()
    accepted = {d["plugin"] for d in devs if d["plugin"] is not None}
    refused = [d for d in devs if d["plugin"] is None]
    assert BACKENDS, "the package has no plugin files"
    assert "ref" in BACKENDS
    # every plugin file shipped in the package must load: a refused one would go untested
    assert set(BACKENDS) <= accepted, f"refused: {refused}"
    for d in devs:
        if d["plugin"] is None:
            assert d["refused"] and d["plugin_path"]
            continue
        assert isinstance(d["device"], int) and d["device"] >= 0
        assert d["type"] in ("cpu", "gpu", "accelerator", "other")
        assert isinstance(d["capabilities"], list)
        assert d["name"] and d["plugin_path"]
        # fp32 always, first; then only known names, each once, in the library's order
        assert d["precisions"][0] == "fp32", d
        assert d["precisions"] == [p for p in ("fp32", "bf16", "fp16") if p in d["precisions"]]
        assert isinstance(d["precision_notes"], str)


def test_devices_precisions_match_the_cli():
    # `vitcl devices` prints the same list for each device of the package's plugins
    out = subprocess.run([str(cli_path()), "devices"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    for d in vitcl.devices():
        if d["plugin"] not in ("ref",):
            continue
        block = out.split("\nplugin %s " % d["plugin"])[1].split("\nplugin ")[0]
        assert "    precisions: %s\n" % ", ".join(d["precisions"]) in block, block


def test_error_classes_match_library_statuses():
    for status, cls in vitcl.errors.ERROR_BY_STATUS.items():
        assert issubclass(cls, vitcl.Error)
        name = vitcl._vitcl._status_name(status)
        assert name.startswith("VITCL_ERR_"), name
        assert "VITCL_ERR_" + "".join(c for c in cls.__doc__.split("(VITCL_ERR_")[1].split(")")[0]) \
            == name, (cls, name)
