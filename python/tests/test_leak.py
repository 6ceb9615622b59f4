"""A Model is freed: 1000 load/run/close cycles do not grow the resident set."""

import numpy as np
import pytest

import vitcl

from conftest import MODELS

MODEL = MODELS / "d32_h4_l1_p7_s30"


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_1000_create_close_cycles_do_not_leak(backend):
    px = np.load(MODEL / "golden" / "native_b1" / "pixel_values.npy")

    def cycle():
        m = vitcl.Model(MODEL, backend=backend)
        out = m.run(px, hidden_states=True)
        m.close()
        del out

    for _ in range(50):  # warm up: allocator pools, plugin caches, first-use state
        cycle()
    before = rss_bytes()
    for _ in range(1000):
        cycle()
    grown = rss_bytes() - before
    # a Model of this checkpoint holds ~60 KiB of weights plus its contexts: leaking one per
    # cycle would add tens of MiB
    assert grown < 4 << 20, f"{backend}: RSS grew {grown / 2**20:.1f} MiB over 1000 cycles"
