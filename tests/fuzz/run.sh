#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++, in $FUZZ_BUILD_DIR, default
# build-fuzz) when needed and runs each for a bounded time, one after the
# other, starting from its seed corpus in tests/fuzz/corpus/<target>/.
#   tests/fuzz/run.sh [seconds per target, default 30] [target...]
# Fails on the first crash, leak, sanitizer report or broken property; the
# input that caused it is written to $FUZZ_BUILD_DIR/artifacts/. New inputs
# the fuzzer finds go to a scratch corpus there, never into the tree.
# Extra libFuzzer flags: FUZZ_FLAGS (e.g. FUZZ_FLAGS=-runs=10000000).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_EACH="${1:-30}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(codec http_request proxy_header ws_frames)

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHERALD_FUZZ=ON -DHERALD_BUILD_TESTS=OFF -DHERALD_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
fi
cmake --build "$BUILD" -j "${JOBS:-2}" --target herald_fuzzers
# The JWT target is built when libjwt and OpenSSL are there (tests/fuzz/CMakeLists.txt).
[ $# -eq 0 ] && [ -x "$BUILD/tests/fuzz/fuzz_jwt" ] && TARGETS+=(jwt)

mkdir -p "$BUILD/artifacts"
for t in "${TARGETS[@]}"; do
  scratch="$BUILD/corpus/$t"
  mkdir -p "$scratch"
  # Longer inputs for HTTP: past the 8 KiB header limit (a seed declares a
  # body over the 64 KiB limit). The frame parser's inputs pass its 4 KiB
  # message limit.
  max_len=()
  [ "$t" = http_request ] && max_len=(-max_len=12288)
  [ "$t" = ws_frames ] && max_len=(-max_len=9000)
  echo "fuzz: $t for ${SECONDS_EACH}s" >&2
  # -timeout: one input taking over 10 s is a hang, reported as a failure.
  # The seeds are read, not written: new units go to the scratch corpus.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}" \
    "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "${max_len[@]}" -artifact_prefix="$BUILD/artifacts/$t-" ${FUZZ_FLAGS:-} \
      "$scratch" "$ROOT/tests/fuzz/corpus/$t" 2>&1 | { grep -Ev '^(#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|\s*NEW_FUNC|"|###### )' >&2 || true; }
done
echo "fuzz: all ${#TARGETS[@]} targets ran ${SECONDS_EACH}s without a finding" >&2
