#!/usr/bin/env bash
# Proves the plugin author's kit end to end, as an outside author would use it:
#   1. installs vitcl (library, headers, vitcl.pc, the ref plugin, the vitcl CLI) into a
#      temporary prefix from a fresh build directory;
#   2. copies examples/plugin-skeleton out of the tree and builds it there with its Makefile and
#      with its meson.build, finding vitcl through pkg-config alone;
#   3. checks that the installed CLI accepts the plugin and finds the installed ref plugin;
#   4. runs the installed `vitcl conformance` on the skeleton with the model fixtures: it must
#      exit 0, every required op's row must PASS, and every row of the optional ops (attention,
#      linear_pack_weight) and of linear's optional residual flag (ABI 1.2; the skeleton has no
#      supports(), so the host never asks it) must be UNSUPPORTED, never a pass.
# Usage: tools/check_skeleton.sh [--keep]   (--keep leaves the temporary folder for inspection)
# Exit status 0 when everything held, 1 otherwise. Takes about 20 s on two cores.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEEP=0
for a in "$@"; do
  case "$a" in
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "check_skeleton: unknown argument '$a'" >&2; exit 2 ;;
  esac
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vitcl-skeleton.XXXXXX")
cleanup() {
  if [ "$KEEP" = 1 ]; then echo "check_skeleton: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
PREFIX=$TMP/prefix
start=$(date +%s)

fail() {
  echo "check_skeleton: FAIL: $*" >&2
  exit 1
}
# Runs a command with its output in a log; on failure shows the log's tail and stops.
logged() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    fail "'$*' failed (log: $log)"
  fi
}
# The environment must not steer plugin search or backend choice during the check.
unset VITCL_PLUGIN_PATH VITCL_BACKEND VITCL_DEVICE VITCL_FIXTURES_DIR VITCL_FAULT_INJECT

echo "== 1. install vitcl into $PREFIX"
logged "$TMP/setup.log" meson setup "$TMP/build" "$ROOT" --prefix="$PREFIX" \
  -Dtests=false -Dfuzz=false -Dopencl=disabled -Dcpu_plugin=disabled
logged "$TMP/install.log" ninja -C "$TMP/build" install
PC=$(find "$PREFIX" -path '*/pkgconfig/vitcl.pc' | head -n 1)
[ -n "$PC" ] || fail "no vitcl.pc was installed under $PREFIX"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$PC")
VITCL=$PREFIX/bin/vitcl
[ -x "$VITCL" ] || fail "the vitcl CLI was not installed at $VITCL"
for h in backend.h status.h vitcl.h conformance.h; do
  [ -f "$PREFIX/include/vitcl/$h" ] || fail "header vitcl/$h was not installed"
done
PLUGINDIR=$(pkg-config --variable=plugindir vitcl)
[ -f "$PLUGINDIR/vitcl_ref.so" ] || fail "pkg-config's plugindir $PLUGINDIR holds no vitcl_ref.so"
echo "   pkg-config: $PC"
echo "   cflags: $(pkg-config --cflags vitcl)   plugindir: $PLUGINDIR"

echo "== 2. build the skeleton out of tree with pkg-config alone"
SK=$TMP/plugin-skeleton
cp -r "$ROOT/examples/plugin-skeleton" "$SK"
rm -rf "$SK/build" "$SK/vitcl_skeleton.so"
logged "$TMP/make.log" make -C "$SK"
grep -qi "warning" "$TMP/make.log" && { cat "$TMP/make.log" >&2; fail "the Makefile build warns"; }
[ -f "$SK/vitcl_skeleton.so" ] || fail "make did not produce vitcl_skeleton.so"
echo "   make: $SK/vitcl_skeleton.so"
logged "$TMP/skeleton-meson.log" meson setup "$SK/build" "$SK" --werror
logged "$TMP/skeleton-ninja.log" ninja -C "$SK/build"
[ -f "$SK/build/vitcl_skeleton.so" ] || fail "meson did not produce vitcl_skeleton.so"
echo "   meson: $SK/build/vitcl_skeleton.so"

echo "== 3. the installed CLI loads it"
for so in "$SK/vitcl_skeleton.so" "$SK/build/vitcl_skeleton.so"; do
  "$VITCL" devices --plugin "$so" >"$TMP/devices.txt" 2>&1 || {
    cat "$TMP/devices.txt" >&2; fail "vitcl devices --plugin $so failed"; }
  grep -q "^plugin skeleton " "$TMP/devices.txt" || {
    cat "$TMP/devices.txt" >&2; fail "vitcl did not accept $so"; }
  grep -q "path: $PLUGINDIR/vitcl_ref.so" "$TMP/devices.txt" || {
    cat "$TMP/devices.txt" >&2; fail "the installed CLI did not find the installed ref plugin"; }
done
echo "   accepted: $(grep '^plugin skeleton ' "$TMP/devices.txt")"

echo "== 4. vitcl conformance --plugin $SK/vitcl_skeleton.so --fixtures tests/fixtures/models"
set +e
"$VITCL" conformance --plugin "$SK/vitcl_skeleton.so" --fixtures "$ROOT/tests/fixtures/models" \
  --report "$TMP/report.json" >"$TMP/conformance.txt" 2>&1
rc=$?
set -e
# Table rows: op name first, verdict second to last (shapes contain spaces), time last.
summary=$(awk '
  $(NF - 1) ~ /^(PASS|FAIL|UNSUPPORTED)$/ && $NF ~ /^[0-9.]+$/ {
    v = $(NF - 1); rows++
    if ($1 == "attention" || $1 == "linear_pack_weight" || / residual /) {
      if (v != "UNSUPPORTED") { print "optional op row is " v ": " $0; bad++ }
      else unsup++
    } else if (v != "PASS") { print "row is " v ": " $0; bad++ }
    else if ($1 == "model") models++
  }
  /^summary: / { reported = $2 + $4 + $6 }
  END {
    if (rows != reported) { print "table rows: " rows ", summary counts: " reported; bad++ }
    printf "rows=%d unsupported=%d models=%d bad=%d\n", rows, unsup, models, bad
  }
' "$TMP/conformance.txt")
echo "$summary" | sed 's/^/   /'
grep "^summary:" "$TMP/conformance.txt" | sed 's/^/   /' || true
[ "$rc" -eq 0 ] || { cat "$TMP/conformance.txt" >&2; fail "vitcl conformance exited $rc"; }
echo "$summary" | grep -q "bad=0$" || fail "rows with the wrong verdict (above)"
echo "$summary" | grep -Eq "unsupported=[1-9]" || fail "no optional-op row reported UNSUPPORTED"
echo "$summary" | grep -Eq "models=[1-9]" || fail "no model fixture ran end to end"
[ -s "$TMP/report.json" ] || fail "no JSON report was written"

echo "== check_skeleton: OK in $(( $(date +%s) - start )) s"
