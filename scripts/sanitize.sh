#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the fast tests, the fuzz-corpus replays and a
# bounded libFuzzer run over every reader (issue 18), from ONE clang-14 build, sized for CI.
#
#   bash scripts/sanitize.sh                  # the CI set: configure, build, tests, corpus replays, 5 s fuzzing each
#   bash scripts/sanitize.sh test_io          # only these test executables (replays and fuzzing still run)
#   bash scripts/sanitize.sh --fuzz-time 0    # no fuzzing (tests and corpus replays only)
#   bash scripts/sanitize.sh --no-build ...   # run what build-asan/ already holds
#
# Configures a folder of its own (build-asan/, clang-14, MVB_SANITIZE=ON: every object built with
# -fsanitize=address,undefined plus libFuzzer's coverage instrumentation, -O1 -g so reports carry line
# numbers), builds the chosen test executables, the sentencepiece module and the libFuzzer harnesses
# fuzz/fuzz_<reader>, then:
#   1. runs the tests with every sanitizer report fatal;
#   2. replays fuzz/corpus/<reader>/ (every input ever found, crash regressions included) once through
#      each harness (libFuzzer -runs=0);
#   3. fuzzes each harness for --fuzz-time seconds (default 5; 8 harnesses, so under a minute and a half
#      with start-up), with a fixed seed (--seed, default 1) so CI explores the same inputs on every run
#      and a failure is reproducible; new inputs go to a temporary folder (printed), never the repository.
# Any report, test failure, crash, per-input timeout or memory blow-up fails the run (exit 1) and names
# what failed; a fuzzer failure names the reader and the saved input (scripts/sanitize/common.sh).
# scripts/fuzz.sh reuses build-asan/ for longer local fuzzing.
#
# Runtime options (override by exporting ASAN_OPTIONS / UBSAN_OPTIONS): leaks are not checked, since
# LibTorch, glog and ICU keep process-lifetime allocations that LeakSanitizer would report from every
# test; known false positives are listed, with the reason for each, in scripts/sanitize/{asan,ubsan}.supp.
#
# The sentencepiece module: the sanitizer runtime refuses dlopen(RTLD_DEEPBIND), which the normal
# build uses to keep libsentencepiece's bundled protobuf-lite 3.14 apart from LibTorch's libprotobuf
# 3.21. Sanitizer builds (gcc's __SANITIZE_ADDRESS__ or clang's __has_feature(address_sanitizer)) load
# the (uninstrumented) module with dlmopen(LM_ID_NEWLM) instead, a link-map namespace of its own
# (src/text/spm_module.cpp), so the SentencePiece, SigLIP and LoRA-embedding tests run here too.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2034  # read by scripts/sanitize/common.sh in its messages
MVB_SANITIZE_SCRIPT=sanitize.sh

BUILD_DIR=${MVB_SANITIZE_BUILD_DIR:-build-asan}
BUILD=1
FUZZ_TIME=5
SEED=1
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0; shift ;;
    --build) BUILD_DIR=$2; shift 2 ;;
    --fuzz-time) FUZZ_TIME=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    -*) echo "sanitize.sh: unknown option $1 (see bash scripts/sanitize.sh --help)" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
# shellcheck source=scripts/sanitize/common.sh
. scripts/sanitize/common.sh
# The CI set: core, the file readers (io) and the tokenizers (text), i.e. the code that parses
# untrusted files, plus the harnesses over the same readers. test_metrics and test_datasets pass as
# arguments when there is time: bash scripts/sanitize.sh test_metrics test_datasets.
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(test_core test_io test_text)
fi
READERS=()
for f in fuzz/*_fuzz.cpp; do READERS+=("$(basename "$f" _fuzz.cpp)"); done
# Tests left out of the sanitizer run, by executable (gtest negative filters, e.g. [test_nn]="-Foo.*"),
# for any that take minutes under ASan and test nothing the rest do not. None so far: the slowest
# test_io tests spend their time in the Python oracles they start, not in sanitized code.
declare -A SLOW_FILTER=()

start=$(date +%s)
if [ "$BUILD" = 1 ]; then
  mvb_sanitize_configure
  harnesses=()
  for r in "${READERS[@]}"; do harnesses+=("fuzz_$r"); done
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${TARGETS[@]}" mvb_spm "${harnesses[@]}"
  echo "sanitize.sh: build took $(($(date +%s) - start)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
fi

mvb_sanitize_env
failed=()
t_tests=$(date +%s)
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
echo "sanitize.sh: tests took $(($(date +%s) - t_tests)) s"

t_fuzz=$(date +%s)
OUT=${MVB_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/mvb-fuzz-out.XXXXXX")}
for r in "${READERS[@]}"; do
  mvb_fuzz_run "$r" "$FUZZ_TIME" "$OUT" -seed="$SEED" | sed 's/^/sanitize.sh: /' || failed+=("fuzz_$r")
done
echo "sanitize.sh: corpus replays and fuzzing took $(($(date +%s) - t_fuzz)) s (logs and new inputs: $OUT)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitize.sh: ${#failed[@]} failed: ${failed[*]} ($(($(date +%s) - start)) s)" >&2
  exit 1
fi
echo "sanitize.sh: clean under ASan + UBSan ($(($(date +%s) - start)) s)"
