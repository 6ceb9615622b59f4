#!/usr/bin/env python3
"""Other inference engines for `scripts/bench.sh`: ONNX Runtime, OpenVINO and PyTorch bf16.

Engines (one per process, so each one's threads and peak RSS are its own):
  ort-fp32     ONNX Runtime, CPU execution provider, fp32, on an opset-17 ONNX export
  ov-fp32      OpenVINO on the same ONNX file, INFERENCE_PRECISION_HINT f32
  ov-default   OpenVINO at its default precision for this CPU (bf16 where the CPU has AMX or
               AVX512-BF16, f32 elsewhere; the row says which it ran)
  torch-bf16   transformers' ViTMSNModel under torch.autocast("cpu", dtype=torch.bfloat16)

Each prints the same figures as tools/bench_torch.py (one JSON line with --json) and, measured
in the same process before timing, its error on one fixed image against a float64 transformers
forward of the same checkpoint: max|ours - ref| / max(1, max|ref|) over last_hidden_state, and
the cosine of the CLS embeddings (the accuracy contract of issue 11 uses both).

  tools/bench_peers.py prepare MODEL_DIR [--ref-only] ONNX export + reference (cached in
                       MODEL_DIR); --ref-only writes just the reference
  tools/bench_peers.py score MODEL_DIR --vitcl BIN --backend B [--precision P]
                       the same error figures for a vitcl row: runs `vitcl run` on the fixed
                       image and prints {"max_err_rel", "cls_cosine"} as one JSON line
  tools/bench_peers.py ENGINE MODEL_DIR --batch B --threads T [--iters N --warmup W --json]

Versions are pinned in tools/requirements-bench.txt (on top of tools/requirements.txt).
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import flops  # noqa: E402  (one FLOP count for every row)

ENGINES = ("ort-fp32", "ov-fp32", "ov-default", "torch-bf16")


def paths(model_dir):
    """The ONNX export (its weights beside it in model.onnx.data) and the reference file."""
    return (os.path.join(model_dir, "bench-onnx", "model.onnx"),
            os.path.join(model_dir, "bench-ref.npz"))


def load_torch_model(model_dir, dtype):
    import torch
    from transformers import ViTMSNModel
    model = ViTMSNModel.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager")
    model.eval()
    return torch, model


def prepare(model_dir, ref_only=False):
    """Writes the ONNX export (batch axis dynamic) and the float64 reference, unless present;
    with ref_only just the reference (what `score` needs when no peer runs)."""
    onnx_path, ref_path = paths(model_dir)
    if os.path.exists(ref_path) and (ref_only or os.path.exists(onnx_path)):
        print("prepared earlier: %s and %s" % (onnx_path, ref_path))
        return
    torch, model = load_torch_model(model_dir, None)
    cfg = model.config
    if not os.path.exists(ref_path):
        rng = np.random.default_rng(0)
        x = rng.uniform(-2, 2, (1, cfg.num_channels, cfg.image_size, cfg.image_size))
        with torch.no_grad():
            ref = model.double()(pixel_values=torch.from_numpy(x)).last_hidden_state.numpy()
        np.savez(ref_path, x=x.astype(np.float32), ref=ref)
        model.float()
    if ref_only:
        print("prepared %s" % ref_path)
        return
    if not os.path.exists(onnx_path):
        class Hidden(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, pixel_values):
                return self.m(pixel_values=pixel_values).last_hidden_state

        x = torch.zeros(1, cfg.num_channels, cfg.image_size, cfg.image_size)
        batch = torch.export.Dim("batch", min=1, max=64)
        # Into a fresh folder renamed when complete: the .onnx file names its data file, so the
        # pair must keep its names.
        final = os.path.dirname(onnx_path)
        tmp = final + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        torch.onnx.export(Hidden(model.float()), (x,), os.path.join(tmp, "model.onnx"),
                          input_names=["pixel_values"], output_names=["last_hidden_state"],
                          opset_version=17, dynamo=True,
                          dynamic_shapes={"pixel_values": {0: batch}}, external_data=True)
        os.replace(tmp, final)
    print("prepared %s and %s" % (onnx_path, ref_path))


def error_vs_ref(out, ref):
    """max|out - ref| / max(1, max|ref|) over [B, S, D], and the worst cosine over images of
    the CLS rows (row 0): the figures of issue 11's accuracy contract."""
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    err = float(np.max(np.abs(out - ref)) / max(1.0, float(np.max(np.abs(ref)))))
    cos = min(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
              for a, b in zip(out[:, 0], ref[:, 0]))
    return err, cos


def make_runner(engine, model_dir, threads):
    """Returns (run(x: np.float32 array) -> np array, precision description, version)."""
    onnx_path, _ = paths(model_dir)
    if engine == "ort-fp32":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        return (lambda x: sess.run(None, {"pixel_values": x})[0]), "f32", \
            "onnxruntime " + ort.__version__
    if engine in ("ov-fp32", "ov-default"):
        import openvino as ov
        core = ov.Core()
        cfg = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        if engine == "ov-fp32":
            cfg["INFERENCE_PRECISION_HINT"] = "f32"
        compiled = core.compile_model(core.read_model(onnx_path), "CPU", cfg)
        hint = compiled.get_property("INFERENCE_PRECISION_HINT")
        prec = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        req = compiled.create_infer_request()
        return (lambda x: req.infer({0: x})[0]), prec, "openvino " + ov.__version__.split("-")[0]
    if engine == "torch-bf16":
        torch, model = load_torch_model(model_dir, None)
        torch.set_num_threads(threads)

        def run(x):
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                y = model(pixel_values=torch.from_numpy(x)).last_hidden_state
            return y.float().numpy()
        return run, "bf16 autocast", "torch " + torch.__version__
    raise SystemExit("bench_peers.py: unknown engine %r (one of %s)" % (engine, ", ".join(ENGINES)))


def bench(args):
    t0 = time.perf_counter()
    _, ref_path = paths(args.model_dir)
    if not os.path.exists(ref_path):
        raise SystemExit("bench_peers.py: run `bench_peers.py prepare %s` first" % args.model_dir)
    data = np.load(ref_path)
    run, prec, version = make_runner(args.engine, args.model_dir, args.threads)
    t_load = time.perf_counter()
    err, cos = error_vs_ref(run(data["x"]), data["ref"])
    with open(os.path.join(args.model_dir, "config.json")) as f:
        cfg = argparse.Namespace(**json.load(f))
    x = np.random.default_rng(1).uniform(
        -2, 2, (args.batch, cfg.num_channels, cfg.image_size, cfg.image_size)).astype(np.float32)
    times = []
    for i in range(args.warmup + args.iters):
        a = time.perf_counter()
        run(x)
        if i >= args.warmup:
            times.append(time.perf_counter() - a)
    med = statistics.median(times)
    res = {
        "backend": args.engine, "version": version, "precision": prec,
        "threads": args.threads, "batch": args.batch,
        "images_per_s": args.batch / med,
        "ms_per_image_median": med * 1e3 / args.batch,
        "ms_per_image_min": min(times) * 1e3 / args.batch,
        "ms_per_image_max": max(times) * 1e3 / args.batch,
        "gflops": flops(cfg, args.batch, cfg.image_size, cfg.image_size) * 1e-9 / med,
        "load_ms": (t_load - t0) * 1e3,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "max_err_rel": err, "cls_cosine": cos,
    }
    if args.json:
        print(json.dumps(res))
    else:
        print("%s (%s, %s): %.1f ms/image (min %.1f, max %.1f), %.1f GFLOP/s, error %.2e, CLS "
              "cosine %.6f, peak RSS %.0f MB" % (args.engine, version, prec,
                                                res["ms_per_image_median"],
                                                res["ms_per_image_min"], res["ms_per_image_max"],
                                                res["gflops"], err, cos, res["peak_rss_mb"]))


def score(args):
    """Error of `vitcl run` (backend, precision) on the fixed image, against the reference."""
    import subprocess
    import tempfile
    _, ref_path = paths(args.model_dir)
    if not os.path.exists(ref_path):
        raise SystemExit("bench_peers.py: run `bench_peers.py prepare %s` first" % args.model_dir)
    data = np.load(ref_path)
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        np.save(inp, data["x"])
        subprocess.run([args.vitcl, "run", args.model_dir, "--input", inp, "--output", out,
                        "--backend", args.backend, "--precision", args.precision], check=True,
                       env=dict(os.environ, VITCL_CPU_THREADS=str(args.threads)))
        err, cos = error_vs_ref(np.load(out), data["ref"])
    print(json.dumps({"max_err_rel": err, "cls_cosine": cos}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("engine", help="prepare, score, or one of " + ", ".join(ENGINES))
    ap.add_argument("model_dir")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ref-only", action="store_true", help="prepare: only the reference")
    ap.add_argument("--vitcl", default="build/host/cli/vitcl", help="score: the vitcl CLI")
    ap.add_argument("--backend", default="cpu", help="score: vitcl backend")
    ap.add_argument("--precision", default="fp32", help="score: vitcl precision")
    args = ap.parse_args()
    if args.engine == "prepare":
        prepare(args.model_dir, args.ref_only)
    elif args.engine == "score":
        score(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
