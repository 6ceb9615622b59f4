#!/usr/bin/env bash
# Installs Intel's oneAPI OpenCL runtime for CPUs (a second OpenCL implementation beside PoCL,
# used by CI to run the OpenCL suites on it) from PyPI into a venv, and writes an ICD
# registration file for it.
#
# Usage: tools/install_intel_opencl.sh [VENV_DIR]   (default: .venv-intel-ocl in the repository)
# Then:  export OCL_ICD_VENDORS=VENV_DIR/icd-intel  (ocl-icd loads only the runtimes listed there:
#        Intel's alone), or VENV_DIR/icd (Intel's beside every runtime of /etc/OpenCL/vendors)
#
# The versions are pinned: a new runtime is a deliberate change. The venv's lib/ must not go on
# LD_LIBRARY_PATH (it ships its own libOpenCL.so); the .icd file names libintelocl.so by its
# full path instead. Idempotent: a venv that already holds the pinned versions is reused.
set -euo pipefail
INTEL_OCL_VERSION=2026.2.0
repo_root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-"$repo_root/.venv-intel-ocl"}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -m pip show intel-opencl-rt 2>/dev/null | grep -qx "Version: $INTEL_OCL_VERSION"; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "intel-opencl-rt==$INTEL_OCL_VERSION" "intel-cmplr-lib-rt==$INTEL_OCL_VERSION"
fi
lib=$(find "$venv/lib" -name libintelocl.so -print -quit)
if [ -z "$lib" ]; then
  echo "install_intel_opencl: libintelocl.so not found under $venv/lib" >&2
  exit 1
fi
mkdir -p "$venv/icd" "$venv/icd-intel"
echo "$lib" > "$venv/icd-intel/intel-cpu.icd"
echo "$lib" > "$venv/icd/intel-cpu.icd"
for f in /etc/OpenCL/vendors/*.icd; do
  [ -e "$f" ] && ln -sf "$f" "$venv/icd/"
done
echo "install_intel_opencl: Intel OpenCL CPU runtime $INTEL_OCL_VERSION ready"
echo "export OCL_ICD_VENDORS=$venv/icd-intel   # Intel's runtime alone"
echo "export OCL_ICD_VENDORS=$venv/icd         # beside the system's runtimes"
