# bench_lib.sh — helpers shared by the end-to-end benchmark scripts (sourced, not run).
# The sourcing script defines die MESSAGE.

# Stops one background process by PID: SIGTERM, bounded wait (5 s), then SIGKILL.
stop_pid() {
  local pid=$1
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Waits up to $3 seconds for file $1 to contain $2 while process $4 lives.
wait_for_line() {
  local file=$1 pattern=$2 seconds=$3 pid=$4
  for _ in $(seq $((seconds * 20))); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "process $pid exited before '$pattern'"; }
    sleep 0.05
  done
  cat "$file" >&2
  die "no '$pattern' in $file after ${seconds}s"
}
