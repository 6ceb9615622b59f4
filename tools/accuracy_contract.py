#!/usr/bin/env python3
"""Measure vitcl's reduced-precision accuracy contract against transformers fp32.

For every precision each backend offers (`vitcl devices`), runs `vitcl run --precision P` on
  * every model fixture's golden cases (tests/fixtures/models/*/golden/*: pixel values and
    transformers' fp32 last_hidden_state, written by tools/make_fixtures.py), and
  * with --large DIR: vit-msn-large's config (tools/make_fixtures.py --large DIR) on a real
    photo (tests/fixtures/images/src/jpg_444_chelsea_451x300.jpg by default), preprocessed by
    transformers' own image processor, against transformers' fp32 forward,
and reports per (backend, precision, model):
  max err = max|ours - transformers fp32| / max(1, max|transformers fp32|)
  CLS cos = the worst cosine between our and transformers' CLS rows (row 0 of each image).
The contract (docs/accuracy.md): bf16 max err <= 2e-2 and CLS cos >= 0.9999; fp16 max err
<= 2e-3 and CLS cos >= 0.99999; fp32 max err <= 1e-4.

usage: tools/accuracy_contract.py [--backends ref,cpu,opencl] [--large DIR] [--photo JPG]
                                  [--markdown OUT.md] [--vitcl build/host/cli/vitcl]
Exit status 1 when a row breaks its contract. Needs tools/requirements.txt (transformers) only
for --large; the fixture rows need numpy only.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_peers import error_vs_ref  # noqa: E402  (one definition of the two figures)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "models")
PHOTO = os.path.join(REPO, "tests", "fixtures", "images", "src", "jpg_444_chelsea_451x300.jpg")

# precision -> (max err bound, CLS cosine bound)
CONTRACT = {"fp32": (1e-4, 0.999999), "bf16": (2e-2, 0.9999), "fp16": (2e-3, 0.99999)}


def offered(vitcl, backend):
    """The precisions `vitcl devices` lists for the backend's selected device."""
    out = subprocess.run([vitcl, "devices"], check=True, capture_output=True, text=True).stdout
    precs, inside = None, False
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("plugin "):
            inside = s.split()[1] == backend
        elif inside and s.startswith("precisions:") and precs is None:
            precs = [p.strip() for p in s.split(":", 1)[1].split(",") if p.strip()]
    return precs or ["fp32"]


def run_vitcl(vitcl, model, pixels, backend, precision, tmp):
    inp = os.path.join(tmp, "pixels.npy")
    out = os.path.join(tmp, "out.npy")
    np.save(inp, np.ascontiguousarray(pixels, dtype=np.float32))
    cmd = [vitcl, "run", model, "--input", inp, "--output", out, "--backend", backend,
           "--precision", precision]
    return subprocess.run(cmd, capture_output=True, text=True), out


def fixture_cases():
    for model in sorted(glob.glob(os.path.join(FIXTURES, "*", "config.json"))):
        mdir = os.path.dirname(model)
        for case in sorted(glob.glob(os.path.join(mdir, "golden", "*", "case.json"))):
            cdir = os.path.dirname(case)
            info = json.load(open(case))
            if info.get("interpolate_pos_encoding"):
                continue  # the contract is measured at native size; interpolation is fp32 code
            yield (os.path.basename(mdir) + "/" + os.path.basename(cdir), mdir,
                   np.load(os.path.join(cdir, "pixel_values.npy")),
                   np.load(os.path.join(cdir, "last_hidden_state.npy")))


def large_case(model_dir, photo):
    import torch
    from PIL import Image
    from transformers import ViTImageProcessorPil, ViTMSNModel
    proc = ViTImageProcessorPil.from_pretrained(model_dir)
    px = proc(images=Image.open(photo).convert("RGB"), return_tensors="np")["pixel_values"]
    model = ViTMSNModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        ref = model(pixel_values=torch.from_numpy(px)).last_hidden_state.numpy()
    return ("vit-msn-large config, " + os.path.basename(photo), model_dir, px, ref)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="ref,cpu,opencl")
    ap.add_argument("--precisions", default="", help="comma list; default: all offered")
    ap.add_argument("--large", metavar="DIR")
    ap.add_argument("--photo", default=PHOTO)
    ap.add_argument("--markdown", metavar="OUT")
    ap.add_argument("--vitcl", default=os.path.join(REPO, "build", "host", "cli", "vitcl"))
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON lines")
    a = ap.parse_args()
    cases = list(fixture_cases())
    if a.large:
        cases.append(large_case(a.large, a.photo))
    rows, bad = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for be in [b for b in a.backends.split(",") if b]:
            precs = offered(a.vitcl, be)
            if a.precisions:
                precs = [p for p in precs if p in a.precisions.split(",")]
            for prec in precs:
                worst = {}
                for name, mdir, px, ref in cases:
                    r, out = run_vitcl(a.vitcl, mdir, px, be, prec, tmp)
                    if r.returncode != 0:
                        print("%s %s %s: vitcl run failed: %s" % (be, prec, name, r.stderr.strip()),
                              file=sys.stderr)
                        bad += 1
                        continue
                    err, cos = error_vs_ref(np.load(out), ref)
                    group = "vit-msn-large" if name.startswith("vit-msn-large") else "fixtures"
                    w = worst.setdefault(group, [0.0, 1.0, "", ""])
                    if err >= w[0]:
                        w[0], w[2] = err, name
                    if cos <= w[1]:
                        w[1], w[3] = cos, name
                for group, (err, cos, where_e, where_c) in sorted(worst.items()):
                    emax, cmin = CONTRACT[prec]
                    ok = err <= emax and cos >= cmin
                    bad += not ok
                    rows.append(dict(backend=be, precision=prec, models=group, max_err=err,
                                     cls_cos=cos, worst_err_case=where_e, worst_cos_case=where_c,
                                     bound_err=emax, bound_cos=cmin, ok=ok))
                    print("%-7s %-5s %-14s max err %.2e (<= %.0e) CLS cos %.7f (>= %s) %s  [%s]"
                          % (be, prec, group, err, emax, cos, cmin, "ok" if ok else "BROKEN",
                             where_e), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("| backend | precision | models | max err | bound | CLS cosine | bound | worst case |\n")
            f.write("|---|---|---|---|---|---|---|---|\n")
            for r in rows:
                f.write("| %s | %s | %s | %.2e | %.0e | %.7f | %s | %s |\n" % (
                    r["backend"], r["precision"], r["models"], r["max_err"], r["bound_err"],
                    r["cls_cos"], r["bound_cos"], r["worst_err_case"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
