#!/bin/bash
# tests/cli/help_flags.sh VITCL - each command's --help offers exactly flags it accepts, and bad
# numbers are refused. For every flag F in `vitcl CMD --help`, `vitcl CMD F v --zz-end` must not
# be refused as an unknown F (the parser stops at the unknown --zz-end, so nothing runs); flags
# a command does not offer must be refused.
vitcl=$1
fail=0
check_no() { # CMD FLAG: FLAG is refused as unknown
    out=$("$vitcl" "$1" "$2" x 2>&1); rc=$?
    if [ $rc -ne 2 ] || ! grep -q -- "option $2\$" <<<"$out"; then
        echo "FAIL: vitcl $1 accepts $2 (rc $rc): $out"; fail=1; fi
}
for cmd in devices info run embed conformance bench; do
    help=$("$vitcl" $cmd --help) || { echo "FAIL: vitcl $cmd --help exits non-zero"; fail=1; }
    # Flags offered: those on the usage lines and option-list lines (lines that start with
    # "usage:", "[" or "-" after indentation), not flags prose mentions for other commands.
    flags=$(grep -E -- '^(usage:|[[:space:]]*[-[])' <<<"$help" |
            grep -oE -- '(^|[ ,\[])--?[a-z][a-z-]*' | sed 's/^[ ,[]//' | sort -u)
    [ -n "$flags" ] || { echo "FAIL: vitcl $cmd --help lists no flags"; fail=1; }
    for f in $flags; do
        case $f in -h|--help) continue;; esac
        out=$(timeout 20 "$vitcl" $cmd "$f" v --zz-end 2>&1)
        if grep -q -- "option $f\$" <<<"$out"; then
            echo "FAIL: vitcl $cmd --help offers $f but refuses it: $out"; fail=1; fi
    done
    check_no $cmd --zz-end
    grep -qx -- '--backend' <<<"$flags" || check_no $cmd --backend
done
# Bad numbers: the whole text must be the number.
for args in "bench m --batch 3x" "bench m --iters 1e3" "bench m --warmup -1" "bench m --size 2x2x" \
            "embed m i.png --batch 8k"; do
    out=$("$vitcl" $args 2>&1); rc=$?
    if [ $rc -ne 2 ] || ! grep -qE "takes|must be" <<<"$out"; then
        echo "FAIL: vitcl $args: rc $rc: $out"; fail=1; fi
done
exit $fail
