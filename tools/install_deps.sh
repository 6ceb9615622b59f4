#!/usr/bin/env bash
# Installs the Debian 12 packages vitcl needs to build, test and run, when any is missing.
# Run as root (or with sudo available). Idempotent: does nothing when all are present.
set -euo pipefail
PKGS=(
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev valgrind
  ocl-icd-opencl-dev ocl-icd-libopencl1 opencl-headers pocl-opencl-icd clinfo oclgrind
  libclblast-dev libopenblas-dev libdnnl-dev
  libpng-dev libturbojpeg0-dev libcjson-dev libzip-dev zlib1g-dev libcriterion-dev libssl-dev
  python3-dev python3-venv
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install_deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
