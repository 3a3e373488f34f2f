#!/usr/bin/env bash
# Sets up and runs Picket's main job: installs the Debian packages Picket needs, builds it, installs
# the shipped default rules to /etc/picket/rules (only when that directory does not exist yet) and
# runs picketd in the foreground. Ctrl-C stops it and removes every firewall rule it installed.
# Arguments are passed to picketd, e.g. ./scripts/run.sh --default-action deny --fail-closed
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -- "$0" "$@"
fi
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR=build-release BUILD_TYPE=Release ./scripts/build.sh
RULES_DIR=/etc/picket/rules
if [ ! -d "$RULES_DIR" ]; then
  install -d -m 0700 "$RULES_DIR"
  install -m 0600 rules/*.json "$RULES_DIR"/
  echo "run: installed the default rules into $RULES_DIR"
fi
config_args=()
if [ -f /etc/picket/config.json ]; then
  config_args=(--config /etc/picket/config.json)
fi
exec ./build-release/daemon/picketd "${config_args[@]}" --rules-dir "$RULES_DIR" "$@"
