#!/usr/bin/env bash
# Sets up and runs every test: installs the Debian packages, builds with warnings as errors and
# runs all CTest tests — unit tests, fuzz-corpus replays and the root end-to-end tests in
# network namespaces (they need root; this script re-runs itself with sudo when not root).
#   BUILD_DIR (default build-test); CTEST_ARGS are passed to ctest (e.g. "-L unit").
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -- "$0" "$@"
fi
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build-test}
BUILD_DIR="$BUILD_DIR" ./scripts/build.sh -DPICKET_WERROR=ON
cd "$BUILD_DIR"
# shellcheck disable=SC2086
ctest --output-on-failure ${CTEST_ARGS:-}
