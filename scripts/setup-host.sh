#!/usr/bin/env bash
# Installs what mip6's demo and tests need on a Debian or Ubuntu host, as
# root. Idempotent: on a machine that has it all it only checks (a second
# or two). Called by scripts/demo.sh, scripts/test.sh and .ci/run; run it
# by hand to prepare a machine.
#
#   scripts/setup-host.sh            Debian packages, .venv with scapy, rustup components
#
# As a normal user it installs nothing system-wide: it says what is missing
# and sets up only the Python venv (the root-only tests skip anyway).
set -euo pipefail
cd "$(dirname "$0")/.."

# The one list of Debian packages the code relies on (the daemons, the
# testbed, the tests and the interop checks). Add new ones here, nowhere else.
PACKAGES=(
  iproute2 iputils-ping procps kmod  # ip, ping, sysctl, modprobe
  nftables                           # the daemons' Parameter Problem filter
  radvd ndisc6                       # routers on the testbed's links; rdisc6 in tests
  iperf3 tcpdump tshark              # traffic, captures, Wireshark's dissector in tests
  python3 python3-venv               # .venv with scapy (interop tests)
  ca-certificates gcc libc6-dev      # pip over https; linker and C for ring
  dnsmasq-base kea-dhcp6-server      # DHCPv6 servers for the care-of address tests and testbed links
  clang llvm libbpf-dev              # the eBPF data plane's programs (common/bpf), built by build.rs
)
SCAPY_VERSION=2.8.0

say() { printf 'setup-host: %s\n' "$*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    say "not a Debian/Ubuntu machine: install the equivalents of: ${missing[*]}"
  elif [ "$(id -u)" != 0 ]; then
    say "not root, cannot install: ${missing[*]} (run this script as root)"
  else
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive # tshark asks a debconf question otherwise
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# scapy is the independent packet builder of the interop tests; they take
# their python from MIP6_PYTHON, else .venv/bin/python.
if ! .venv/bin/python -c "import scapy, sys; sys.exit(scapy.VERSION != '$SCAPY_VERSION')" 2>/dev/null; then
  if python3 -c 'import venv, ensurepip' 2>/dev/null; then
    say "creating .venv with scapy $SCAPY_VERSION"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check "scapy==$SCAPY_VERSION"
  else
    say "python3 with venv is missing: the scapy interop tests will fail"
  fi
fi

if ! command -v cargo >/dev/null; then
  say "no cargo on PATH: install Rust (https://rustup.rs), then run this again"
  exit 1
fi
if command -v rustup >/dev/null; then
  rustup component add clippy rustfmt >/dev/null 2>&1 || say "rustup could not add clippy and rustfmt"
fi
