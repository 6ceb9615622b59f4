#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build ./build, show the devices,
# then embed the sample photos with the bundled demo checkpoint (random-init weights: the
# numbers are real computations but carry no meaning; see tests/fixtures/demo/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release
ninja -C build
VITCL=build/host/cli/vitcl
echo
echo "== vitcl devices"
"$VITCL" devices
echo
echo "== vitcl info tests/fixtures/demo"
"$VITCL" info tests/fixtures/demo --no-tensors
IMAGES=(tests/fixtures/images/src/jpg_baseline_astronaut_320x256.jpg
        tests/fixtures/images/src/jpg_444_chelsea_451x300.jpg
        tests/fixtures/images/src/jpg_progressive_coffee_400x300.jpg
        tests/fixtures/images/src/png_gray8_camera_160x128.png)
echo
echo "== vitcl embed tests/fixtures/demo (${#IMAGES[@]} sample images) -> build/demo-embeddings.npy"
"$VITCL" embed tests/fixtures/demo "${IMAGES[@]}" -o build/demo-embeddings.npy --pool cls "$@"
