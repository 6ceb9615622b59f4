#!/usr/bin/env bash
# tools/oclgrind_check.sh [BUILD_DIR] - the OpenCL plugin's kernels under the Oclgrind simulator
# (Debian `oclgrind`) with its data-race and API checkers, on the conformance quick matrix.
#
# Each run is `oclgrind --data-races --check-api --num-threads 1 vitcl conformance --plugin
# opencl --quick --filter OP`, once with the GPU-shaped kernels forced (VITCL_CL_GEMM=t64 and
# t256, VITCL_CL_ATTENTION=tiled) and once with the CPU-shaped ones (mb8, rows). Oclgrind is an
# interpreter, so:
#   - the GEMM is forced (VITCL_CL_GEMM): no tuning run;
#   - VITCL_CL_SELFCHECK=skip: the self-check's 400x392x384 CLBlast case alone takes many minutes;
#     the conformance rows compare the same kernels with the reference;
#   - gemm_batched is left out: it is CLBlast's kernel (not ours) and its 197-token row takes
#     about 160 s in the interpreter on a 2-core machine;
#   - each run is bounded by `timeout` (OCLGRIND_TIMEOUT seconds, default 300).
# Oclgrind reports each problem on stderr ("Invalid read ...", "... data race at ...",
# "Oclgrind - OpenCL runtime error detected", "Work-group divergence detected", "Uninitialized
# value ..."); any such line, any FAIL row or a non-zero exit fails the check.
# --uninitialized also works when kernels build with -cl-opt-disable (LLVM's `freeze` otherwise
# aborts it); it is not part of this check. Exit status 0 when every run was clean.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
vitcl=$PWD/$build/host/cli/vitcl
limit=${OCLGRIND_TIMEOUT:-300}
command -v oclgrind >/dev/null || { echo "oclgrind_check: oclgrind is not installed (apt-get install oclgrind)" >&2; exit 1; }
[ -x "$vitcl" ] || { echo "oclgrind_check: $vitcl not built" >&2; exit 1; }
logdir=$PWD/$build/oclgrind
rm -rf "$logdir"
mkdir -p "$logdir"
pattern='Invalid (read|write)|data race|runtime error detected|divergence detected|[Uu]ninitialized value|Unaligned|out of bounds'
bad=0
run() { # run NAME GEMM ATTENTION FILTER
  local log=$logdir/$1.txt t0=$(date +%s) rc=0
  env VITCL_CACHE_DIR="$logdir/cache" VITCL_CL_SELFCHECK=skip VITCL_CL_GEMM="$2" \
    VITCL_CL_ATTENTION="$3" VITCL_BACKEND=opencl \
    timeout "$limit" oclgrind --data-races --check-api --num-threads 1 \
    "$vitcl" conformance --plugin opencl --quick --filter "$4" > "$log" 2>&1 || rc=$?
  local rows errs
  rows=$(grep -cE ' PASS ' "$log")
  errs=$(grep -cE "$pattern" "$log")
  echo "oclgrind_check: $1: exit $rc, $rows rows passed, $errs Oclgrind reports ($(( $(date +%s) - t0 )) s)"
  if [ "$rc" -ne 0 ] || [ "$errs" -ne 0 ] || grep -q ' FAIL ' "$log" || [ "$rows" -eq 0 ]; then
    grep -E "$pattern| FAIL |summary" "$log" | head -n 20
    [ "$rc" -eq 124 ] && echo "oclgrind_check: $1 ran past ${limit} s"
    bad=1
  fi
}
run attention-tiled t64 tiled attention
run attention-rows mb8 rows attention
run linear-t64 t64 tiled linear
run linear-t256 t256 tiled linear
run linear-mb8 mb8 rows linear
run patch_embed mb8 rows patch_embed
run rowwise mb8 rows norm
run softmax mb8 rows softmax
run elementwise mb8 rows gelu
run add mb8 rows add
exit $bad
