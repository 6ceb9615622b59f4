#!/usr/bin/env bash
# tools/oclgrind_check.sh [BUILD_DIR] - the OpenCL plugin's kernels under the Oclgrind simulator
# (Debian `oclgrind`) with its data-race and API checkers, at small shapes.
#
# Two kinds of run, each `oclgrind --data-races --check-api --num-threads 1 ...`:
#   - the conformance suite's quick matrix (`vitcl conformance --quick --max-elements N`: the op
#     cases whose buffers hold at most OCLGRIND_MAX_ELEMENTS floats, default 40000; the larger
#     ones, the 197-token attention and gemm_batched rows, are listed as not run), once with the
#     GPU-shaped kernels forced (VITCL_CL_GEMM=t64, VITCL_CL_ATTENTION=tiled) and once with the
#     CPU-shaped ones (mb8, rows), and the model fixtures end to end (first case of each) with
#     the GPU-shaped kernels, in two halves;
#   - opencl suite tests whose shapes are small (tests/opencl: every op against a double
#     reference, at lengths around each kernel's tiles: the tiled attention at head_dims 1 to
#     128, each forced GEMM variant, t256 included, the row attention kernels, layernorm, gelu,
#     add).
# The runs go in two processes side by side (the machine's two cores): the GPU-shaped kernels'
# op matrix and suite cases with half the fixtures, the CPU-shaped ones with the other half.
# Oclgrind is an interpreter, so:
#   - the GEMM is forced (VITCL_CL_GEMM): no tuning run;
#   - VITCL_CL_SELFCHECK=skip: the self-check's 400x392x384 CLBlast case alone takes many minutes;
#     the runs compare the same kernels with the reference;
#   - each run is bounded by `timeout` (OCLGRIND_TIMEOUT seconds, default 240; the conformance
#     runs get twice that and the fixtures run three times that, for a busy machine).
# Oclgrind reports each problem on stderr ("Invalid read ...", "... data race at ...",
# "Oclgrind - OpenCL runtime error detected", "Work-group divergence detected", "Uninitialized
# value ..."); any such line, a failing case or a non-zero exit fails the check.
# --uninitialized also works when kernels build with -cl-opt-disable (LLVM's `freeze` otherwise
# aborts it); it is not part of this check. Exit status 0 when every run was clean.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$PWD/${1:-build}
limit=${OCLGRIND_TIMEOUT:-240}
max_elements=${OCLGRIND_MAX_ELEMENTS:-40000}
command -v oclgrind >/dev/null || { echo "oclgrind_check: oclgrind is not installed (apt-get install oclgrind)" >&2; exit 1; }
[ -x "$build/tests/opencl/opencl_test_ops" ] || { echo "oclgrind_check: $build not built" >&2; exit 1; }
logdir=$build/oclgrind
rm -rf "$logdir"
mkdir -p "$logdir"
pattern='Invalid (read|write)|data race|runtime error detected|divergence detected|[Uu]ninitialized value|Unaligned|out of bounds'
run() { # run GEMM ATTENTION TEST CASE
  local name=${4//\//-} t0=$(date +%s) rc=0
  local log=$logdir/$name-$1-$2.txt
  env VITCL_SOURCE_ROOT="$PWD" VITCL_BUILD_ROOT="$build" VITCL_CACHE_DIR="$logdir/cache-$1" \
    VITCL_CL_SELFCHECK=skip VITCL_CL_GEMM="$1" VITCL_CL_ATTENTION="$2" VITCL_TEST_DEVICE=0 \
    timeout "$limit" oclgrind --data-races --check-api --num-threads 1 \
    "$build/tests/opencl/$3" --filter "$4" --jobs 1 > "$log" 2>&1 || rc=$?
  local errs
  errs=$(grep -cE "$pattern" "$log")
  echo "oclgrind_check: $4 (gemm $1, attention $2): exit $rc, $errs Oclgrind reports ($(( $(date +%s) - t0 )) s)"
  if [ "$rc" -ne 0 ] || [ "$errs" -ne 0 ] || ! grep -q "Tested: [1-9][0-9]* | Passing: [1-9]" "$log" \
     || grep -qE "Failing: [1-9]|Crashing: [1-9]" "$log"; then
    grep -E "$pattern|Synthesis|Assertion|FAIL" "$log" | head -n 20
    [ "$rc" -eq 124 ] && echo "oclgrind_check: ran past ${limit} s"
    touch "$logdir/FAILED"
  fi
}
conf() { # conf GEMM ATTENTION NAME SECONDS CONFORMANCE-ARGS...
  local gemm=$1 att=$2 name=$3 secs=$4 t0=$(date +%s) rc=0
  shift 4
  local log=$logdir/conformance-$name-$gemm-$att.txt
  env VITCL_BUILD_ROOT="$build" VITCL_CACHE_DIR="$logdir/cache-$gemm-$name" \
    VITCL_CL_SELFCHECK=skip VITCL_CL_GEMM="$gemm" VITCL_CL_ATTENTION="$att" \
    timeout "$secs" oclgrind --data-races --check-api --num-threads 1 \
    "$build/host/cli/vitcl" conformance --plugin opencl --quick "$@" > "$log" 2>&1 || rc=$?
  local errs summary
  errs=$(grep -cE "$pattern" "$log")
  summary=$(grep '^summary:' "$log" | tail -n 1)
  echo "oclgrind_check: conformance $name (gemm $gemm, attention $att): exit $rc, $errs Oclgrind reports ($(( $(date +%s) - t0 )) s): ${summary:-no summary}"
  if [ "$rc" -ne 0 ] || [ "$errs" -ne 0 ] || ! grep -qE '^summary: [1-9][0-9]* passed, 0 failed' "$log"; then
    grep -E "$pattern|FAIL" "$log" | head -n 20
    [ "$rc" -eq 124 ] && echo "oclgrind_check: ran past ${secs} s"
    touch "$logdir/FAILED"
  fi
}
# The fixtures in two parts (fixtures-0/ and fixtures-1/ under $logdir: a manifest.json each,
# the model folders linked), one per process, sized so that both processes end together: the
# GPU-shaped family (fixtures-0) also runs its op matrix and the tiled suite cases, about a
# third of the fixtures' whole time on the 2-core CI machine (75 + 65 s against 420 s of
# fixtures), the CPU-shaped family a twentieth (15 + 10 s), so each part starts with that share
# of the fixtures' cost as its load.
python3 - "$PWD/tests/fixtures/models" "$logdir" <<'PY' || exit 1
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
man = json.load(open(os.path.join(src, "manifest.json")))
def cost(m):  # the encoder's work: layers x tokens x (D^2 + tokens x D), from the config
    c = m["config"]
    tokens = (c["image_size"] // c["patch_size"]) ** 2 + 1
    d = c["hidden_size"]
    return c["num_hidden_layers"] * tokens * (d * d + tokens * d)
total = sum(cost(m) for m in man["models"])
halves, load = ([], []), [total / 3, total / 20]
for m in sorted(man["models"], key=cost, reverse=True):
    i = 0 if load[0] <= load[1] else 1
    halves[i].append(m)
    load[i] += cost(m)
for i, models in enumerate(halves):
    d = os.path.join(out, "fixtures-%d" % i)
    os.makedirs(d)
    for m in models:
        os.symlink(os.path.join(src, m["folder"]), os.path.join(d, m["folder"]))
    json.dump(dict(man, models=models), open(os.path.join(d, "manifest.json"), "w"))
PY
gpu_family() {
  conf t64 tiled ops $((2 * limit)) --max-elements "$max_elements"
  conf t64 tiled fixtures-0 $((3 * limit)) --filter model --fixtures "$logdir/fixtures-0"
  run t64 tiled opencl_test_ops 'opencl_ops_tiled/attention_tiled_general_head_dims'
  run t64 tiled opencl_test_ops 'opencl_ops_tiled/attention_tiled_head_dim_64'
  run t64 tiled opencl_test_gemm_choice 'opencl_gemm_choice/t64'
  run t256 tiled opencl_test_gemm_choice 'opencl_gemm_choice/t256'
}
cpu_family() {
  conf mb8 rows ops $((2 * limit)) --max-elements "$max_elements"
  conf t64 tiled fixtures-1 $((3 * limit)) --filter model --fixtures "$logdir/fixtures-1"
  run mb8 rows opencl_test_gemm_choice 'opencl_gemm_choice/mb8'
  run mb8 rows opencl_test_ops 'opencl_ops/attention_small_and_odd'
  run mb8 rows opencl_test_ops 'opencl_ops/attention_head_dim_64_odd_lengths'
  run mb8 rows opencl_test_ops 'opencl_ops/layernorm_shapes'
  run mb8 rows opencl_test_ops 'opencl_ops/gelu_values_and_in_place'
  run mb8 rows opencl_test_ops 'opencl_ops/add_residual_and_broadcast'
}
gpu_family > "$logdir/gpu-family.txt" 2>&1 &
gpu=$!
cpu_family
wait "$gpu" || touch "$logdir/FAILED"
cat "$logdir/gpu-family.txt"
if [ -e "$logdir/FAILED" ]; then
  echo "oclgrind_check: FAILED (logs in $logdir)"
  exit 1
fi
exit 0
