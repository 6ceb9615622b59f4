#!/usr/bin/env bash
# How much each engine slows down when another process keeps one core busy: vitcl (cpu backend)
# and PyTorch fp32 on the same checkpoint, batch and thread count, first on the machine as it is
# ("idle"), then with a competing load this script starts itself, each engine idle and loaded
# back to back in alternating order, so that drifts of the background load hit both alike. Prints each engine's
# ms per image idle and loaded and its slowdown (loaded / idle) side by side, per round and as
# the median over rounds. Issue 11 item 2b asks that vitcl's slowdown be no worse than PyTorch's.
#
# usage: tools/bench_contention.sh [MODEL_DIR]
#   MODEL_DIR defaults to build/bench-vit-msn-large, written on first use by
#   tools/make_fixtures.py --large (random init, vit-msn-large's exact config, F32).
# env:  BATCHES="8 1"  ROUNDS=2  ITERS=2  WARMUP=1  THREADS=online cores (both engines)
#       SIZE=HxW (default: the checkpoint's 224x224; smaller runs faster, same code paths)
#       LOAD_CPU=N pins the busy process to core N with taskset (default: not pinned, the
#       scheduler places it, as another user's job would be)
#       VARIANTS="label=PLUGIN_DIR ..." (default "vitcl="): several cpu plugins side by side in
#       the same rounds, each run as VITCL_PLUGIN_PATH=PLUGIN_DIR build/host/cli/vitcl (empty:
#       the build tree's plugin), e.g. "old=build/old-cpu-plugin vitcl=" to compare a change
#       TORCH_POLICY=PASSIVE|ACTIVE|sweep (default sweep: PyTorch's faster OMP_WAIT_POLICY in each
#       condition, as tools/bench_torch.py reports it for scripts/bench.sh)
#       PYTHON=python with tools/requirements.txt (default .venv-tools, then /opt/vitcl-tools)
# The competing load is one single-threaded busy loop (`while True: pass` in $PYTHON), started
# before and stopped after each loaded measurement. Results: build/bench-contention.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-build/bench-vit-msn-large}
BATCHES=${BATCHES:-"8 1"}
ROUNDS=${ROUNDS:-2}
ITERS=${ITERS:-2}
WARMUP=${WARMUP:-1}
THREADS=${THREADS:-$(nproc)}
SIZE=${SIZE:-}
LOAD_CPU=${LOAD_CPU:-}
VARIANTS=${VARIANTS:-"vitcl="}
VITCL=build/host/cli/vitcl
TORCH_POLICY=${TORCH_POLICY:-sweep}
if [ -z "${PYTHON:-}" ]; then
  for p in .venv-tools/bin/python /opt/vitcl-tools/bin/python; do
    [ -x "$p" ] && PYTHON=$p && break
  done
fi
[ -n "${PYTHON:-}" ] || { echo "bench_contention.sh: run tools/setup_venv.sh first (or set PYTHON)" >&2; exit 2; }
[ -x "$VITCL" ] || { echo "bench_contention.sh: build vitcl first (ninja -C build)" >&2; exit 2; }
for spec in $VARIANTS; do
  dir=${spec#*=}
  [ -z "$dir" ] || [ -f "$dir/vitcl_cpu.so" ] || { echo "bench_contention.sh: no $dir/vitcl_cpu.so" >&2; exit 2; }
done
if [ ! -f "$MODEL/config.json" ]; then
  echo "bench_contention.sh: writing a random-init vit-msn-large checkpoint to $MODEL" >&2
  "$PYTHON" tools/make_fixtures.py --large "$MODEL" --large-format safetensors
fi
size_args=()
[ -n "$SIZE" ] && size_args=(--size "$SIZE")
out=build/bench-contention.jsonl
mkdir -p build
: > "$out"
busy=
stop_load() { if [ -n "$busy" ]; then kill "$busy" 2>/dev/null || true; wait "$busy" 2>/dev/null || true; busy=; fi; }
trap stop_load EXIT
start_load() {
  if [ -n "$LOAD_CPU" ]; then
    taskset -c "$LOAD_CPU" "$PYTHON" -c 'while True: pass' & busy=$!
  else
    "$PYTHON" -c 'while True: pass' & busy=$!
  fi
  sleep 1 # let it start spinning before the engine loads
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }
tag() { sed "s/^{/{\"engine\":\"$1\",\"round\":$2,\"load\":$3,\"loadavg_before\":$4,/" >> "$out"; }
torch() {
  if [ "$TORCH_POLICY" = sweep ]; then
    "$PYTHON" tools/bench_torch.py "$MODEL" --batch "$1" --iters "$ITERS" --warmup "$WARMUP" \
      --threads "$THREADS" "${size_args[@]}" --json
  else
    OMP_WAIT_POLICY=$TORCH_POLICY "$PYTHON" tools/bench_torch.py --once "$MODEL" --batch "$1" \
      --iters "$ITERS" --warmup "$WARMUP" --threads "$THREADS" "${size_args[@]}"
  fi
}
# Each engine is measured idle and loaded back to back (idle first in odd rounds, loaded first
# in even ones), so that the background load drifts as little as possible between the two
# figures of one ratio and a steady drift cancels over two rounds.
measure() { # engine-label batch round load
  local la
  la=$(loadavg)
  echo "== batch $2, round $3, load $4: $1 (load average $la)" >&2
  if [ "$1" = pytorch ]; then
    torch "$2" | tail -n 1 | tag pytorch "$3" "$4" "$la"
  else
    VITCL_PLUGIN_PATH=$5 VITCL_CPU_THREADS=$THREADS "$VITCL" bench "$MODEL" --backend cpu \
      --batch "$2" --iters "$ITERS" --warmup "$WARMUP" "${size_args[@]}" --json | tail -n 1 \
      | tag "$1" "$3" "$4" "$la"
  fi
}
for batch in $BATCHES; do
  for round in $(seq 1 "$ROUNDS"); do
    order="0 1"
    [ $((round % 2)) = 0 ] && order="1 0"
    for spec in "pytorch=" $VARIANTS; do
      for load in $order; do
        [ "$load" = 1 ] && start_load
        measure "${spec%%=*}" "$batch" "$round" "$load" "${spec#*=}"
        stop_load
      done
    done
  done
done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$PYTHON" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
engines = list(dict.fromkeys(r["engine"] for r in rows))
print("\n%-5s %-6s %-10s %12s %12s %9s   %s" % ("batch", "round", "engine", "idle ms/img",
      "loaded ms/img", "slowdown", "load average before idle / loaded"))
for batch in sorted({r["batch"] for r in rows}):
    summary = {}
    for rnd in sorted({r["round"] for r in rows}):
        for e in engines:
            rs = {r["load"]: r for r in rows if r["batch"] == batch and r["round"] == rnd and r["engine"] == e}
            if 0 not in rs or 1 not in rs:
                continue
            idle, loaded = rs[0]["ms_per_image_median"], rs[1]["ms_per_image_median"]
            summary.setdefault(e, []).append((idle, loaded))
            print("%-5d %-6d %-10s %12.1f %12.1f %8.2fx   %.2f / %.2f" % (batch, rnd, e, idle, loaded,
                  loaded / idle, rs[0]["loadavg_before"], rs[1]["loadavg_before"]))
    for e, v in summary.items():
        idle = statistics.median(x for x, _ in v)
        loaded = statistics.median(y for _, y in v)
        ratios = [y / x for x, y in v]
        print("%-5d %-6s %-10s %12.1f %12.1f %8.2fx   per-round slowdowns %s" % (batch, "median", e, idle,
              loaded, loaded / idle, ", ".join("%.2f" % r for r in ratios)))
p = next((r for r in rows if r["engine"] == "pytorch"), None)
if p:
    print("\nPyTorch %s, threads %s, OMP_WAIT_POLICY=%s (the faster of the sweep per run unless "
          "TORCH_POLICY was set)" % (p["torch"], p["threads"], p["omp_wait_policy"]))
PY
