#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the fast tests (issue 18), sized for CI.
#
#   bash scripts/sanitize.sh                  # the CI set: configure, build, run (about 10 min cold on 2 cores)
#   bash scripts/sanitize.sh test_io          # only these test executables
#   bash scripts/sanitize.sh --no-build ...   # run what build-asan/ already holds
#
# Configures a folder of its own (build-asan/, MVB_SANITIZE=ON: every object built with
# -fsanitize=address,undefined, -O1 -g so reports carry line numbers), builds only the chosen test
# executables, the sentencepiece module and the fuzz-corpus replay drivers (fuzz/, plain executables
# under gcc), then runs them with the sanitizers set to stop at the first report. Any report, test
# failure or crash fails the run (exit 1) and names what failed.
#
# Runtime options (override by exporting them): leaks are not checked, since LibTorch, glog and ICU keep
# process-lifetime allocations that LeakSanitizer would report from every test; known false
# positives are listed, with the reason for each, in scripts/sanitize/{asan,ubsan}.supp.
#
# The sentencepiece module: the sanitizer runtime refuses dlopen(RTLD_DEEPBIND), which the normal
# build uses to keep libsentencepiece's bundled protobuf-lite 3.14 apart from LibTorch's libprotobuf
# 3.21. Sanitizer builds load the (uninstrumented) module with dlmopen(LM_ID_NEWLM) instead, a link-map
# namespace of its own (src/text/spm_module.cpp), so the SentencePiece, SigLIP and LoRA-embedding
# tests run here too.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${MVB_SANITIZE_BUILD_DIR:-build-asan}
BUILD=1
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0; shift ;;
    --build) BUILD_DIR=$2; shift 2 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "sanitize.sh: unknown option $1 (see bash scripts/sanitize.sh --help)" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
# The CI set: core, the file readers (io) and the tokenizers (text), i.e. the code that parses
# untrusted files, plus the fuzz-corpus replays over the same readers. Sized from measurement: a
# sanitized translation unit costs about 16 CPU-s (gcc 12, -O1 -g, ASan+UBSan; 44 TUs of core+io took
# 719 CPU-s), and this set is about 80 TUs (16 of them small fuzz drivers), so about 10 minutes cold on
# 2 cores including the runs. test_metrics (+14 TUs) and test_datasets (+31 TUs: datasets and vision)
# pass as arguments when there is time: bash scripts/sanitize.sh test_metrics test_datasets.
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(test_core test_io test_text)
fi
# Tests left out of the sanitizer run, by executable (gtest negative filters, e.g. [test_nn]="-Foo.*"),
# for any that take minutes under ASan and test nothing the rest do not. None so far: the slowest
# test_io tests spend their time in the Python oracles they start, not in sanitized code.
declare -A SLOW_FILTER=()

start=$(date +%s)
if [ "$BUILD" = 1 ]; then
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
      -DMVB_SANITIZE=ON
  fi
  replays=()
  for f in fuzz/*_fuzz.cpp; do replays+=("fuzz_$(basename "$f" _fuzz.cpp)_replay"); done
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${TARGETS[@]}" mvb_spm "${replays[@]}"
  echo "sanitize.sh: build took $(($(date +%s) - start)) s"
fi

SUPP=$PWD/scripts/sanitize
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=2:suppressions=$SUPP/asan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$SUPP/ubsan.supp}
failed=()
for t in "${TARGETS[@]}"; do
  t0=$(date +%s)
  filter=${SLOW_FILTER[$t]:-}
  log=$BUILD_DIR/sanitize-$t.log
  if "$BUILD_DIR/$t" ${filter:+--gtest_filter="$filter"} > "$log" 2>&1; then
    echo "sanitize.sh: $t: $(grep -E '^\[  PASSED  \]' "$log" | tail -1) in $(($(date +%s) - t0)) s"
  else
    failed+=("$t")
    echo "sanitize.sh: $t FAILED after $(($(date +%s) - t0)) s (log: $log):"
    grep -E '^\[  FAILED  \]|ERROR: AddressSanitizer|runtime error:|SUMMARY: ' "$log" | head -20 | sed 's/^/   /'
  fi
done
# Every input ever found by fuzzing (fuzz/corpus/, crash regressions included) once through each
# reader, under the sanitizers: the gcc build's stand-in for a libFuzzer run (scripts/fuzz.sh).
for f in fuzz/*_fuzz.cpp; do
  r=$(basename "$f" _fuzz.cpp)
  log=$BUILD_DIR/sanitize-fuzz_$r.log
  if "$BUILD_DIR/fuzz/fuzz_${r}_replay" "fuzz/corpus/$r" > "$log" 2>&1; then
    echo "sanitize.sh: fuzz_${r}_replay: $(tail -1 "$log")"
  else
    failed+=("fuzz_${r}_replay")
    echo "sanitize.sh: fuzz_${r}_replay FAILED (log: $log):"
    grep -E 'ERROR: AddressSanitizer|runtime error:|SUMMARY: |escaped the harness' "$log" | head -10 | sed 's/^/   /'
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitize.sh: ${#failed[@]} failed: ${failed[*]} ($(($(date +%s) - start)) s)" >&2
  exit 1
fi
echo "sanitize.sh: clean under ASan + UBSan ($(($(date +%s) - start)) s)"
