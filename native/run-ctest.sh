#!/usr/bin/env bash
# Runs the native tests (ctest) of a build folder and prints why any test was skipped.
# Usage: native/run-ctest.sh <build> [regex of the tests to run]
set -uo pipefail
build="$1"
ctest --test-dir "$build" --output-on-failure ${2:+-R "$2"}
rc=$?
log="$build/Testing/Temporary/LastTest.log"
[ -f "$log" ] && grep -hi "^skipped" "$log" | sed 's/^/ctest: /' || true
exit $rc
