#!/usr/bin/env bash
# The test command: installs missing packages, builds ./build if needed, runs every suite.
# Extra arguments go to `meson test` (e.g. --suite model).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh >/dev/null
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
ninja -C build
meson test -C build --print-errorlogs --num-processes 2 "$@"
