#!/usr/bin/env bash
# The CLI's test hook (ROOTMAIL_TEST_HOLD_BEFORE_WRITE) is compiled into debug
# builds only. Build the CLI as a release build compiles it (debug assertions
# off; the dependencies are reused) and make sure the hook is not in it, then
# put the test build back. Part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo rustc --quiet --bin rootmail -- -C debug-assertions=off
status=0
if grep -q ROOTMAIL_TEST_HOLD_BEFORE_WRITE "$target/debug/rootmail"; then
    echo "FAIL: the test hook ROOTMAIL_TEST_HOLD_BEFORE_WRITE is in a build without debug assertions" >&2
    status=1
else
    echo "ok: no test hook in a build without debug assertions"
fi
cargo build --quiet --bins
exit $status
