#!/usr/bin/env bash
# The README's test command: set the host up, then run every test. As root
# (CI) all of them run; as a normal user the tests that build network
# namespaces say "skipped: needs root" and pass. Extra arguments go to
# cargo test's test binaries (e.g. a name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-host.sh
export MIP6_PYTHON="${MIP6_PYTHON:-$PWD/.venv/bin/python}"
set -x
cargo test --workspace --locked -- --test-threads=2 "$@"
