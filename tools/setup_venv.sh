#!/bin/sh
# Create the Python virtual environment used to regenerate golden fixtures
# (tools/make_fixtures.py) and pip-install the pinned versions from tools/requirements.txt.
#
# Usage: tools/setup_venv.sh [VENV_DIR]      (default: .venv-tools in the repository root)
#
# Note: torch from PyPI is large (several GB with its CUDA wheels on Linux x86-64); the
# fixtures only need the CPU. To save space, install PyTorch's CPU-only build of torch==2.15.0
# into VENV_DIR first (PyTorch documents its own package index for it); pip then keeps the
# already satisfied torch.
set -eu

repo_root=$(cd "$(dirname "$0")/.." && pwd)
venv_dir=${1:-"$repo_root/.venv-tools"}
python=${PYTHON:-python3}

if [ ! -x "$venv_dir/bin/python" ]; then
    "$python" -m venv "$venv_dir"
fi
"$venv_dir/bin/python" -m pip install --upgrade pip
"$venv_dir/bin/python" -m pip install -r "$repo_root/tools/requirements.txt"

echo "venv ready: $venv_dir"
echo "regenerate fixtures with: $venv_dir/bin/python tools/make_fixtures.py"
