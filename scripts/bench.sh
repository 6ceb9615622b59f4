#!/usr/bin/env bash
# vitcl against PyTorch on the same machine, same checkpoint, same input size, in one run.
#
# usage: scripts/bench.sh [MODEL_DIR]
#   MODEL_DIR defaults to build/bench-vit-msn-large, created on first use by
#   tools/make_fixtures.py --large (random-init weights with vit-msn-large's exact config).
# env:  BATCHES="1 8"  BACKENDS="opencl cpu"  ITERS=5  WARMUP=1  ROUNDS=1
#       PYTHON=path to a python with tools/requirements.txt installed (tools/setup_venv.sh)
#       FORMAT_ROUNDS=3  BIN_MODEL=MODEL_DIR-bin: the weights-format table at the end runs
#       `vitcl bench --batch 1` on the same weights as model.safetensors (MODEL_DIR) and as
#       pytorch_model.bin (BIN_MODEL, written by tools/make_fixtures.py --large-format bin with
#       the same seed) and compares peak RSS, load time and time to the first result;
#       FORMAT_ROUNDS=0 skips it, BATCHES="" runs only it.
# vitcl and PyTorch runs alternate (round by round) so machine noise hits both alike; the table
# gives each backend's throughput as a ratio to PyTorch's fastest setting in the same round.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-build/bench-vit-msn-large}
BATCHES=${BATCHES-"1 8"}
BACKENDS=${BACKENDS:-"opencl cpu"}
ITERS=${ITERS:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-1}
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
out=build/bench-results.jsonl
: > "$out"
for batch in $BATCHES; do
  for round in $(seq 1 "$ROUNDS"); do
    echo "== batch $batch, round $round: pytorch" >&2
    "$PYTHON" tools/bench_torch.py "$MODEL" --batch "$batch" --iters "$ITERS" --warmup "$WARMUP" --json \
      | tail -n 1 | sed "s/^{/{\"round\":$round,/" >> "$out"
    for be in $BACKENDS; do
      echo "== batch $batch, round $round: vitcl $be" >&2
      build/host/cli/vitcl bench "$MODEL" --backend "$be" --batch "$batch" --iters "$ITERS" \
        --warmup "$WARMUP" --json | tail -n 1 | sed "s/^{/{\"round\":$round,/" >> "$out"
    done
  done
done
[ -s "$out" ] && "$PYTHON" - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print()
print("%-6s %-9s %11s %13s %9s %13s %10s" % ("batch", "backend", "images/s", "ms/image", "GFLOP/s", "vs PyTorch", "peak RSS"))
for batch in sorted({r["batch"] for r in rows}):
    for rnd in sorted({r["round"] for r in rows}):
        rs = [r for r in rows if r["batch"] == batch and r["round"] == rnd]
        torch = next(r for r in rs if r["backend"] == "pytorch")
        for r in rs:
            ratio = r["images_per_s"] / torch["images_per_s"]
            print("%-6d %-9s %11.3f %13.1f %9.1f %12.2fx %8.0f MB" % (batch, r["backend"], r["images_per_s"],
                  r["ms_per_image_median"], r["gflops"], ratio, r["peak_rss_mb"]))
p = [r for r in rows if r["backend"] == "pytorch"][0]
print("\nPyTorch %s, fastest of its settings: threads %s, OMP_WAIT_POLICY=%s, attention %s"
      % (p["torch"], p["threads"], p["omp_wait_policy"], p["attn"]))
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
    for be in $BACKENDS; do
      for fmt in safetensors bin; do
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
