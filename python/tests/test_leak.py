"""A Model is freed: 1000 load/run/close cycles do not grow the resident set.

The cycles run in a fresh interpreter per backend, so the figure measures the cycles alone and
not what other tests of this session left open. (Known and reported, not hidden: on the opencl
backend on PoCL, the resident set grows by about 7 KiB a cycle while a second opencl Model stays
open in the same process; see docs/python.md.)
"""

import subprocess
import sys

from conftest import MODELS

MODEL = MODELS / "d32_h4_l1_p7_s30"

CYCLES = r"""
import sys
import numpy as np
import vitcl

model, backend = sys.argv[1], sys.argv[2]
px = np.load(model + "/golden/native_b1/pixel_values.npy")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def cycle():
    m = vitcl.Model(model, backend=backend)
    out = m.run(px, hidden_states=True)
    m.close()
    del out


for _ in range(50):  # warm up: allocator pools, plugin caches, first-use state
    cycle()
before = rss_bytes()
for _ in range(1000):
    cycle()
print(rss_bytes() - before)
"""


def test_1000_create_close_cycles_do_not_leak(backend):
    done = subprocess.run([sys.executable, "-P", "-c", CYCLES, str(MODEL), backend],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{backend}: the cycles failed:\n{done.stderr}"
    grown = int(done.stdout.strip().splitlines()[-1])
    # a Model of this checkpoint holds ~60 KiB of weights plus its contexts: leaking one per
    # cycle would add tens of MiB
    assert grown < 4 << 20, f"{backend}: RSS grew {grown / 2**20:.1f} MiB over 1000 cycles"
