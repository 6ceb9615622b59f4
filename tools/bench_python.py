#!/usr/bin/env python3
"""Benchmark (not a test): Model.run from Python against `vitcl bench`, same backend, same
plugin files, same model, batch and input size.

Each round runs `vitcl bench MODEL --backend B --batch N --json` (with VITCL_PLUGIN_PATH set to
the package's plugins folder, so both sides run identical plugin code) and then times
Model.run in this process with the same warm-up and timed run counts; both report
batch / median run time. Rounds alternate so that load from other processes hits both
sides alike; the figure is the median over rounds of python / cli throughput.

    .venv-python/bin/python -P tools/bench_python.py --backend cpu [--model DIR] [--batch 8]
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import time

import numpy as np

import vitcl

REPO = pathlib.Path(__file__).resolve().parents[1]


def cli_throughput(cli, model, backend, batch, warmup, iters, plugin_dir):
    env = dict(os.environ, VITCL_PLUGIN_PATH=plugin_dir)
    r = subprocess.run([cli, "bench", model, "--backend", backend, "--batch", str(batch),
                        "--warmup", str(warmup), "--iters", str(iters), "--json"],
                       env=env, capture_output=True, text=True, check=True)
    line = [x for x in r.stdout.splitlines() if x.startswith("{")][-1]
    return json.loads(line)["images_per_s"]


def python_throughput(m, px, warmup, iters):
    for _ in range(warmup):
        m.run(px)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        out = m.run(px)
        del out
        times.append(time.perf_counter() - t)
    return px.shape[0] / statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "tests" / "fixtures" / "demo"))
    ap.add_argument("--backend", action="append", help="repeatable; default: every built")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cli", default=os.environ.get("VITCL_CLI",
                                                    str(REPO / "build" / "host" / "cli" / "vitcl")))
    a = ap.parse_args()
    plugin_dir = str(pathlib.Path(vitcl.__file__).parent / "plugins")
    backends = a.backend or sorted({d["plugin"] for d in vitcl.devices() if d["plugin"]})
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"model {a.model}; batch {a.batch}; {a.warmup} warm-up + {a.iters} timed runs; "
          f"{a.rounds} alternating rounds")
    worst = None
    for b in backends:
        with vitcl.Model(a.model, backend=b) as m:
            c = m.config
            s = c["image_size"]
            rng = np.random.default_rng(0)
            px = rng.uniform(-2, 2, (a.batch, c["num_channels"], s, s)).astype(np.float32)
            ratios, cli_v, py_v = [], [], []
            for _ in range(a.rounds):
                ct = cli_throughput(a.cli, a.model, b, a.batch, a.warmup, a.iters, plugin_dir)
                pt = python_throughput(m, px, a.warmup, a.iters)
                cli_v.append(ct)
                py_v.append(pt)
                ratios.append(pt / ct)
            r = statistics.median(ratios)
            worst = r if worst is None else min(worst, r)
            print(f"{b:8s} vitcl bench {statistics.median(cli_v):9.2f} img/s   Model.run "
                  f"{statistics.median(py_v):9.2f} img/s   python/cli {r:.3f} "
                  f"(rounds: {', '.join(f'{x:.3f}' for x in ratios)})  "
                  f"{'within 3%' if r >= 0.97 else 'SLOWER than 3%'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
