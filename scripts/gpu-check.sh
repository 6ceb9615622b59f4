#!/usr/bin/env bash
# scripts/gpu-check.sh - the OpenCL backend on a machine with a GPU, in one run, one results file.
#
# usage: scripts/gpu-check.sh [RESULTS_FILE]     (default: build-gpu/gpu-check-results.txt)
# env:   GPU_CHECK_DEVICE=N   use OpenCL device N of the opencl plugin even when it is not a GPU
#                             (a dry run on a CPU runtime such as PoCL or Intel's; the results
#                             file then says "dry run")
#        GPU_CHECK_BENCH=0    skip scripts/bench.sh (it needs tools/setup_venv.sh's Python)
#        BATCHES, ITERS       passed to scripts/bench.sh (default "1 8" and 5)
#        GPU_CHECK_BUILD=DIR  build folder (default build-gpu, release)
#        GPU_CHECK_FORCED="GEMM:ATTENTION ..."  the forced combinations run on the quick matrix
#                             (default: t64, t256, mb8, clblast each with tiled and rows)
#        GPU_CHECK_TESTS="..."  meson tests or suites to run on the device (default: opencl)
#
# Steps: (1) find the GPU's OpenCL ICD: the registered ones (/etc/OpenCL/vendors or
# OCL_ICD_VENDORS), else a vendor library found on the machine (NVIDIA, AMD ROCm, Intel
# compute-runtime), registered through a temporary OCL_ICD_VENDORS folder; with none it says so
# and exits 2. (2) build into build-gpu (release). (3) vitcl devices; pick the first GPU of the
# opencl plugin. (4) conformance, full matrix plus the model fixtures, tuned choice, then the
# GPU-shaped and CPU-shaped kernels forced one by one (quick matrix). (5) the opencl meson suites
# on that device (VITCL_TEST_DEVICE). (6) scripts/bench.sh (vitcl opencl on the device vs PyTorch on
# vit-msn-large's config). Every step's output goes into the results file (format:
# docs/opencl.md, "GPU check"). Exit status 0 when every step passed, 1 when any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-${GPU_CHECK_BUILD:-build-gpu}/gpu-check-results.txt}
mkdir -p "$(dirname "$out")"
: > "$out"
failed=0
start=$(date +%s)

say() { echo "$*" | tee -a "$out"; }
# step NAME CMD...: runs CMD, appends its output (indented) and one status line.
step() {
  local name=$1
  shift
  local t0 log rc
  t0=$(date +%s)
  log=$(mktemp)
  echo "== $name" >&2
  "$@" > "$log" 2>&1
  rc=$?
  {
    echo
    echo "## $name"
    echo "command: $*"
    sed 's/^/    /' "$log"
    if [ "$rc" -eq 0 ]; then echo "status: PASS ($(( $(date +%s) - t0 )) s)"
    else echo "status: FAIL, exit $rc ($(( $(date +%s) - t0 )) s)"; fi
  } >> "$out"
  rm -f "$log"
  [ "$rc" -eq 0 ] || { failed=1; echo "   FAILED (exit $rc): see $out" >&2; }
  return "$rc"
}

say "# vitcl GPU check"
say "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)')"
say "host: $(uname -srm); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# ---- (1) the ICD
vendors=${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}
registered=$(ls "$vendors"/*.icd 2>/dev/null | tr '\n' ' ')
say "icd folder: $vendors; registered: ${registered:-none}"
gpu_lib=""
for f in $registered; do
  case "$(cat "$f")" in *nvidia*|*amdocl*|*igdrcl*|*rusticl*|*mesa*) gpu_lib=$(cat "$f") ;; esac
done
if [ -z "$gpu_lib" ]; then
  # Containers with a GPU often carry the vendor's library without an .icd file.
  for name in libnvidia-opencl.so.1 libamdocl64.so libigdrcl.so libRusticlOpenCL.so.1; do
    found=$( (ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n {print $NF; exit}');
             find /usr/lib /usr/lib64 /usr/local /opt -name "$name" 2>/dev/null | head -n 1)
    found=$(echo "$found" | head -n 1)
    if [ -n "$found" ]; then
      tmp_vendors=$(mktemp -d)
      for f in $registered; do ln -s "$f" "$tmp_vendors/"; done
      echo "$found" > "$tmp_vendors/gpu-check-$name.icd"
      export OCL_ICD_VENDORS=$tmp_vendors
      gpu_lib=$found
      say "icd: registered $found through OCL_ICD_VENDORS=$tmp_vendors"
      break
    fi
  done
fi
say "gpu icd library: ${gpu_lib:-none found}"
if [ -z "$gpu_lib" ] && [ -z "${GPU_CHECK_DEVICE:-}" ]; then
  say "result: NO GPU ICD: this image has no OpenCL driver for a GPU (no NVIDIA, AMD ROCm, Intel"
  say "        compute-runtime or Mesa rusticl library registered or on the library path)."
  say "        Install the vendor's OpenCL ICD package, or set GPU_CHECK_DEVICE=N for a dry run."
  exit 2
fi

# ---- (2) build
bdir=${GPU_CHECK_BUILD:-build-gpu}
step "build ($bdir)" bash -c \
  "[ -f '$bdir/build.ninja' ] || meson setup '$bdir' --buildtype=release; ninja -C '$bdir'" \
  || { say "result: FAIL (build)"; exit 1; }
vitcl=$root/$bdir/host/cli/vitcl

# ---- (3) the device
devices=$("$vitcl" devices 2>&1)
step "vitcl devices" echo "$devices"
dev=${GPU_CHECK_DEVICE:-}
if [ -z "$dev" ]; then
  dev=$(echo "$devices" | awk '/^plugin /{p=$2} p=="opencl" && /device [0-9]+: GPU /{sub(":","",$2); print $2; exit}')
fi
if [ -z "$dev" ]; then
  say "result: NO GPU DEVICE: the ICD loaded but the opencl plugin lists no GPU (see vitcl devices)"
  exit 2
fi
dev_line=$(echo "$devices" | awk -v d="$dev" '/^plugin /{p=$2} p=="opencl" && $1=="device" && $2==d":"{print; exit}')
say "device: opencl device $dev:${dev_line#*:}"
case "$dev_line" in *": GPU "*) ;; *) say "mode: dry run (not a GPU device)" ;; esac
export VITCL_DEVICE=$dev VITCL_BACKEND=opencl
export VITCL_CACHE_DIR=$root/$bdir/gpu-check-cache
export VITCL_CL_STATS_FILE=$root/$bdir/gpu-check-stats.txt
: > "$VITCL_CL_STATS_FILE"

# ---- (4) conformance: tuned, then each kernel family forced
step "conformance, full matrix + model fixtures (tuned choice)" \
  "$vitcl" conformance --plugin opencl --device "$dev" --fixtures tests/fixtures/models \
  --report "$bdir/gpu-check-conformance.json"
step "tuning and self-check (stats line)" cat "$VITCL_CL_STATS_FILE"
forced=${GPU_CHECK_FORCED:-"t64:tiled t64:rows t256:tiled t256:rows mb8:tiled mb8:rows clblast:tiled clblast:rows"}
for ga in $forced; do
  g=${ga%%:*} a=${ga#*:}
  step "conformance quick, VITCL_CL_GEMM=$g VITCL_CL_ATTENTION=$a" \
    env VITCL_CL_GEMM="$g" VITCL_CL_ATTENTION="$a" \
    "$vitcl" conformance --plugin opencl --device "$dev" --quick --fixtures tests/fixtures/models
done

# ---- (5) the meson OpenCL suites on this device
tests=${GPU_CHECK_TESTS:-"--suite opencl"}
# shellcheck disable=SC2086 # $tests is a list of meson test names or "--suite opencl"
step "meson test $tests (VITCL_TEST_DEVICE=$dev)" \
  env VITCL_TEST_DEVICE="$dev" meson test -C "$bdir" --print-errorlogs --num-processes 1 $tests

# ---- (6) bench
if [ "${GPU_CHECK_BENCH:-1}" != 0 ]; then
  step "scripts/bench.sh (vit-msn-large config)" \
    env BACKENDS=opencl BATCHES="${BATCHES:-1 8}" ITERS="${ITERS:-5}" \
    bash scripts/bench.sh
fi

say ""
if [ "$failed" -eq 0 ]; then say "result: PASS ($(( $(date +%s) - start )) s)"
else say "result: FAIL ($(( $(date +%s) - start )) s; see the FAIL status lines)"; fi
exit "$failed"
