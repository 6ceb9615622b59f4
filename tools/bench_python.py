#!/usr/bin/env python3
"""Benchmark (not a test): Model.run from Python against `vitcl bench`, same backend, same
plugin files, same model, batch and input size.

Each round runs `vitcl bench MODEL --backend B --batch N --json` (with VITCL_PLUGIN_PATH set to
the package's plugins folder, so both sides run identical plugin code) and then times
Model.run in this process with the same warm-up and timed run counts; both report
batch / median run time. Rounds alternate so that load from other processes hits both
sides alike. Two figures per backend: the median over rounds of python / cli median
throughput, and the ratio of the best runs (batch / fastest run over all rounds), which
other processes' load disturbs least.

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
    line = json.loads([x for x in r.stdout.splitlines() if x.startswith("{")][-1])
    return line["images_per_s"], 1e3 / line["ms_per_image_min"]


def python_throughput(m, px, warmup, iters):
    for _ in range(warmup):
        m.run(px)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        out = m.run(px)
        del out
        times.append(time.perf_counter() - t)
    return px.shape[0] / statistics.median(times), px.shape[0] / min(times)


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


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
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"model {a.model}; batch {a.batch}; {a.warmup} warm-up + {a.iters} timed runs; "
          f"{a.rounds} alternating rounds")
    for b in backends:
        with vitcl.Model(a.model, backend=b) as m:
            c = m.config
            s = c["image_size"]
            rng = np.random.default_rng(0)
            px = rng.uniform(-2, 2, (a.batch, c["num_channels"], s, s)).astype(np.float32)
            ratios, cli_med, py_med, cli_best, py_best = [], [], [], [], []
            for _ in range(a.rounds):
                cm, cb = cli_throughput(a.cli, a.model, b, a.batch, a.warmup, a.iters, plugin_dir)
                pm, pb = python_throughput(m, px, a.warmup, a.iters)
                cli_med.append(cm)
                py_med.append(pm)
                cli_best.append(cb)
                py_best.append(pb)
                ratios.append(pm / cm)
            r = statistics.median(ratios)
            best = max(py_best) / max(cli_best)
            print(f"{b:8s} median: vitcl bench {statistics.median(cli_med):8.2f} img/s, Model.run "
                  f"{statistics.median(py_med):8.2f} img/s, python/cli {r:.3f} "
                  f"(rounds {', '.join(f'{x:.2f}' for x in ratios)}); best runs: "
                  f"{max(cli_best):8.2f} vs {max(py_best):8.2f} img/s, python/cli {best:.3f} "
                  f"{'(within 3%)' if best >= 0.97 else '(SLOWER by more than 3%)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
