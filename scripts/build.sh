#!/usr/bin/env bash
# Configures and builds Picket into BUILD_DIR (default: build/).
#   BUILD_TYPE=Release|RelWithDebInfo|Debug (default RelWithDebInfo); extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
