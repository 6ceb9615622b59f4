#!/usr/bin/env bash
# The test command: installs missing packages, builds ./build if needed, runs every suite, then
# (when no arguments are given) the Python package's tests (tools/test_python.sh).
# Extra arguments go to `meson test` (e.g. --suite model) and skip the Python tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh >/dev/null
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
ninja -C build
meson test -C build --print-errorlogs --num-processes 2 "$@"
if [ $# -eq 0 ]; then
  bash tools/test_python.sh
fi
