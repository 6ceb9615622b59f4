#!/usr/bin/env bash
# The Python package's tests: (re)creates .venv-python with Debian's python3 and the pinned
# packages of tools/requirements-python.txt (from PyPI), builds and installs the package with
# `pip install .` (incremental, in build-python/), then runs python/tests with pytest against
# the `vitcl` program in build/ (tools/test.sh builds it first). Fails on any failed or
# skipped test, and when no test ran at all (pytest exit status 5).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VITCL_PYTHON:-/usr/bin/python3}
VENV=.venv-python
REQ=tools/requirements-python.txt
stamp=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements-sha256" 2>/dev/null)" != "$stamp" ]; then
  echo "test_python: creating $VENV from $REQ"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  echo "$stamp" > "$VENV/.requirements-sha256"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check --no-build-isolation \
  --config-settings=build-dir=build-python .
export VITCL_CLI=${VITCL_CLI:-$PWD/build/host/cli/vitcl}
# -P: the source folder python/vitcl (no extension inside) must not shadow the installed package
"$VENV/bin/python" -P -m pytest -p no:cacheprovider -q -rfEs python/tests
