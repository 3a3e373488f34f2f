# bench_lib.sh — shell helpers shared by bench/e2e_connect.sh and bench/rss_state.sh (sourced).
# Every function is bounded in time; none kills anything but the PID it is given.

bench_die() {
  echo "$(basename "$0" .sh): $*" >&2
  exit 1
}

# bench_require_executables HINT FILE...: each FILE must be executable, else dies naming HINT.
bench_require_executables() {
  local hint=$1 bin
  shift
  for bin in "$@"; do
    [[ -x "$bin" ]] || bench_die "missing $bin ($hint)"
  done
}

# bench_locate_binaries BUILD_DIR: sets BUILD_DIR (absolute), PICKETD, CONNECT_BENCH (resolved: rules
# match it by path), ACCEPT_SERVER, NFQ_FLOOR, IDLE_CHILDREN; dies when one is not built.
bench_locate_binaries() {
  BUILD_DIR=$(realpath "$1")
  PICKETD=$BUILD_DIR/daemon/picketd
  CONNECT_BENCH=$BUILD_DIR/bench/connect_bench
  ACCEPT_SERVER=$BUILD_DIR/bench/accept_server
  NFQ_FLOOR=$BUILD_DIR/bench/nfq_floor
  IDLE_CHILDREN=$BUILD_DIR/bench/idle_children
  bench_require_executables "cmake --build $BUILD_DIR --target bench_e2e" \
    "$PICKETD" "$CONNECT_BENCH" "$ACCEPT_SERVER" "$NFQ_FLOOR" "$IDLE_CHILDREN"
  CONNECT_BENCH=$(realpath "$CONNECT_BENCH")
}

# bench_stop_pid PID: SIGTERM, up to 10 s for it to end, then SIGKILL; reaps it.
bench_stop_pid() {
  local pid=$1
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# bench_wait_for_line FILE PATTERN SECONDS PID: waits until FILE contains PATTERN while PID lives.
bench_wait_for_line() {
  local file=$1 pattern=$2 seconds=$3 pid=$4
  for _ in $(seq $((seconds * 20))); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; bench_die "process $pid exited before '$pattern'"; }
    sleep 0.05
  done
  cat "$file" >&2
  bench_die "no '$pattern' in $file after ${seconds}s"
}

# bench_make_pair NS_CLIENT NS_SERVER IF_CLIENT IF_SERVER CLIENT_IP SERVER_IP: two fresh network
# namespaces joined by a veth pair (/24), loopback up in both.
bench_make_pair() {
  local ns_c=$1 ns_s=$2 if_c=$3 if_s=$4 ip_c=$5 ip_s=$6 ns
  ip netns add "$ns_c"
  ip netns add "$ns_s"
  ip -n "$ns_c" link add "$if_c" type veth peer name "$if_s" netns "$ns_s"
  ip -n "$ns_c" addr add "$ip_c/24" dev "$if_c"
  ip -n "$ns_s" addr add "$ip_s/24" dev "$if_s"
  for ns in "$ns_c" "$ns_s"; do ip -n "$ns" link set lo up; done
  ip -n "$ns_c" link set "$if_c" up
  ip -n "$ns_s" link set "$if_s" up
}

# bench_cpu_ticks PID: utime + stime in clock ticks.
bench_cpu_ticks() {
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
