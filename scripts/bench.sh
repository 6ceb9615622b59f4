#!/usr/bin/env bash
# vitcl against PyTorch and other engines on the same machine, same checkpoint, same input
# size, same thread count, in one run.
#
# usage: scripts/bench.sh [MODEL_DIR]
#   MODEL_DIR defaults to build/bench-vit-msn-large, created on first use by
#   tools/make_fixtures.py --large (random-init weights with vit-msn-large's exact config).
# env:  BATCHES="1 8"  BACKENDS="opencl cpu"  ITERS=5  WARMUP=1  ROUNDS=1
#       a BACKENDS entry may name a precision, BACKEND:PRECISION ("cpu:bf16 opencl:fp16"); every
#       vitcl row at a reduced precision also prints its error on the fixed image (below)
#       THREADS=online cores (every engine runs with this many threads)
#       PEERS="ort-fp32 ov-fp32 ov-default torch-bf16" (tools/bench_peers.py; PEERS="" for none)
#       LOADS="0" ("0 1": each round also runs with a competing load: one busy process, started
#       and stopped by this script, spinning on one core the whole time the engines run)
#       PYTHON=path to a python with tools/requirements.txt installed (tools/setup_venv.sh),
#       plus tools/requirements-bench.txt for the PEERS
#       FORMAT_ROUNDS=3  BIN_MODEL=MODEL_DIR-bin: the weights-format table at the end runs
#       `vitcl bench --batch 1` on the same weights as model.safetensors (MODEL_DIR) and as
#       pytorch_model.bin (BIN_MODEL, written by tools/make_fixtures.py --large-format bin with
#       the same seed) and compares peak RSS, load time and time to the first result;
#       FORMAT_ROUNDS=0 skips it, BATCHES="" runs only it.
# Engines alternate (round by round) so machine noise hits all alike; the table gives each
# row's throughput as a ratio to PyTorch fp32's fastest setting (OMP_WAIT_POLICY) in the same
# round and load, and for every row its error against a float64 transformers forward on one
# fixed image (vitcl's own accuracy is checked by the test suites: within 1e-4).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-build/bench-vit-msn-large}
BATCHES=${BATCHES-"1 8"}
BACKENDS=${BACKENDS:-"opencl cpu"}
ITERS=${ITERS:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-$(nproc)}
PEERS=${PEERS-"ort-fp32 ov-fp32 ov-default torch-bf16"}
LOADS=${LOADS:-0}
if [ -z "${PYTHON:-}" ]; then
  for p in .venv-tools/bin/python /opt/vitcl-tools/bin/python; do
    [ -x "$p" ] && PYTHON=$p && break
  done
fi
[ -n "${PYTHON:-}" ] || { echo "bench.sh: run tools/setup_venv.sh first (or set PYTHON)" >&2; exit 2; }
[ -f build/build.ninja ] || meson setup build --buildtype=release
ninja -C build >/dev/null
if [ ! -f "$MODEL/config.json" ]; then
  echo "bench.sh: writing a random-init vit-msn-large checkpoint to $MODEL"
  "$PYTHON" tools/make_fixtures.py --large "$MODEL" --large-format safetensors
fi
if [ -n "$PEERS" ] && [ -n "$BATCHES" ]; then
  "$PYTHON" tools/bench_peers.py prepare "$MODEL" >&2
elif [ -n "$BATCHES" ] && [[ " $BACKENDS" == *:* ]]; then
  # No peer runs, but a reduced-precision row needs the reference for its error.
  "$PYTHON" tools/bench_peers.py prepare "$MODEL" --ref-only >&2
fi
out=build/bench-results.jsonl
: > "$out"
busy=
stop_load() { if [ -n "$busy" ]; then kill "$busy" 2>/dev/null || true; wait "$busy" 2>/dev/null || true; busy=; fi; }
trap stop_load EXIT
tag() { sed "s/^{/{\"round\":$1,\"load\":$2,/" >> "$out"; }
for batch in $BATCHES; do
  for round in $(seq 1 "$ROUNDS"); do
    for load in $LOADS; do
      if [ "$load" = 1 ]; then
        "$PYTHON" -c 'while True: pass' & busy=$!
      fi
      echo "== batch $batch, round $round, load $load: pytorch ($(uptime | sed 's/.*load/load/'))" >&2
      "$PYTHON" tools/bench_torch.py "$MODEL" --batch "$batch" --iters "$ITERS" --warmup "$WARMUP" \
        --threads "$THREADS" --json | tail -n 1 | tag "$round" "$load"
      for spec in $BACKENDS; do
        be=${spec%%:*}; prec=fp32; [ "$spec" != "$be" ] && prec=${spec#*:}
        echo "== batch $batch, round $round, load $load: vitcl $be $prec" >&2
        row=$(VITCL_CPU_THREADS=$THREADS build/host/cli/vitcl bench "$MODEL" --backend "$be" \
          --precision "$prec" --batch "$batch" --iters "$ITERS" --warmup "$WARMUP" --json | tail -n 1)
        if [ "$prec" != fp32 ]; then
          # A reduced-precision row carries its measured error beside its speed.
          sc=$("$PYTHON" tools/bench_peers.py score "$MODEL" --backend "$be" --precision "$prec" \
            --threads "$THREADS" --vitcl build/host/cli/vitcl | tail -n 1)
          row=$("$PYTHON" -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(json.loads(sys.argv[2])); print(json.dumps(r))' "$row" "$sc")
        fi
        echo "$row" | tag "$round" "$load"
      done
      for peer in $PEERS; do
        echo "== batch $batch, round $round, load $load: $peer" >&2
        "$PYTHON" tools/bench_peers.py "$peer" "$MODEL" --batch "$batch" --threads "$THREADS" \
          --iters "$ITERS" --warmup "$WARMUP" --json | tail -n 1 | tag "$round" "$load" \
          || echo "bench.sh: $peer failed (see above); its row is missing" >&2
      done
      stop_load
    done
  done
done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; load after the run: $(uptime | sed 's/.*load average: //')" >&2
[ -s "$out" ] && "$PYTHON" - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print()
print("%-5s %-4s %-12s %-14s %10s %9s %8s %11s %9s %10s %9s" % ("batch", "load", "engine", "precision",
      "ms/image", "min", "GFLOP/s", "vs PyTorch", "peak RSS", "max err", "CLS cos"))
for batch in sorted({r["batch"] for r in rows}):
    for rnd in sorted({r["round"] for r in rows}):
        for load in sorted({r["load"] for r in rows}):
            rs = [r for r in rows if r["batch"] == batch and r["round"] == rnd and r["load"] == load]
            if not rs:
                continue
            torch = next(r for r in rs if r["backend"] == "pytorch")
            for r in rs:
                ratio = r["images_per_s"] / torch["images_per_s"]
                name = r["backend"] if r["backend"] in ("pytorch",) or "version" in r else "vitcl " + r["backend"]
                prec = r.get("precision", "f32")
                if prec == "fp32":
                    prec = "f32"
                err = "%.1e" % r["max_err_rel"] if "max_err_rel" in r else ("" if r["backend"] == "pytorch" else "(tests)")
                cos = "%.6f" % r["cls_cosine"] if "cls_cosine" in r else ""
                print("%-5d %-4d %-12s %-14s %10.1f %9.1f %8.1f %10.2fx %6.0f MB %10s %9s" % (
                      batch, load, name, prec, r["ms_per_image_median"], r["ms_per_image_min"],
                      r["gflops"], ratio, r["peak_rss_mb"], err, cos))
p = [r for r in rows if r["backend"] == "pytorch"][0]
print("\nPyTorch %s, fastest of its settings: threads %s, OMP_WAIT_POLICY=%s, attention %s"
      % (p["torch"], p["threads"], p["omp_wait_policy"], p["attn"]))
vs = sorted({r["version"] for r in rows if "version" in r})
if vs:
    print("peers: " + ", ".join(vs))
# What each vitcl row's device said after its runs (the cpu plugin's race verdicts: which GEMM
# ran each shape class in that process).
for r in rows:
    if r.get("device_notes"):
        print("notes, batch %d, load %d, vitcl %s %s: %s" % (r["batch"], r["load"], r["backend"],
              r.get("precision", "fp32"), r["device_notes"]))
PY

# Weights format: the same checkpoint as pytorch_model.bin against model.safetensors, batch 1,
# alternating so noise hits both; medians over FORMAT_ROUNDS.
FORMAT_ROUNDS=${FORMAT_ROUNDS:-3}
BIN_MODEL=${BIN_MODEL:-$MODEL-bin}
if [ "$FORMAT_ROUNDS" -gt 0 ]; then
  if [ ! -f "$BIN_MODEL/pytorch_model.bin" ]; then
    echo "bench.sh: writing the same checkpoint as pytorch_model.bin to $BIN_MODEL"
    "$PYTHON" tools/make_fixtures.py --large "$BIN_MODEL" --large-format bin
  fi
  fout=build/bench-formats.jsonl
  : > "$fout"
  for round in $(seq 1 "$FORMAT_ROUNDS"); do
    for be in $(for s in $BACKENDS; do echo "${s%%:*}"; done | sort -u); do
      # Odd rounds load safetensors first, even rounds the .bin first, so that neither format
      # always runs right after the other one.
      order="safetensors bin"; [ $((round % 2)) = 0 ] && order="bin safetensors"
      for fmt in $order; do
        dir=$MODEL; [ "$fmt" = bin ] && dir=$BIN_MODEL
        echo "== weights format $fmt, round $round: vitcl $be" >&2
        build/host/cli/vitcl bench "$dir" --backend "$be" --batch 1 --iters 1 --warmup 0 --json \
          | tail -n 1 | sed "s/^{/{\"format\":\"$fmt\",/" >> "$fout"
      done
    done
  done
  "$PYTHON" - "$fout" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("\nweights format, batch 1 (median of %d rounds)" % (len(rows) // (2 * len({r["backend"] for r in rows}))))
print("%-9s %-12s %10s %10s %12s %10s %10s" % ("backend", "format", "load ms", "peak RSS", "1st result ms",
      "load/st", "RSS/st"))
for be in sorted({r["backend"] for r in rows}):
    med = {}
    for fmt in ("safetensors", "bin"):
        rs = [r for r in rows if r["backend"] == be and r["format"] == fmt]
        med[fmt] = [statistics.median(r[k] for r in rs) for k in ("load_ms", "peak_rss_mb", "first_result_ms")]
    for fmt in ("safetensors", "bin"):
        load, rss, first = med[fmt]
        print("%-9s %-12s %10.1f %7.0f MB %12.1f %9.3fx %9.3fx" % (be, fmt, load, rss, first,
              load / med["safetensors"][0], rss / med["safetensors"][1]))
PY
fi
