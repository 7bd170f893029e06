# shellcheck shell=bash
# Shared by scripts/sanitize.sh and scripts/fuzz.sh (sourced, not run): the one sanitizer + libFuzzer
# build folder and the one way a harness is run, so CI's bounded fuzz run and a long local one behave
# alike. Needs BUILD_DIR set; the caller has cd'ed to the repository root.

# clang-14 (Debian's clang-14 + libclang-rt-14-dev, both installed by scripts/setup.sh): gcc has no
# libFuzzer. (A gcc -DMVB_SANITIZE=ON build still works by hand; its harnesses are plain corpus replay
# drivers, fuzz/fuzz_<reader>_replay.) MVB_SANITIZE_CXX picks another clang.
MVB_SANITIZE_CXX=${MVB_SANITIZE_CXX:-clang++-14}

# Configures $BUILD_DIR (once) as an MVB_SANITIZE build: RelWithDebInfo at -O1 -g so reports carry
# line numbers at a tolerable speed. A folder configured with another compiler (an older gcc
# build-asan/) is configured afresh, since its objects cannot be reused.
mvb_sanitize_configure() {
  if ! command -v "$MVB_SANITIZE_CXX" > /dev/null; then
    echo "$MVB_SANITIZE_SCRIPT: $MVB_SANITIZE_CXX not found; install Debian's clang-14 and libclang-rt-14-dev" \
      "(bash scripts/setup.sh does), or set MVB_SANITIZE_CXX" >&2
    exit 2
  fi
  local cxx fresh=()
  cxx=$(command -v "$MVB_SANITIZE_CXX")
  if [ -f "$BUILD_DIR/build.ninja" ] && grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=$cxx\$" "$BUILD_DIR/CMakeCache.txt" &&
    grep -q '^MVB_SANITIZE:BOOL=ON$' "$BUILD_DIR/CMakeCache.txt"; then
    mvb_sanitize_check_libfuzzer
    return 0
  fi
  if [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
    echo "$MVB_SANITIZE_SCRIPT: $BUILD_DIR was configured with another compiler or without MVB_SANITIZE; configuring it afresh"
    fresh=(--fresh)
  fi
  mkdir -p "$BUILD_DIR"
  cmake "${fresh[@]}" -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DMVB_SANITIZE=ON > "$BUILD_DIR/configure.log" 2>&1 || {
    tail -30 "$BUILD_DIR/configure.log" >&2
    echo "$MVB_SANITIZE_SCRIPT: cmake failed (log: $BUILD_DIR/configure.log)" >&2
    exit 1
  }
  mvb_sanitize_check_libfuzzer
}

mvb_sanitize_check_libfuzzer() {
  local f
  for f in fuzz/*_fuzz.cpp; do
    if ! ninja -C "$BUILD_DIR" -t query "fuzz_$(basename "$f" _fuzz.cpp)" > /dev/null 2>&1; then
      echo "$MVB_SANITIZE_SCRIPT: $BUILD_DIR has no libFuzzer harness fuzz_$(basename "$f" _fuzz.cpp);" \
        "is $MVB_SANITIZE_CXX a clang? (see the MVB_SANITIZE notes in CMakeLists.txt)" >&2
      exit 2
    fi
  done
}

# Runtime options (a caller's exported values win). Leaks are not checked: LibTorch, glog and ICU keep
# process-lifetime allocations that LeakSanitizer would report from every test and input. Every report
# halts; the known false positives, each with its reason, are in scripts/sanitize/{asan,ubsan}.supp.
mvb_sanitize_env() {
  local supp=$PWD/scripts/sanitize
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=2:suppressions=$supp/asan.supp}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp}
}

# mvb_fuzz_run READER SECONDS OUT [libFuzzer flags...]: replays fuzz/corpus/READER once, then (SECONDS > 0)
# fuzzes from it for SECONDS. New inputs go to OUT/READER/new, logs to OUT/READER/{replay,fuzz}.log,
# a failing input to OUT/READER/{crash,timeout,oom}-*; never into the repository. Bounds: libFuzzer's
# -max_total_time, -timeout per input (FUZZ_TIMEOUT, default 25 s: a 2-core CI machine under load is
# slow, and the readers take milliseconds per input) and -rss_limit_mb/-malloc_limit_mb (FUZZ_RSS_MB,
# default 2048), and `timeout` around the process in case libFuzzer's own timers cannot fire. On
# failure prints which reader, what happened and where the input is (with its bytes in base64 when
# small, so the CI log alone reproduces it) and returns 1.
mvb_fuzz_run() {
  local r=$1 secs=$2 out=$3
  shift 3
  local bin=$BUILD_DIR/fuzz/fuzz_$r dir=$out/$r rc=0
  mkdir -p "$dir/new"
  local limits=(-rss_limit_mb="${FUZZ_RSS_MB:-2048}" -malloc_limit_mb="${FUZZ_RSS_MB:-2048}"
    -timeout="${FUZZ_TIMEOUT:-25}" -detect_leaks=0)
  timeout -k 10 $((${FUZZ_TIMEOUT:-25} * 20 + 60)) "$bin" -runs=0 "${limits[@]}" -artifact_prefix="$dir/" \
    "fuzz/corpus/$r" > "$dir/replay.log" 2>&1 || rc=$?
  if [ "$rc" = 0 ] && [ "$secs" -gt 0 ]; then
    timeout -k 10 $((secs + ${FUZZ_TIMEOUT:-25} + 120)) "$bin" -max_total_time="$secs" "${limits[@]}" \
      -print_final_stats=1 -artifact_prefix="$dir/" "$@" "$dir/new" "fuzz/corpus/$r" > "$dir/fuzz.log" 2>&1 || rc=$?
  fi
  if [ "$rc" = 0 ]; then
    local runs
    runs=$(grep -h '^stat::number_of_executed_units' "$dir/fuzz.log" 2> /dev/null | awk '{print $2}')
    echo "fuzz_$r: corpus of $(find "fuzz/corpus/$r" -type f | wc -l) replayed clean$([ "$secs" -gt 0 ] &&
      echo "; fuzzed ${secs} s: ${runs:-?} inputs, $(find "$dir/new" -type f | wc -l) new in $dir/new, no crash")"
    return 0
  fi
  local phase="replaying fuzz/corpus/$r" log=$dir/replay.log
  [ -s "$dir/fuzz.log" ] && phase=fuzzing log=$dir/fuzz.log
  local inputs
  inputs=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \))
  echo "FUZZ FAILURE in reader '$r' while ${phase} (exit $rc$([ "$rc" = 124 ] && echo ': killed by the outer timeout')); log: $log"
  grep -E '^==[0-9]+==ERROR|runtime error:|^SUMMARY: |deadly signal|Test unit written|ERROR: libFuzzer|terminate called|what\(\)' \
    "$log" | head -12 | sed 's/^/   /'
  if [ -z "$inputs" ]; then
    echo "   no input was saved (see the log)"
  fi
  local f
  for f in $inputs; do
    local seed_file
    seed_file=$(sha1sum "fuzz/corpus/$r"/* 2> /dev/null | awk -v h="$(sha1sum < "$f" | cut -c1-40)" '$1 == h {print $2; exit}')
    echo "   saved input: $f ($(stat -c %s "$f") bytes${seed_file:+, the same bytes as $seed_file}); reproduce: $bin $f"
    if [ "$(stat -c %s "$f")" -le 4096 ]; then echo "   base64: $(base64 -w0 "$f")"; fi
  done
  echo "   once fixed, add it as fuzz/corpus/$r/regress-<what> so the replay keeps it fixed"
  return 1
}
