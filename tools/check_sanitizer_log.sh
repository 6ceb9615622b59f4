#!/usr/bin/env bash
# Fails when a sanitizer report in a meson test log points at our code.
#
# Criterion reports a test's result from a forked worker before the worker's exit-time leak
# check runs, so a LeakSanitizer report does not fail the test by itself: this script reads the
# log instead. A leak counts when any frame of its allocation stack lies outside the
# sanitizer runtime and Criterion's own runner (Criterion 2.4 leaks one 48-byte runner block per
# process, with no frame of ours). ASan errors and UBSan "runtime error" lines always count.
# usage: tools/check_sanitizer_log.sh build-asan/meson-logs/testlog.txt
set -euo pipefail
log=${1:?usage: check_sanitizer_log.sh TESTLOG}
awk '
  /ERROR: AddressSanitizer|runtime error:|ERROR: ThreadSanitizer|WARNING: ThreadSanitizer/ {
    bad++; print "sanitizer: " $0
  }
  /^(Direct|Indirect) leak of/ { inleak = 1; ours = 0; block = $0; next }
  inleak && /^ *#[0-9]+ / {
    block = block "\n" $0
    if ($0 !~ /libsanitizer|libcriterion|asan_malloc/) ours = 1
    next
  }
  inleak {
    if (ours) { bad++; print "leak in our code:\n" block "\n" }
    inleak = 0
  }
  END {
    if (inleak && ours) { bad++; print "leak in our code:\n" block }
    if (bad) { print bad " sanitizer finding(s) in " FILENAME; exit 1 }
    print "check_sanitizer_log: no sanitizer findings in our code (" FILENAME ")"
  }
' "$log"
