#!/usr/bin/env bash
# Installs the Debian 12 packages Picket needs to build, run and test.
# Idempotent: packages already present are skipped and nothing is printed for them.
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ pkg-config make
  # kernel side: CO-RE BPF programs and skeletons
  libbpf-dev bpftool clang llvm libelf-dev zlib1g-dev
  # netfilter queue and netlink
  libnetfilter-queue-dev libmnl-dev
  # libnftables: atomic nft transactions in-process, with the error text returned (no nft CLI parsing)
  libnftables-dev
  # RE2: the regexp syntax OpenSnitch rules are written in (Go regexp = RE2), linear-time matching
  libre2-dev
  # storage, digests, event loop
  libsqlite3-dev libssl-dev qt6-base-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # firewall back ends and namespaces used at run time and by the end-to-end tests
  nftables iptables iproute2 conntrack
  # procps: ps/pgrep-free process checks in tests use /proc directly, but `sysctl` is handy
  procps
  # dnsmasq-base: the DNS server of the host-name end-to-end tests (tests/integration/dns_e2e_test.cc),
  # run in the server namespace on its own config file. The -base package has the binary only: unlike
  # `dnsmasq` it installs no system service that would take port 53 on this machine.
  dnsmasq-base
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
