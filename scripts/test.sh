#!/usr/bin/env bash
# Builds (incrementally) and runs the whole test suite with ctest. Extra arguments go to ctest,
# e.g. `bash scripts/test.sh -L metrics` or `-R Jsonl`.
set -euo pipefail
cd "$(dirname "$0")/.."
# MVB_LIBTORCH=pip tests the LibTorch 2.x build (build-torch2/, see scripts/setup.sh).
case "${MVB_LIBTORCH:-debian}" in
  debian) BUILD_DIR=${MVB_BUILD_DIR:-build} ;;
  pip) BUILD_DIR=${MVB_BUILD_DIR:-build-torch2} ;;
  *) BUILD_DIR=${MVB_BUILD_DIR:-build-libtorch} ;;
esac
# The pinned PyPI oracle environment (.venv) that the live-oracle tests call; skipped when it is
# already up to date.
if [ -z "${MVB_SKIP_ORACLE_ENV:-}" ]; then bash scripts/oracle_env.sh; fi
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # Configures (and builds) against the LibTorch MVB_LIBTORCH names.
  MVB_SKIP_APT=1 MVB_SKIP_NPM=1 MVB_BUILD_DIR="$BUILD_DIR" bash scripts/setup.sh
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"
# The test binaries run on the OpenBLAS kernels eval would run on (src/nn/openblas_kernels.cpp: Debian's
# OpenBLAS falls back to SSE3 kernels on CPUs newer than it knows, 3.8x slower sgemm).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  kernels=$("$BUILD_DIR/medvlmbench" version --format json |
    sed -n 's/.*"openblas_kernels_for_runs": "\([A-Za-z0-9]*\)".*/\1/p')
  if [ -n "$kernels" ]; then
    export OPENBLAS_CORETYPE=$kernels
    echo "==> OpenBLAS kernels for the tests: $kernels"
  fi
fi
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" "$@"
