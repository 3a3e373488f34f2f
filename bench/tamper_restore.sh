#!/usr/bin/env bash
# tamper_restore.sh — time from another tool removing Picket's rules to picketd re-installing them.
#
#   sudo bench/tamper_restore.sh [--build-dir DIR] [--rounds N]
#
# In a fresh network namespace, picketd runs with its default firewall (the iptables backend on a
# kernel without nft's queue statement, else nft) and firewall_watch on. tamper_clock (bench/tamper_clock.c)
# then runs, N times each, `iptables -w -t mangle -F` and `nft flush ruleset` and timestamps the
# nf_tables commits: the tool's own, then picketd's re-install(s). Prints both statistics per command
# and the target (BRIEF.md: interception restored ≤ 100 ms).
# Needs root. Cleans up its namespace, picketd and temp files on exit (trap).
set -euo pipefail
# shellcheck source=bench/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

BUILD_DIR=build
ROUNDS=50
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) sed -n '3,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[[ $EUID -eq 0 ]] || bench_die "needs root"
BUILD_DIR=$(realpath "$BUILD_DIR")
PICKETD=$BUILD_DIR/daemon/picketd
CLOCK=$BUILD_DIR/bench/tamper_clock
bench_require_executables "cmake --build $BUILD_DIR --target picketd tamper_clock" "$PICKETD" "$CLOCK"

NS=picket-tamper-bench-$$
TMP=$(mktemp -d /tmp/picket-tamper-bench-XXXXXX)
PICKETD_PID=""
cleanup() {
  bench_stop_pid "$PICKETD_PID"
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir "$TMP/rules"
nsenter --net="/run/netns/$NS" "$PICKETD" --rules-dir "$TMP/rules" --no-history --log-level info \
  2>"$TMP/picketd.log" &
PICKETD_PID=$!
bench_wait_for_line "$TMP/picketd.log" "ready:" 15 "$PICKETD_PID"
grep -q "firewall watch: on" "$TMP/picketd.log" || { cat "$TMP/picketd.log" >&2; bench_die "firewall watch is not on"; }
grep -o "firewall: backend=[a-z]*" "$TMP/picketd.log"

for cmd in "iptables -w -t mangle -F" "nft flush ruleset"; do
  echo "## $cmd ($ROUNDS rounds; target: restored ≤ 100 ms)"
  # shellcheck disable=SC2086
  ip netns exec "$NS" "$CLOCK" "$ROUNDS" -- $cmd
done
echo "picketd: $(grep -c "re-installed (" "$TMP/picketd.log") re-installs logged"
