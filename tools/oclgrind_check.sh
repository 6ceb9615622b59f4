#!/usr/bin/env bash
# tools/oclgrind_check.sh [BUILD_DIR] - the OpenCL plugin's kernels under the Oclgrind simulator
# (Debian `oclgrind`) with its data-race and API checkers, at small shapes.
#
# Each run is `oclgrind --data-races --check-api --num-threads 1 TEST --filter CASE` for an
# opencl suite test whose shapes are small (tests/opencl: every op against a double reference,
# at lengths around each kernel's tiles): the GPU-shaped kernels forced (VITCL_CL_GEMM=t64 and
# t256, VITCL_CL_ATTENTION=tiled) and the CPU-shaped ones (mb8, rows). Oclgrind is an
# interpreter, so:
#   - the GEMM is forced (VITCL_CL_GEMM): no tuning run;
#   - VITCL_CL_SELFCHECK=skip: the self-check's 400x392x384 CLBlast case alone takes many minutes;
#     the tests compare the same kernels with a double reference;
#   - the conformance quick matrix itself is too large there (its 197-token attention and
#     gemm_batched rows take minutes each on a 2-core machine), hence these smaller cases;
#   - each run is bounded by `timeout` (OCLGRIND_TIMEOUT seconds, default 240).
# Oclgrind reports each problem on stderr ("Invalid read ...", "... data race at ...",
# "Oclgrind - OpenCL runtime error detected", "Work-group divergence detected", "Uninitialized
# value ..."); any such line, a failing test or a non-zero exit fails the check.
# --uninitialized also works when kernels build with -cl-opt-disable (LLVM's `freeze` otherwise
# aborts it); it is not part of this check. Exit status 0 when every run was clean.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$PWD/${1:-build}
limit=${OCLGRIND_TIMEOUT:-240}
command -v oclgrind >/dev/null || { echo "oclgrind_check: oclgrind is not installed (apt-get install oclgrind)" >&2; exit 1; }
[ -x "$build/tests/opencl/opencl_test_ops" ] || { echo "oclgrind_check: $build not built" >&2; exit 1; }
logdir=$build/oclgrind
rm -rf "$logdir"
mkdir -p "$logdir"
pattern='Invalid (read|write)|data race|runtime error detected|divergence detected|[Uu]ninitialized value|Unaligned|out of bounds'
bad=0
run() { # run GEMM ATTENTION TEST CASE
  local name=${4//\//-} t0=$(date +%s) rc=0
  local log=$logdir/$name-$1-$2.txt
  env VITCL_SOURCE_ROOT="$PWD" VITCL_BUILD_ROOT="$build" VITCL_CACHE_DIR="$logdir/cache" \
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
    bad=1
  fi
}
# GPU-shaped kernels
run t64 tiled opencl_test_ops 'opencl_ops_tiled/attention_tiled_general_head_dims'
run t64 tiled opencl_test_ops 'opencl_ops_tiled/attention_tiled_head_dim_64'
run t64 tiled opencl_test_gemm_choice 'opencl_gemm_choice/t64'
run t256 tiled opencl_test_gemm_choice 'opencl_gemm_choice/t256'
# CPU-shaped kernels and the rest
run mb8 rows opencl_test_gemm_choice 'opencl_gemm_choice/mb8'
run mb8 rows opencl_test_ops 'opencl_ops/attention_small_and_odd'
run mb8 rows opencl_test_ops 'opencl_ops/attention_head_dim_64_odd_lengths'
run mb8 rows opencl_test_ops 'opencl_ops/layernorm_shapes'
run mb8 rows opencl_test_ops 'opencl_ops/gelu_values_and_in_place'
run mb8 rows opencl_test_ops 'opencl_ops/add_residual_and_broadcast'
exit $bad
