#!/usr/bin/env bash
# Coverage-guided fuzzing of our file readers with libFuzzer (Debian's clang-14), bounded in time.
#
#   bash scripts/fuzz.sh                 # every harness in fuzz/, 20 s each
#   bash scripts/fuzz.sh -t 300 parquet  # one harness, 5 minutes
#   bash scripts/fuzz.sh --merge         # also add new coverage-increasing inputs to fuzz/corpus/
#
# Builds a separate folder (build-fuzz/, MVB_FUZZ=ON: everything instrumented with
# -fsanitize=fuzzer-no-link,address,undefined), then runs fuzz/<reader>_fuzz.cpp's fuzzer on its seed
# corpus fuzz/corpus/<reader>/. Inputs it finds go to a throwaway folder (printed; $MVB_FUZZ_OUT to
# choose it), never into the repository unless --merge is given. A crash, sanitizer report, leak,
# timeout (-timeout) or out-of-memory (-rss_limit_mb) fails the run (exit 1) and leaves the input in
# <out>/<reader>/crash-*; reproduce with build-fuzz/fuzz/fuzz_<reader> <that file>, and once fixed,
# copy it to fuzz/corpus/<reader>/regress-<what>, so the ctest replay (label "fuzz") keeps it fixed.
#
# Options: -t/--time SECONDS per harness (default 20), --max-len BYTES (default 32768),
# --rss-mb MB (default 2048), --merge, --build DIR (default build-fuzz); other words are harness names.
set -euo pipefail
cd "$(dirname "$0")/.."

TIME=20
MAX_LEN=32768
RSS_MB=2048
MERGE=0
BUILD_DIR=${MVB_FUZZ_BUILD_DIR:-build-fuzz}
READERS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t | --time) TIME=$2; shift 2 ;;
    --max-len) MAX_LEN=$2; shift 2 ;;
    --rss-mb) RSS_MB=$2; shift 2 ;;
    --merge) MERGE=1; shift ;;
    --build) BUILD_DIR=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see bash scripts/fuzz.sh --help)" >&2; exit 2 ;;
    *) READERS+=("$1"); shift ;;
  esac
done
if [ ${#READERS[@]} -eq 0 ]; then
  for f in fuzz/*_fuzz.cpp; do
    r=$(basename "$f" _fuzz.cpp)
    READERS+=("$r")
  done
fi
for r in "${READERS[@]}"; do
  if [ ! -f "fuzz/${r}_fuzz.cpp" ]; then
    echo "fuzz.sh: no harness fuzz/${r}_fuzz.cpp (have: $(ls fuzz/*_fuzz.cpp | xargs -n1 basename | sed 's/_fuzz.cpp//' | tr '\n' ' '))" >&2
    exit 2
  fi
done

start=$(date +%s)
CXX=${MVB_FUZZ_CXX:-clang++-14}
if ! command -v "$CXX" > /dev/null; then
  echo "fuzz.sh: $CXX not found; install Debian's clang-14 (apt-get install clang-14) or set MVB_FUZZ_CXX" >&2
  exit 2
fi
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$CXX" -DMVB_FUZZ=ON \
    -DMVB_BUILD_TESTS=OFF
fi
targets=()
for r in "${READERS[@]}"; do targets+=("fuzz_$r"); done
cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${targets[@]}"
echo "fuzz.sh: build took $(($(date +%s) - start)) s"

OUT=${MVB_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/mvb-fuzz-out.XXXXXX")}
echo "fuzz.sh: new inputs and crashes go to $OUT"
# Leaks are not checked: LibTorch and ICU keep process-lifetime allocations that LeakSanitizer
# would report from every input, and a leak in a reader is not a safety problem for a one-shot run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for r in "${READERS[@]}"; do
  mkdir -p "$OUT/$r/new"
  echo "== fuzz_$r: ${TIME}s on fuzz/corpus/$r"
  if "$BUILD_DIR/fuzz/fuzz_$r" -max_total_time="$TIME" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" \
    -max_len="$MAX_LEN" -timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/$r/" \
    "$OUT/$r/new" "fuzz/corpus/$r" > "$OUT/$r/log.txt" 2>&1; then
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$OUT/$r/log.txt" || true
    echo "   $(find "$OUT/$r/new" -type f | wc -l) new inputs in $OUT/$r/new"
    if [ "$MERGE" = 1 ]; then
      "$BUILD_DIR/fuzz/fuzz_$r" -merge=1 -max_len="$MAX_LEN" -rss_limit_mb="$RSS_MB" "fuzz/corpus/$r" \
        "$OUT/$r/new" > "$OUT/$r/merge.txt" 2>&1
      echo "   merged into fuzz/corpus/$r: $(grep -Eo 'added [0-9]+ new units' "$OUT/$r/merge.txt" || echo 'see merge.txt')"
    fi
  else
    failed+=("$r")
    echo "   FAILED: see $OUT/$r/log.txt; input(s): $(ls "$OUT/$r"/crash-* "$OUT/$r"/leak-* "$OUT/$r"/timeout-* "$OUT/$r"/oom-* 2>/dev/null | tr '\n' ' ')"
    grep -E 'ERROR: |SUMMARY: |runtime error|terminate called|what\(\)' "$OUT/$r/log.txt" | head -5 | sed 's/^/   /'
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${#failed[@]} harness(es) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no crashes in ${#READERS[@]} harness(es) x ${TIME}s ($(($(date +%s) - start)) s in all)"
