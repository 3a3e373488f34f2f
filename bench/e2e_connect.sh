#!/usr/bin/env bash
# e2e_connect.sh — end-to-end connect() benchmark of picketd against the NFQUEUE floor.
#
#   sudo bench/e2e_connect.sh [--build-dir DIR] [--count N] [--warmup N] [--rounds R]
#                             [--queue-num N] [--output FILE]
#
# Between two network namespaces joined by a veth pair (client 198.18.0.1, server 198.18.0.2 running
# accept_server), connect_bench makes N sequential TCP connects in each of three setups:
#   (a) no queue      — no firewall rules at all
#   (b) floor         — picketd's own firewall rules (copied from a running picketd with
#                       iptables-save / nft list), with nfq_floor accepting every queued packet unseen
#   (b') floor+programs — (b) while a second picketd in the client namespace (queue N+2, its own
#                       firewall rules replaced by the floor's copy, firewall watch off) has its
#                       flow-ownership BPF programs attached: the cost they add to the client's
#                       connect(), without picketd's verdict path
#   (c) picketd       — picketd itself, default action deny, one allow rule matching connect_bench,
#                       no event log (--no-history)
#   (d) picketd+history — the same with the SQLite event log on (a fresh file under the temp dir):
#                       every decision is also written by the log's writer thread
# Each setup gets fresh namespaces (empty conntrack table). With --rounds R the three setups run R
# times, interleaved, and the table shows the median of each figure.
# Daemon CPU per connection = (utime + stime of the floor / picketd over the run, /proc/PID/stat)
# / (N + warmup). Prints a markdown table (also written to --output FILE).
# Needs root. Cleans up its namespaces, processes and temp files on exit (trap).
set -euo pipefail
# shellcheck source=bench/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

BUILD_DIR=build
COUNT=20000
WARMUP=500
ROUNDS=1
QUEUE_NUM=0
OUTPUT=""
PORT=9000
CLIENT_IP=198.18.0.1
SERVER_IP=198.18.0.2

usage() {
  sed -n '3,5p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

die() {
  echo "e2e_connect: $*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD_DIR=${2:?}; shift 2 ;;
    --count) COUNT=${2:?}; shift 2 ;;
    --warmup) WARMUP=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --queue-num) QUEUE_NUM=${2:?}; shift 2 ;;
    --output) OUTPUT=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "e2e_connect: unknown argument '$1'" >&2; usage ;;
  esac
done
for n in "$COUNT" "$WARMUP" "$ROUNDS" "$QUEUE_NUM"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: '$n'"
done
(( COUNT > 0 && ROUNDS > 0 )) || die "--count and --rounds must be positive"
[[ $EUID -eq 0 ]] || die "needs root (network namespaces, netfilter)"

bench_locate_binaries "$BUILD_DIR"
for tool in ip nsenter iptables-save iptables-restore ip6tables-save ip6tables-restore nft; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done

NS_C=picket-bench-c-$$
NS_S=picket-bench-s-$$
TMP=$(mktemp -d /tmp/picket-bench-XXXXXX)
CLK_TCK=$(getconf CLK_TCK)
SERVER_PID=""
DAEMON_PID=""
PROGRAMS_PID=""

stop_pid() { bench_stop_pid "$@"; }

teardown_pair() {
  stop_pid "$DAEMON_PID"; DAEMON_PID=""
  stop_pid "$PROGRAMS_PID"; PROGRAMS_PID=""
  stop_pid "$SERVER_PID"; SERVER_PID=""
  ip netns delete "$NS_C" 2>/dev/null || true
  ip netns delete "$NS_S" 2>/dev/null || true
}

cleanup() {
  teardown_pair
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_line() { bench_wait_for_line "$@"; }

setup_pair() {
  teardown_pair
  bench_make_pair "$NS_C" "$NS_S" pbc0 pbs0 "$CLIENT_IP" "$SERVER_IP"
  ip netns exec "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
  ip netns exec "$NS_S" "$ACCEPT_SERVER" "$PORT" >"$TMP/server.out" 2>"$TMP/server.err" &
  SERVER_PID=$!
  wait_for_line "$TMP/server.out" listening 5 "$SERVER_PID"
}

# utime + stime of a process in clock ticks.
cpu_ticks() { bench_cpu_ticks "$1"; }

peak_rss_kb() {
  awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# Runs connect_bench in the client namespace; prints its RESULT line.
run_connect_bench() {
  local label=$1 out
  out=$(ip netns exec "$NS_C" "$CONNECT_BENCH" "$SERVER_IP" "$PORT" --count "$COUNT" --warmup "$WARMUP" \
        --label "$label" 2>&1) || { echo "$out" >&2; die "connect_bench failed in setup '$label'"; }
  grep '^RESULT ' <<<"$out"
}

field() {  # field KEY RESULT-LINE
  grep -o "\b$1=[^ ]*" <<<"$2" | cut -d= -f2
}

# Appends "setup round p50 p99 mean cps cpu_us_per_conn rss_kb" to $TMP/results.
record() {
  local setup=$1 round=$2 result=$3 ticks=$4 rss=$5 cpu="-"
  if [[ "$ticks" != "-" ]]; then
    cpu=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n=$((COUNT + WARMUP)) 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
  fi
  echo "$setup $round $(field p50_us "$result") $(field p99_us "$result") $(field mean_us "$result")" \
       "$(field conns_per_s "$result") $cpu $rss" >>"$TMP/results"
}

start_picketd() {  # start_picketd RULES_DIR LOG [extra args...]
  local rules=$1 log=$2
  shift 2
  # nsenter, not `ip netns exec`: the latter mounts a fresh /sys without the cgroup2 hierarchy, and
  # picketd then cannot attach its flow-ownership programs (it falls back to sock_diag + /proc).
  nsenter --net="/run/netns/$NS_C" "$PICKETD" --rules-dir "$rules" --queue-num "$QUEUE_NUM" --log-level info "$@" \
    >/dev/null 2>"$log" &
  DAEMON_PID=$!
  wait_for_line "$log" "ready:" 15 "$DAEMON_PID"
}

# Measures one setup around a running daemon ($DAEMON_PID) or none.
measure() {
  local setup=$1 round=$2 before after result
  if [[ -z "$DAEMON_PID" ]]; then
    result=$(run_connect_bench "$setup")
    record "$setup" "$round" "$result" - -
    return
  fi
  before=$(cpu_ticks "$DAEMON_PID")
  result=$(run_connect_bench "$setup")
  after=$(cpu_ticks "$DAEMON_PID")
  record "$setup" "$round" "$result" $((after - before)) "$(peak_rss_kb "$DAEMON_PID")"
}

run_no_queue() {
  setup_pair
  measure no-queue "$1"
  teardown_pair
}

# Copies picketd's firewall rules: starts it, saves its ruleset, stops it, restores the copy.
copy_picketd_rules() {
  mkdir -p "$TMP/empty-rules"
  start_picketd "$TMP/empty-rules" "$TMP/probe.log" --no-history
  local backend
  backend=$(grep -o 'backend=[a-z]*' "$TMP/probe.log" | head -1 | cut -d= -f2)
  if [[ "$backend" == "nft" ]]; then
    ip netns exec "$NS_C" nft list ruleset >"$TMP/ruleset.nft"
  else
    ip netns exec "$NS_C" iptables-save >"$TMP/ruleset.v4"
    ip netns exec "$NS_C" ip6tables-save >"$TMP/ruleset.v6"
  fi
  stop_pid "$DAEMON_PID"; DAEMON_PID=""
  FLOOR_RULES_BACKEND=$backend
  restore_floor_rules
}

# Replaces the client namespace's ruleset with the copy saved by copy_picketd_rules.
restore_floor_rules() {
  if [[ "$FLOOR_RULES_BACKEND" == "nft" ]]; then
    ip netns exec "$NS_C" nft flush ruleset
    ip netns exec "$NS_C" nft -f "$TMP/ruleset.nft"
  else
    ip netns exec "$NS_C" iptables-restore <"$TMP/ruleset.v4"
    ip netns exec "$NS_C" ip6tables-restore <"$TMP/ruleset.v6"
  fi
}

# Attaches picketd's flow-ownership programs without its verdict path: a picketd on queue N+2
# (DNS N+3) with the firewall watch off, whose rules are then replaced by the floor's copy, so
# every packet still goes to queue N. Its programs (cgroup2 root, netfilter LOCAL_OUT in the
# client namespace) see every connection; picketd itself sees none.
attach_programs_only() {
  echo '{"firewall_watch": false}' >"$TMP/programs-only.json"
  nsenter --net="/run/netns/$NS_C" "$PICKETD" --config "$TMP/programs-only.json" --rules-dir "$TMP/empty-rules" \
    --queue-num $((QUEUE_NUM + 2)) --no-history --log-level info >/dev/null 2>"$TMP/programs-only.log" &
  PROGRAMS_PID=$!
  wait_for_line "$TMP/programs-only.log" "ready:" 15 "$PROGRAMS_PID"
  grep -q "attribution: bpf-flow" "$TMP/programs-only.log" || die "floor+programs: picketd attached no programs (see its log)"
  restore_floor_rules
}

run_floor() {  # run_floor ROUND SETUP
  setup_pair
  copy_picketd_rules
  [[ "$2" == "floor+programs" ]] && attach_programs_only
  ip netns exec "$NS_C" "$NFQ_FLOOR" --queue-num "$QUEUE_NUM" >"$TMP/floor.out" 2>"$TMP/floor.err" &
  DAEMON_PID=$!
  wait_for_line "$TMP/floor.out" ready 5 "$DAEMON_PID"
  measure "$2" "$1"
  teardown_pair
}

run_picketd() {  # run_picketd ROUND SETUP [picketd args...]
  local round=$1 setup=$2 rules=$TMP/rules log=$TMP/$2-$1.log decisions history via lost
  shift 2
  mkdir -p "$rules"
  cat >"$rules/bench-allow.json" <<EOF
{"name":"bench-allow","enabled":true,"precedence":false,"action":"allow","duration":"always",
 "operator":{"type":"simple","operand":"process.path","data":"$CONNECT_BENCH","sensitive":false}}
EOF
  setup_pair
  start_picketd "$rules" "$log" --default-action deny "$@"
  measure "$setup" "$round"
  stop_pid "$DAEMON_PID"; DAEMON_PID=""
  # Default deny: a connection the rule failed to match would have failed connect_bench already.
  decisions=$(grep -c 'decision verdict=allow rule=bench-allow' "$log" || true)
  history=$(grep -o 'counters: history on appended=[0-9]* written=[0-9]* dropped=[0-9]*' "$log" | cut -d' ' -f5- || true)
  via=$(grep -o ' via=[a-z-]*' "$log" | sort | uniq -c | awk '{ printf "%s%s:%s", sep, substr($2, 5), $1; sep = "," }')
  echo "$setup $round $decisions ${history:--}" >>"$TMP/decisions"
  lost=$(grep -o 'process counters: .*' "$log" | grep -o 'lost_events=[0-9]*' | tail -1 || true)
  echo "$setup r$round ${via:-none} ${lost:-lost_events=?}" >>"$TMP/methods"
  teardown_pair
}

echo "e2e_connect: N=$COUNT warmup=$WARMUP rounds=$ROUNDS queue=$QUEUE_NUM build=$BUILD_DIR" >&2
: >"$TMP/results"
: >"$TMP/decisions"
: >"$TMP/methods"
for round in $(seq "$ROUNDS"); do
  echo "e2e_connect: round $round: no queue" >&2; run_no_queue "$round"
  echo "e2e_connect: round $round: floor" >&2; run_floor "$round" floor
  echo "e2e_connect: round $round: floor+programs" >&2; run_floor "$round" floor+programs
  echo "e2e_connect: round $round: picketd" >&2; run_picketd "$round" picketd --no-history
  echo "e2e_connect: round $round: picketd+history" >&2
  run_picketd "$round" picketd-history --history-path "$TMP/history-$round.db"
done

# Median of column $2 for setup $1 ("-" when absent).
median() {
  awk -v s="$1" -v c="$2" '$1 == s && $c != "-" { print $c }' "$TMP/results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
                              else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A M
for setup in no-queue floor floor+programs picketd picketd-history; do
  for col in 3:p50 4:p99 5:mean 6:cps 7:cpu 8:rss; do
    M[$setup.${col#*:}]=$(median "$setup" "${col%%:*}")
  done
done

ratio() {
  [[ "$1" == "-" || "$2" == "-" ]] && { echo "-"; return; }
  awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'
}
verdict() {
  [[ "$1" == "-" ]] && { echo "n/a"; return; }
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == "<=") ? v <= t : v >= t; print ok ? "yes" : "**no**" }'
}
rss_mb() { [[ "$1" == "-" ]] && echo "-" || awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

R_P50=$(ratio "${M[picketd.p50]}" "${M[floor.p50]}")
R_P99=$(ratio "${M[picketd.p99]}" "${M[floor.p99]}")
R_CPS=$(ratio "${M[picketd.cps]}" "${M[floor.cps]}")
R_CPU=$(ratio "${M[picketd.cpu]}" "${M[floor.cpu]}")
H_P50=$(ratio "${M[picketd-history.p50]}" "${M[picketd.p50]}")
H_P99=$(ratio "${M[picketd-history.p99]}" "${M[picketd.p99]}")
H_CPS=$(ratio "${M[picketd-history.cps]}" "${M[picketd.cps]}")
H_CPU=$(ratio "${M[picketd-history.cpu]}" "${M[picketd.cpu]}")
B_P50=$(ratio "${M[floor+programs.p50]}" "${M[floor.p50]}")
B_CPS=$(ratio "${M[floor+programs.cps]}" "${M[floor.cps]}")
C_P50=$(ratio "${M[picketd.p50]}" "${M[floor+programs.p50]}")
C_CPS=$(ratio "${M[picketd.cps]}" "${M[floor+programs.cps]}")
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

{
  echo "Machine: $(uname -sr), $(nproc) CPU ($CPU_MODEL), $(iptables --version)."
  echo "Run: N=$COUNT sequential connects per setup after $WARMUP warm-up connects; median of $ROUNDS round(s);"
  echo "floor rules copied from picketd (backend ${FLOOR_RULES_BACKEND:-unknown}); CPU from /proc/PID/stat at ${CLK_TCK} Hz."
  echo
  echo "| setup | connect() p50 µs | p99 µs | mean µs | conns/s | daemon CPU µs/conn | daemon peak RSS |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "| (a) no queue | ${M[no-queue.p50]} | ${M[no-queue.p99]} | ${M[no-queue.mean]} | ${M[no-queue.cps]} | - | - |"
  echo "| (b) NFQUEUE + floor | ${M[floor.p50]} | ${M[floor.p99]} | ${M[floor.mean]} | ${M[floor.cps]} | ${M[floor.cpu]} | $(rss_mb "${M[floor.rss]}") |"
  echo "| (b') (b) + picketd's flow-ownership programs attached | ${M[floor+programs.p50]} | ${M[floor+programs.p99]} | ${M[floor+programs.mean]} | ${M[floor+programs.cps]} | ${M[floor+programs.cpu]} | $(rss_mb "${M[floor+programs.rss]}") |"
  echo "| (c) NFQUEUE + picketd, allow rule hit | ${M[picketd.p50]} | ${M[picketd.p99]} | ${M[picketd.mean]} | ${M[picketd.cps]} | ${M[picketd.cpu]} | $(rss_mb "${M[picketd.rss]}") |"
  echo "| (d) (c) + event log | ${M[picketd-history.p50]} | ${M[picketd-history.p99]} | ${M[picketd-history.mean]} | ${M[picketd-history.cps]} | ${M[picketd-history.cpu]} | $(rss_mb "${M[picketd-history.rss]}") |"
  echo
  echo "| target (picketd vs floor) | measured | target | met |"
  echo "|---|---:|---:|---|"
  echo "| connect() p50 | ${R_P50}× | ≤ 1.2× | $(verdict "$R_P50" "<=" 1.2) |"
  echo "| connect() p99 | ${R_P99}× | ≤ 1.2× | $(verdict "$R_P99" "<=" 1.2) |"
  echo "| new connections/s | ${R_CPS}× | ≥ 0.90× | $(verdict "$R_CPS" ">=" 0.90) |"
  echo "| daemon CPU per connection | ${R_CPU}× | ≤ 2× | $(verdict "$R_CPU" "<=" 2.0) |"
  echo
  echo
  echo "Flow-ownership programs alone (b' / b): p50 ${B_P50}×, conns/s ${B_CPS}×;" \
       "picketd vs floor with the programs (c / b'): p50 ${C_P50}×, conns/s ${C_CPS}×."
  echo
  echo "Event log on vs off (d / c): p50 ${H_P50}×, p99 ${H_P99}×, conns/s ${H_CPS}×, daemon CPU ${H_CPU}×."
  echo
  echo "picketd allow decisions logged per round (connects per round: $((COUNT + WARMUP))):" \
       "$(awk '{ printf "%s%s %s r%s", sep, $3, $1, $2; sep = ", " }' "$TMP/decisions")."
  echo "Attribution methods (via=, count) and eBPF events lost per run: $(paste -sd ';' "$TMP/methods" | sed 's/;/; /g')."
  echo "Event log rows per round (d): $(awk '$1 == "picketd-history" { printf "%s%s", sep, $4 " " $5 " " $6; sep = "; " }' "$TMP/decisions")."
} | tee "${OUTPUT:-/dev/null}"
if (( ROUNDS > 1 )); then
  echo >&2
  echo "per round (setup round p50 p99 mean conns/s cpu_us/conn rss_kb):" >&2
  cat "$TMP/results" >&2
fi
