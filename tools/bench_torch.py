#!/usr/bin/env python3
"""PyTorch baseline for `vitcl bench`: transformers' ViTMSNModel on the same checkpoint.

Prints the same figures as `vitcl bench` (images/s, ms per image median/min/max, GFLOP/s,
model load, time to first result, peak RSS) for fp32 inference under torch.no_grad().

To report PyTorch at its fastest reasonable setting, the default mode tries each candidate
setting (thread count x OMP_WAIT_POLICY) in a fresh subprocess, since OMP settings only take
effect before torch starts, and reports every one plus the fastest. --json prints the fastest
as one JSON line for scripts/bench.sh.

Versions are pinned in tools/requirements.txt (torch from PyPI, as a user installs it).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def flops(cfg, batch, h, w):
    d, i, p = cfg.hidden_size, cfg.intermediate_size, cfg.patch_size
    n = (h // p) * (w // p)
    s = n + 1
    t = batch * s
    per_layer = 2 * t * d * 3 * d + 2 * 2 * batch * s * s * d + 2 * t * d * d + 2 * 2 * t * d * i
    return cfg.num_hidden_layers * per_layer + 2 * batch * n * d * cfg.num_channels * p * p


def run_once(args):
    """Measures one setting in this process; prints one JSON line."""
    t0 = time.perf_counter()
    import torch
    from transformers import ViTMSNModel

    torch.set_num_threads(args.threads)
    model = ViTMSNModel.from_pretrained(args.model_dir, dtype=torch.float32,
                                        attn_implementation=args.attn)
    model.eval()
    t_load = time.perf_counter()
    cfg = model.config
    h, w = (args.size or (cfg.image_size, cfg.image_size))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(args.batch, cfg.num_channels, h, w, generator=gen) * 4 - 2
    interp = (h, w) != (cfg.image_size, cfg.image_size)
    times = []
    t_first = None
    with torch.no_grad():
        for i in range(args.warmup + args.iters):
            a = time.perf_counter()
            model(pixel_values=x, interpolate_pos_encoding=interp)
            b = time.perf_counter()
            if t_first is None:
                t_first = b
            if i >= args.warmup:
                times.append(b - a)
    med = statistics.median(times)
    res = {
        "backend": "pytorch",
        "torch": torch.__version__,
        "threads": args.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "attn": args.attn,
        "batch": args.batch,
        "images_per_s": args.batch / med,
        "ms_per_image_median": med * 1e3 / args.batch,
        "ms_per_image_min": min(times) * 1e3 / args.batch,
        "ms_per_image_max": max(times) * 1e3 / args.batch,
        "gflops": flops(cfg, args.batch, h, w) * 1e-9 / med,
        "load_ms": (t_load - t0) * 1e3,
        "first_result_ms": (t_first - t0) * 1e3,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--size", type=lambda s: tuple(int(v) for v in s.split("x")), default=None)
    ap.add_argument("--threads", type=int, default=0, help="one setting only (default: sweep)")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.once:
        run_once(args)
        return
    ncpu = os.cpu_count() or 1
    threads = [args.threads] if args.threads else sorted({ncpu, max(1, ncpu // 2)}, reverse=True)
    results = []
    for t in threads:
        for policy in ("PASSIVE", "ACTIVE"):
            env = dict(os.environ, OMP_WAIT_POLICY=policy)
            cmd = [sys.executable, __file__, "--once", args.model_dir, "--batch", str(args.batch),
                   "--iters", str(args.iters), "--warmup", str(args.warmup), "--threads", str(t),
                   "--attn", args.attn]
            if args.size:
                cmd += ["--size", "%dx%d" % args.size]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                sys.exit(1)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            if not args.json:
                print("threads %d OMP_WAIT_POLICY=%-7s %.3f images/s, %.1f ms/image (min %.1f, max %.1f)"
                      % (t, policy, r["images_per_s"], r["ms_per_image_median"],
                         r["ms_per_image_min"], r["ms_per_image_max"]))
    best = max(results, key=lambda r: r["images_per_s"])
    if args.json:
        print(json.dumps(best))
        return
    print("fastest: threads %d, OMP_WAIT_POLICY=%s (torch %s, attn %s)"
          % (best["threads"], best["omp_wait_policy"], best["torch"], best["attn"]))
    print("throughput   %.3f images/s" % best["images_per_s"])
    print("per image    median %.1f ms, min %.1f ms, max %.1f ms"
          % (best["ms_per_image_median"], best["ms_per_image_min"], best["ms_per_image_max"]))
    print("compute      %.1f GFLOP/s" % best["gflops"])
    print("model load   %.1f ms (including import torch)" % best["load_ms"])
    print("first result %.1f ms after start" % best["first_result_ms"])
    print("peak RSS     %.1f MB" % best["peak_rss_mb"])


if __name__ == "__main__":
    main()
