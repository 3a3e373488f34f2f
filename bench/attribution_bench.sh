#!/usr/bin/env bash
# attribution_bench.sh — attribution accuracy per client variant and added connect() latency, with
# kernel flow ownership (flow_attribution: true, via=bpf-flow) and with the foundation's
# sock_diag + /proc path (flow_attribution: false), in one run.
#
#   sudo bench/attribution_bench.sh [--build-dir DIR] [--processes N] [--count N] [--output FILE]
#                                   [--logs DIR] [--only REGEX] [--with-netfilter-off]
#
# Two network namespaces joined by veth (client 198.18.0.1, server 198.18.0.2 running
# picket_test_server on 7100 and accept_server on 9000). Two byte-identical copies of
# picket_test_client (bin-a, bin-b; a rule denies bin-b by process.path). For each method, picketd
# runs in the client namespace and every variant starts N processes of each copy, interleaved
# (the same variants as tests/integration/flow_owner_e2e_test.cc). Each decision is matched to the
# client that sent it (by source port in run order; ping by run order) and counted:
#   correct  the logged exe is the sender's copy
#   wrong    the logged exe is the other copy
#   unknown  anything else (no process found, or a process that is not a client)
#   missing  clients whose flow has no decision line (for the denied copy: none expected to be lost)
# Raw sockets (rawicmp: echo from SOCK_RAW; rawsyn: an IP_HDRINCL TCP SYN) are recorded by the
# netfilter LOCAL_OUT hook; without kernel flow ownership they go to sock_diag + /proc.
# --only REGEX runs only the variants whose name matches (e.g. --only '^raw-').
# --with-netfilter-off adds a third method: kernel flow ownership without its netfilter LOCAL_OUT
# hook (flow_attribution_netfilter: false), to show what the hook adds and costs.
# Then connect_bench makes --count sequential TCP connects (allowed by the default action) without
# picketd and with picketd under each method: p50/p99 connect() latency and the added p50.
# Prints markdown tables (also written to --output FILE). Needs root; cleans up on exit (trap).
set -euo pipefail

BUILD_DIR=build
PROCESSES=100
COUNT=5000
OUTPUT=""
LOGS=""
ONLY=""
METHODS=(bpf-flow sock_diag+proc)
CLIENT_IP=198.18.0.1
SERVER_IP=198.18.0.2
TEST_PORT=7100
BENCH_PORT=9000

die() {
  echo "attribution_bench: $*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD_DIR=${2:?}; shift 2 ;;
    --processes) PROCESSES=${2:?}; shift 2 ;;
    --count) COUNT=${2:?}; shift 2 ;;
    --output) OUTPUT=${2:?}; shift 2 ;;
    --logs) LOGS=${2:?}; shift 2 ;;  # keep picketd's logs (one per method) in DIR
    --only) ONLY=${2:?}; shift 2 ;;  # run only the variants whose name matches this regex
    --with-netfilter-off) METHODS=(bpf-flow bpf-flow-no-netfilter sock_diag+proc); shift ;;
    *) sed -n '6p' "$0" >&2; die "unknown argument '$1'" ;;
  esac
done
for n in "$PROCESSES" "$COUNT"; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "not a positive number: '$n'"; done
[[ $EUID -eq 0 ]] || die "needs root (network namespaces, netfilter, BPF)"

BUILD_DIR=$(realpath "$BUILD_DIR")
PICKETD=$BUILD_DIR/daemon/picketd
CLIENT=$BUILD_DIR/tests/tools/picket_test_client
SERVER=$BUILD_DIR/tests/tools/picket_test_server
PIDNS=$BUILD_DIR/tests/tools/picket_test_pidns
CONNECT_BENCH=$BUILD_DIR/bench/connect_bench
ACCEPT_SERVER=$BUILD_DIR/bench/accept_server
for bin in "$PICKETD" "$CLIENT" "$SERVER" "$PIDNS" "$CONNECT_BENCH" "$ACCEPT_SERVER"; do
  [[ -x "$bin" ]] || die "missing $bin (cmake --build $BUILD_DIR --target bench_attribution)"
done

NS_C=picket-attr-c-$$
NS_S=picket-attr-s-$$
TMP=$(mktemp -d /tmp/picket-attr-XXXXXX)
PIDS=()
DAEMON_PID=""

source "$(dirname "$0")/bench_lib.sh"  # bench_stop_pid, bench_wait_for_line

cleanup() {
  bench_stop_pid "$DAEMON_PID"
  for pid in "${PIDS[@]}"; do bench_stop_pid "$pid"; done
  ip netns delete "$NS_C" 2>/dev/null || true
  ip netns delete "$NS_S" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS_C"
ip netns add "$NS_S"
ip -n "$NS_C" link add pac0 type veth peer name pas0 netns "$NS_S"
ip -n "$NS_C" addr add "$CLIENT_IP/24" dev pac0
ip -n "$NS_S" addr add "$SERVER_IP/24" dev pas0
for ns in "$NS_C" "$NS_S"; do ip -n "$ns" link set lo up; done
ip -n "$NS_C" link set pac0 up
ip -n "$NS_S" link set pas0 up
ip netns exec "$NS_C" sh -c "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range"
ip netns exec "$NS_S" "$SERVER" --tcp "$TEST_PORT" --udp "$TEST_PORT" >"$TMP/server.out" 2>&1 &
PIDS+=($!)
bench_wait_for_line "$TMP/server.out" listening 5 "${PIDS[-1]}"
ip netns exec "$NS_S" "$ACCEPT_SERVER" "$BENCH_PORT" >"$TMP/accept.out" 2>&1 &
PIDS+=($!)
bench_wait_for_line "$TMP/accept.out" listening 5 "${PIDS[-1]}"

for copy in bin-a bin-b; do
  mkdir -p "$TMP/$copy"
  cp "$CLIENT" "$TMP/$copy/picket_test_client"
done
A=$TMP/bin-a/picket_test_client
B=$TMP/bin-b/picket_test_client
mkdir -p "$TMP/rules"
printf '{"name":"deny-b","enabled":true,"action":"deny","duration":"always","operator":{"type":"simple","operand":"process.path","data":"%s"}}\n' \
  "$B" >"$TMP/rules/deny-b.json"

# Variants: NAME|PROTO|HOST|LAUNCH|FLAGS (LAUNCH: direct, sh, pidns, reuse). Every one reports sport.
VARIANTS=(
  "blocking-tcp|tcp|$SERVER_IP|direct|--report-sport"
  "nonblocking-tcp-exit|tcp|$SERVER_IP|direct|--exit-after-send"
  "udp-sendto-exit|udp|$SERVER_IP|direct|--exit-after-send --sendto"
  "connected-udp-exit|udp|$SERVER_IP|direct|--exit-after-send"
  "child-after-parent-exit|tcp|$SERVER_IP|direct|--fork-first --report-sport"
  "second-thread|tcp|$SERVER_IP|direct|--thread --report-sport"
  "sh-c-exec|tcp|$SERVER_IP|sh|--report-sport"
  "own-pid-namespace|tcp|$SERVER_IP|pidns|--report-sport"
  "pid-reuse|udp|$SERVER_IP|reuse|--exit-after-send --sendto"
  "ipv4-mapped-tcp|tcp6|::ffff:$SERVER_IP|direct|--report-sport"
  "ping-socket|icmp|$SERVER_IP|direct|--report-sport"
  "raw-icmp-exit|rawicmp|$SERVER_IP|direct|--exit-after-send"
  "raw-icmp-wait|rawicmp|$SERVER_IP|direct|--report-sport"
  "raw-syn-exit|rawsyn|$SERVER_IP|direct|"
)

SPORT=20000  # own source ports for UDP (a reused 4-tuple would not be a new conntrack flow)

client_args() {  # EXE PROTO HOST FLAGS SPORT → the client's argv in the array ARGV
  local exe=$1 proto=$2 host=$3 flags=$4 sport=$5 timeout=3000
  [[ "$exe" == "$B" ]] && timeout=100
  ARGV=("$exe" "$proto" "$host" "$TEST_PORT" --timeout-ms "$timeout" $flags)
  # Own source ports (UDP) and echo identifiers / source ports (raw): a reused tuple would not be a
  # new conntrack flow.
  if [[ "$proto" == udp* || "$proto" == raw* ]]; then ARGV+=(--sport "$sport"); fi
}

in_client_ns() {  # COMMAND... — run in the client namespace, bounded to 20 s
  timeout 20 ip netns exec "$NS_C" "$@" 2>&1 || true
}

# Runs one variant; appends "KEY EXE" lines (KEY: source port, or "-" for ping) in run order.
run_variant() {
  local proto=$2 host=$3 launch=$4 flags=$5 expected=$6 i exe other out
  for ((i = 0; i < 2 * PROCESSES; i++)); do
    if (( i % 2 == 0 )); then exe=$A; other=$B; else exe=$B; other=$A; fi
    SPORT=$((SPORT + 2))
    client_args "$exe" "$proto" "$host" "$flags" "$SPORT"
    argv=("${ARGV[@]}")
    case "$launch" in
      direct) out=$(in_client_ns "${argv[@]}"); echo "$exe" >>"$TMP/order" ;;
      sh) out=$(in_client_ns /bin/sh -c "exec ${argv[*]}"); echo "$exe" >>"$TMP/order" ;;
      pidns) out=$(in_client_ns "$PIDNS" -- "${argv[@]}"); echo "$exe" >>"$TMP/order" ;;
      reuse)
        (( i % 2 == 1 )) && continue  # one launch starts both copies
        client_args "$other" "$proto" "$host" "$flags" $((SPORT + 1))
        out=$(in_client_ns "$PIDNS" --same-pid 300 -- "${argv[@]}" -- "${ARGV[@]}")
        printf '%s\n%s\n' "$exe" "$other" >>"$TMP/order" ;;
    esac
    grep '^result=' <<<"$out" | sed -n 's/.* sport=\([0-9]*\).*/\1/p' >>"$TMP/sports"
  done
  if [[ "$proto" == icmp* || "$proto" == rawicmp* ]]; then
    sed 's/.*/-/' "$TMP/order" | paste -d' ' - "$TMP/order" >"$expected"
  else
    paste -d' ' "$TMP/sports" "$TMP/order" >"$expected"
  fi
  rm -f "$TMP/order" "$TMP/sports"
}

# Counts correct / wrong / unknown / missing for one variant: decisions (KEY EXE, in log order)
# against the expected list.
score() {  # EXPECTED DECISIONS
  awk -v a="$A" -v b="$B" '
    NR == FNR { key[NR] = $1; exe[NR] = $2; n = NR; next }
    {
      for (i = 1; i <= n; i++) if (!used[i] && key[i] == $1) break
      if (i > n) { unknown++; next }
      used[i] = 1
      if ($2 == exe[i]) correct++; else if ($2 == a || $2 == b) wrong++; else unknown++
    }
    END { for (i = 1; i <= n; i++) if (!used[i]) missing++
          printf "%d %d %d %d\n", correct, wrong, unknown, missing }' "$1" "$2"
}

connect_latency() {  # LABEL → "p50 p99"
  local out
  out=$(ip netns exec "$NS_C" "$CONNECT_BENCH" "$SERVER_IP" "$BENCH_PORT" --count "$COUNT" --warmup 200 --label "$1" 2>&1) ||
    { echo "$out" >&2; die "connect_bench failed ($1)"; }
  grep '^RESULT ' <<<"$out" | sed -n 's/.* p50_us=\([^ ]*\) p99_us=\([^ ]*\).*/\1 \2/p'
}

BASE=$(connect_latency no-queue)
echo "baseline connect() without picketd: p50/p99 ${BASE/ / / } us" >&2
: >"$TMP/accuracy"
: >"$TMP/latency"
for method in "${METHODS[@]}"; do
  case "$method" in
    bpf-flow) echo '{"flow_attribution": true}' ;;
    bpf-flow-no-netfilter) echo '{"flow_attribution": true, "flow_attribution_netfilter": false}' ;;
    *) echo '{"flow_attribution": false}' ;;
  esac >"$TMP/picketd.json"
  log=$TMP/picketd-$method.log
  ip netns exec "$NS_C" "$PICKETD" --config "$TMP/picketd.json" --rules-dir "$TMP/rules" --no-history \
    --log-level info >/dev/null 2>"$log" &
  DAEMON_PID=$!
  bench_wait_for_line "$log" "ready:" 15 "$DAEMON_PID"
  grep -q "attribution=${method%-no-netfilter}" "$log" || die "picketd is not using $method: $(grep ready: "$log")"
  want_hook=on
  [[ "$method" == bpf-flow ]] || want_hook=off
  grep -q "netfilter_hook=$want_hook" "$log" || die "netfilter hook not $want_hook for $method: $(grep ready: "$log")"
  for v in "${VARIANTS[@]}"; do
    IFS='|' read -r name proto host launch flags <<<"$v"
    [[ -z "$ONLY" || "$name" =~ $ONLY ]] || continue
    echo "  $method: $name" >&2
    before=$(grep -c ' decision ' "$log" || true)
    run_variant "$name" "$proto" "$host" "$launch" "$flags" "$TMP/expected"
    if [[ "$proto" == icmp* || "$proto" == rawicmp* ]]; then
      filter="proto=icmp "
    else
      filter=":$TEST_PORT src="
    fi
    # The last decisions of exit-after-send clients (and, without the netfilter hook, echo requests
    # that each waited send_wait): up to 30 s for all of them.
    for ((w = 0; w < 300; w++)); do
      (( $(grep ' decision ' "$log" | tail -n +$((before + 1)) | grep -c -- "$filter" || true) >= 2 * PROCESSES )) && break
      sleep 0.1
    done
    grep ' decision ' "$log" | tail -n +$((before + 1)) | grep -- "$filter" |
      sed -n 's/.* src=[^ ]*:\([0-9]*\) .* exe=\([^ ]*\) .*/\1 \2/p' >"$TMP/decisions"
    [[ "$proto" == icmp* || "$proto" == rawicmp* ]] && sed -i 's/^[0-9]* /- /' "$TMP/decisions"
    echo "$method $name $(score "$TMP/expected" "$TMP/decisions")" >>"$TMP/accuracy"
    if [[ -n "$LOGS" ]]; then
      mkdir -p "$LOGS" && cp "$TMP/expected" "$LOGS/$method-$name.expected" && cp "$TMP/decisions" "$LOGS/$method-$name.decisions"
    fi
  done
  echo "$method $(connect_latency "$method")" >>"$TMP/latency"
  bench_stop_pid "$DAEMON_PID"
  DAEMON_PID=""
  grep -E "flow attribution counters|process counters" "$log" >&2 || true
  if [[ -n "$LOGS" ]]; then mkdir -p "$LOGS" && cp "$log" "$LOGS/"; fi
done

{
  echo "Attribution accuracy, $PROCESSES processes of each copy per variant (correct / wrong / unknown / missing):"
  echo
  echo "| variant$(printf ' | %s' "${METHODS[@]}") |"
  echo "|---$(printf '|---%.0s' "${METHODS[@]}")|"
  awk -v methods="${METHODS[*]}" '
       { k = $2; if (!(k in seen)) { seen[k] = 1; name[++n] = k }; v[k, $1] = $3 " / " $4 " / " $5 " / " $6 }
       END { m = split(methods, method, " ")
             for (i = 1; i <= n; i++) { line = "| " name[i]; for (j = 1; j <= m; j++) line = line " | " v[name[i], method[j]]; print line " |" } }' \
    "$TMP/accuracy"
  echo
  echo "connect() latency, $COUNT sequential TCP connects (us):"
  echo
  echo "| setup | p50 | p99 | added p50 |"
  echo "|---|---|---|---|"
  read -r bp50 bp99 <<<"$BASE"
  echo "| no picketd | $bp50 | $bp99 | — |"
  while read -r method p50 p99; do
    echo "| picketd, $method | $p50 | $p99 | $(awk -v x="$p50" -v y="$bp50" 'BEGIN { printf "%.1f", x - y }') |"
  done <"$TMP/latency"
} | tee "${OUTPUT:-/dev/null}"
