#!/usr/bin/env bash
# rss_state.sh — picketd's memory and idle wake-ups with many known processes and cached DNS names.
#
#   sudo bench/rss_state.sh [--build-dir DIR] [--processes N] [--names N] [--idle-seconds S]
#                           [-- picketd args...]
#
# Between two fresh network namespaces (client 198.18.0.1 running picketd, server 198.18.0.2):
#   1. picketd starts (event log on, in a temp file; extra picketd args after --);
#   2. idle_children keeps N idle processes alive (default 10 000): the exec-event store learns them;
#   3. the server namespace sends N DNS responses (default 100 000) from port 53 to the client, each
#      naming a distinct host with a distinct A record in 198.18.0.0/15 (data only, never a target),
#      paced so picketd's DNS queue never overflows; picketd learns them into its cache;
#   4. 100 connections are decided (so the verdict path and the event log have run);
#   5. with everything idle, picketd's context switches (/proc/PID/schedstat, /proc/PID/task/*/status)
#      and CPU ticks are counted over S seconds (default 10);
#   6. VmRSS, VmHWM and /proc/PID/smaps_rollup are printed, with the largest mappings by RSS, and
#      picketd is stopped; its stop log gives the DNS cache size and the store's counters.
# Needs root. Cleans up its namespaces, processes and temp files on exit (trap).
set -euo pipefail
# shellcheck source=bench/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

BUILD_DIR=build
PROCESSES=10000
NAMES=100000
IDLE_SECONDS=10
PORT=9000
CLIENT_IP=198.18.0.1
SERVER_IP=198.18.0.2
EXTRA=()

die() { bench_die "$@"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD_DIR=${2:?}; shift 2 ;;
    --processes) PROCESSES=${2:?}; shift 2 ;;
    --names) NAMES=${2:?}; shift 2 ;;
    --idle-seconds) IDLE_SECONDS=${2:?}; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '3,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
for n in "$PROCESSES" "$NAMES" "$IDLE_SECONDS"; do [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: '$n'"; done
(( NAMES <= 131072 )) || die "--names at most 131072 (one address of 198.18.0.0/15 each)"
[[ $EUID -eq 0 ]] || die "needs root (network namespaces, netfilter, eBPF)"

bench_locate_binaries "$BUILD_DIR"

NS_C=picket-rss-c-$$
NS_S=picket-rss-s-$$
TMP=$(mktemp -d /tmp/picket-rss-XXXXXX)
DAEMON_PID="" SERVER_PID="" CHILDREN_PID="" DNS_PID=""

stop_pid() { bench_stop_pid "$@"; }
cleanup() {
  stop_pid "$DAEMON_PID"
  stop_pid "$CHILDREN_PID"
  stop_pid "$SERVER_PID"
  stop_pid "$DNS_PID"
  exec 3>&- 2>/dev/null || true
  ip netns delete "$NS_C" 2>/dev/null || true
  ip netns delete "$NS_S" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_line() { bench_wait_for_line "$@"; }

bench_make_pair "$NS_C" "$NS_S" prc0 prs0 "$CLIENT_IP" "$SERVER_IP"
ip netns exec "$NS_S" "$ACCEPT_SERVER" "$PORT" >"$TMP/server.out" 2>&1 &
SERVER_PID=$!
wait_for_line "$TMP/server.out" listening 5 "$SERVER_PID"

mkdir -p "$TMP/rules"
cat >"$TMP/rules/bench-allow.json" <<JSON
{"name":"bench-allow","enabled":true,"precedence":false,"action":"allow","duration":"always",
 "operator":{"type":"simple","operand":"process.path","data":"$CONNECT_BENCH","sensitive":false}}
JSON
cat >"$TMP/rules/bench-dns.json" <<JSON
{"name":"bench-dns","enabled":true,"precedence":false,"action":"allow","duration":"always",
 "operator":{"type":"simple","operand":"dest.port","data":"53","sensitive":false}}
JSON
# nsenter keeps /sys (and so the cgroup2 hierarchy the flow-ownership programs attach to).
nsenter --net="/run/netns/$NS_C" "$PICKETD" --rules-dir "$TMP/rules" --default-action deny --log-level info \
  --history-path "$TMP/history.db" "${EXTRA[@]}" >/dev/null 2>"$TMP/picketd.log" &
DAEMON_PID=$!
wait_for_line "$TMP/picketd.log" "ready:" 15 "$DAEMON_PID"
echo "rss_state: picketd ready, VmRSS $(awk '/^VmRSS:/ { print $2 " kB" }' /proc/$DAEMON_PID/status)" >&2

if (( PROCESSES > 0 )); then
  exec 3> >("$IDLE_CHILDREN" "$PROCESSES" >"$TMP/children.out" 2>&1)
  CHILDREN_PID=$!
  wait_for_line "$TMP/children.out" ready 120 "$CHILDREN_PID"
  echo "rss_state: $PROCESSES idle processes alive" >&2
fi

if (( NAMES > 0 )); then
  # The DNS queue takes replies only (ct state established): the client asks once, from port 5353,
  # and the server answers that one query N times, each with another name and address.
  ip netns exec "$NS_S" python3 - "$NAMES" >"$TMP/dns-server.out" 2>&1 <<'PY' &
import socket, struct, sys, time
count = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
print("listening", flush=True)
s.settimeout(10)
_, client = s.recvfrom(512)
for i in range(count):
    name = b"".join(bytes([len(l)]) + l for l in (b"host%06d" % i, b"bench", b"example")) + b"\0"
    addr = bytes([198, 18 + (i >> 16), (i >> 8) & 255, i & 255])
    msg = struct.pack("!HHHHHH", i & 0xffff, 0x8180, 1, 1, 0, 0) + name + struct.pack("!HH", 1, 1)
    msg += struct.pack("!HHHIH", 0xc00c, 1, 1, 3600, 4) + addr
    s.sendto(msg, client)
    if i % 256 == 255:
        time.sleep(0.002)  # picketd's DNS queue holds 4096; fail-open past that would skip learning
print("sent", count, flush=True)
PY
  DNS_PID=$!
  wait_for_line "$TMP/dns-server.out" listening 5 "$DNS_PID"
  ip netns exec "$NS_C" python3 -c "
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 5353))
q = struct.pack('!HHHHHH', 1, 0x0100, 1, 0, 0, 0) + b'\x05bench\x07example\x00' + struct.pack('!HH', 1, 1)
s.sendto(q, ('$SERVER_IP', 53))"
  wait "$DNS_PID" || die "DNS responder failed: $(cat "$TMP/dns-server.out")"
  echo "rss_state: $(tail -1 "$TMP/dns-server.out") DNS responses" >&2
fi

ip netns exec "$NS_C" "$CONNECT_BENCH" "$SERVER_IP" "$PORT" --count 100 --warmup 0 --label rss >/dev/null
sleep 1
stat_field() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
ctx_total() {  # voluntary + involuntary context switches of every thread
  local sum=0 t
  for t in /proc/"$1"/task/*; do
    sum=$((sum + $(awk '/^voluntary_ctxt_switches:|^nonvoluntary_ctxt_switches:/ { s += $2 } END { print s }' "$t/status")))
  done
  echo "$sum"
}
cpu_ticks() { bench_cpu_ticks "$1"; }
sleep 2  # let the event log's writer commit the last batch
ctx0=$(ctx_total "$DAEMON_PID"); cpu0=$(cpu_ticks "$DAEMON_PID")
sleep "$IDLE_SECONDS"
ctx1=$(ctx_total "$DAEMON_PID"); cpu1=$(cpu_ticks "$DAEMON_PID")

echo "threads: $(ls /proc/$DAEMON_PID/task | wc -l)"
echo "idle ${IDLE_SECONDS} s: context switches (all threads) $((ctx1 - ctx0)), CPU ticks $((cpu1 - cpu0)) ($(getconf CLK_TCK) Hz)"
echo "VmRSS $(stat_field "$DAEMON_PID" VmRSS) kB, VmHWM $(stat_field "$DAEMON_PID" VmHWM) kB," \
     "RssAnon $(stat_field "$DAEMON_PID" RssAnon) kB, RssFile $(stat_field "$DAEMON_PID" RssFile) kB," \
     "RssShmem $(stat_field "$DAEMON_PID" RssShmem) kB"
grep -E '^(Rss|Pss|Pss_Anon|Pss_File|Pss_Shmem|Private_Dirty|Shared_Clean):' "/proc/$DAEMON_PID/smaps_rollup" | tr -s ' ' | paste -sd ' '
echo "largest mappings (RSS kB, name):"
awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6) } /^Rss:/ { rss[name] += $2 }
     END { for (n in rss) if (rss[n] >= 256) print rss[n], n }' "/proc/$DAEMON_PID/smaps" | sort -rn | head -12
stop_pid "$DAEMON_PID"; DAEMON_PID=""
grep -o 'counters: dns.*' "$TMP/picketd.log" || true
grep -o 'counters: history.*' "$TMP/picketd.log" || true
grep -iE 'process.*counters|store' "$TMP/picketd.log" | tail -3 | sed 's/^[^ ]* [A-Z]* //' || true
