#!/bin/sh
# tools/fuzz.sh SECONDS [TARGET...] - builds the libFuzzer harnesses of tests/fuzz (clang,
# AddressSanitizer, UndefinedBehaviorSanitizer) in build-fuzz/ and runs each target for SECONDS,
# one at a time, printing how many inputs each executed. Targets default to all of them:
# npy config preprocessor_config image safetensors pickle torch_zip.
#
# New interesting inputs go to build-fuzz/corpus/<target>/ (the committed seeds in
# tests/fuzz/corpus/<target>/ are only read); crashes, leaks and timeouts are written to
# build-fuzz/artifacts/<target>/ and make the script exit 1. A crashing input belongs in
# tests/fuzz/regressions/<target>/ once the parser is fixed (test_fuzz_regressions replays it).
# Environment: FUZZ_BUILD (build directory, default build-fuzz), FUZZ_JOBS (libFuzzer -jobs,
# default 1), FUZZ_ARGS (extra libFuzzer flags). Every run's counts are appended to
# $FUZZ_BUILD/executions.tsv so totals over many sessions can be summed.
set -eu

if [ $# -lt 1 ]; then
    echo "usage: tools/fuzz.sh SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-1}
all="npy config preprocessor_config image safetensors pickle torch_zip"
targets=${*:-$all}

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Dtests=true \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized \
        -Dopencl=disabled -Dcpu_plugin=disabled >"$build.setup.log" 2>&1 ||
        { cat "$build.setup.log" >&2; exit 1; }
fi
bins=""
for t in $targets; do bins="$bins tests/fuzz/fuzz_$t"; done
# shellcheck disable=SC2086
ninja -C "$build" $bins >/dev/null

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
status=0
for t in $targets; do
    case $t in
        image|torch_zip|safetensors) max_len=16384 ;;
        *) max_len=4096 ;;
    esac
    work="$build/corpus/$t"
    art="$build/artifacts/$t"
    mkdir -p "$work" "$art"
    log="$build/fuzz_$t.log"
    rc=0
    # shellcheck disable=SC2086
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len="$max_len" -timeout=20 \
        -rss_limit_mb=2048 -jobs="$jobs" -workers="$jobs" -print_final_stats=1 \
        -artifact_prefix="$art/" ${FUZZ_ARGS:-} "$work" "$root/tests/fuzz/corpus/$t" \
        >"$log" 2>&1 || rc=$?
    if [ "$jobs" -gt 1 ]; then cat fuzz-*.log >>"$log" 2>/dev/null && rm -f fuzz-*.log; fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s += $1} END {print s + 0}')
    printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "$execs" >>"$build/executions.tsv"
    total=$(awk -F '\t' -v t="$t" '$2 == t {s += $4} END {print s + 0}' "$build/executions.tsv")
    if [ "$rc" -ne 0 ]; then
        echo "fuzz_$t: FAILED after $execs executions (exit $rc); see $log and $art/" >&2
        grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" >&2 || true
        status=1
    else
        echo "fuzz_$t: $execs executions in ${seconds}s ($total in total in $build), no failure"
    fi
done
exit $status
