#!/usr/bin/env bash
# The README's main command: set the host up, build, run the testbed demo.
# Arguments go to `mip6-testbed demo` (e.g. --optimistic, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "scripts/demo.sh must run as root: the demo builds network namespaces." >&2
  exit 1
fi
scripts/setup-host.sh
cargo build --release --workspace --locked
exec target/release/mip6-testbed demo "$@"
