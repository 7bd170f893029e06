#!/usr/bin/env bash
# Coverage-guided fuzzing of our file readers with libFuzzer (Debian's clang-14), for longer local runs
# than CI's (scripts/sanitize.sh fuzzes every harness for 5 s).
#
#   bash scripts/fuzz.sh                 # every harness in fuzz/, 60 s each
#   bash scripts/fuzz.sh -t 300 parquet  # one harness, 5 minutes
#   bash scripts/fuzz.sh --merge         # also add new coverage-increasing inputs to fuzz/corpus/
#
# Uses scripts/sanitize.sh's build folder (build-asan/: clang-14, ASan + UBSan + libFuzzer coverage at
# -O1 -g), configuring it and building only the harnesses when needed, so one build serves the
# sanitizer tests and the fuzzers. Each fuzz/<reader>_fuzz.cpp first replays its seed corpus
# fuzz/corpus/<reader>/ and then fuzzes from it with a random seed (libFuzzer prints it; --seed to
# repeat one). Inputs it finds go to a throwaway folder (printed; $MVB_FUZZ_OUT to choose it), never
# into the repository unless --merge is given. A crash, sanitizer report, per-input timeout or
# out-of-memory fails the run (exit 1) and names the reader and the saved input; reproduce with
# build-asan/fuzz/fuzz_<reader> <that file>, and once fixed, copy it to fuzz/corpus/<reader>/regress-<what>
# so every replay (sanitize.sh, and ctest's label "fuzz" in every build) keeps it fixed.
#
# Options: -t/--time SECONDS per harness (default 60), --max-len BYTES (default: libFuzzer's, the
# largest seed or 4096), --seed N, --merge, --build DIR (default build-asan); other words are harness names.
# Limits: FUZZ_TIMEOUT (seconds per input, default 25) and FUZZ_RSS_MB (default 2048) in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2034  # read by scripts/sanitize/common.sh in its messages
MVB_SANITIZE_SCRIPT=fuzz.sh

TIME=60
EXTRA=()
MERGE=0
BUILD_DIR=${MVB_SANITIZE_BUILD_DIR:-build-asan}
READERS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t | --time) TIME=$2; shift 2 ;;
    --max-len) EXTRA+=(-max_len="$2"); shift 2 ;;
    --seed) EXTRA+=(-seed="$2"); shift 2 ;;
    --merge) MERGE=1; shift ;;
    --build) BUILD_DIR=$2; shift 2 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see bash scripts/fuzz.sh --help)" >&2; exit 2 ;;
    *) READERS+=("$1"); shift ;;
  esac
done
if [ ${#READERS[@]} -eq 0 ]; then
  for f in fuzz/*_fuzz.cpp; do READERS+=("$(basename "$f" _fuzz.cpp)"); done
fi
for r in "${READERS[@]}"; do
  if [ ! -f "fuzz/${r}_fuzz.cpp" ]; then
    echo "fuzz.sh: no harness fuzz/${r}_fuzz.cpp (have: $(cd fuzz && printf '%s ' *_fuzz.cpp | sed 's/_fuzz.cpp//g'))" >&2
    exit 2
  fi
done
# shellcheck source=scripts/sanitize/common.sh
. scripts/sanitize/common.sh

start=$(date +%s)
mvb_sanitize_configure
targets=()
for r in "${READERS[@]}"; do targets+=("fuzz_$r"); done
cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${targets[@]}"
echo "fuzz.sh: build took $(($(date +%s) - start)) s"

OUT=${MVB_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/mvb-fuzz-out.XXXXXX")}
echo "fuzz.sh: new inputs, logs and crashes go to $OUT"
mvb_sanitize_env
failed=()
for r in "${READERS[@]}"; do
  if mvb_fuzz_run "$r" "$TIME" "$OUT" "${EXTRA[@]}"; then
    grep -E '^(#[0-9]+.*DONE|stat::peak_rss_mb)' "$OUT/$r/fuzz.log" | sed 's/^/   /' || true
    if [ "$MERGE" = 1 ]; then
      "$BUILD_DIR/fuzz/fuzz_$r" -merge=1 -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -detect_leaks=0 "${EXTRA[@]}" \
        "fuzz/corpus/$r" "$OUT/$r/new" > "$OUT/$r/merge.log" 2>&1
      echo "   merged into fuzz/corpus/$r: $(grep -Eo 'added [0-9]+ new units' "$OUT/$r/merge.log" || echo "see $OUT/$r/merge.log")"
    fi
  else
    failed+=("$r")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${#failed[@]} harness(es) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no crashes in ${#READERS[@]} harness(es) x ${TIME}s ($(($(date +%s) - start)) s in all)"
