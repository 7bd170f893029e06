#!/usr/bin/env bash
# Builds (incrementally) and runs the whole test suite with ctest. Extra arguments go to ctest,
# e.g. `bash scripts/test.sh -L metrics` or `-R Jsonl`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${MVB_BUILD_DIR:-build}
# The pinned PyPI oracle environment (.venv) that the live-oracle tests call; skipped when it is
# already up to date.
if [ -z "${MVB_SKIP_ORACLE_ENV:-}" ]; then bash scripts/oracle_env.sh; fi
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" "$@"
