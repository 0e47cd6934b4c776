#!/usr/bin/env bash
# Herald's two commands on a fresh Debian/Ubuntu machine:
#   ./deploy/dev.sh run    install what is missing, build herald (Release), start it on :8080
#   ./deploy/dev.sh test   same set-up, then build and run the whole test suite
# Extra arguments after `run` go to herald (e.g. ./deploy/dev.sh run --threads 2)
# and win over the script's defaults (--listen 0.0.0.0:8080, the demo's
# --client-publish/--presence 'room:*', and --status-page), as do HERALD_*
# variables and keys of a --config file: a default is added only for an
# option set nowhere else.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_TYPE="${BUILD_TYPE:-Release}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-$(echo "$BUILD_TYPE" | tr '[:upper:]' '[:lower:]')}"
JOBS="${JOBS:-$(nproc)}"

# Build and test dependencies, all from Debian. Boost is pinned to 1.81:
# libboost-dev would pull 1.74 and conflict.
PACKAGES=(
  build-essential cmake pkg-config git
  libboost1.81-dev libboost-system1.81-dev libboost-test1.81-dev
  libsimdjson-dev prometheus-cpp-dev libcli11-dev libssl-dev libnats-dev libjwt-dev
  prometheus python3-websockets curl procps
)
# `test` also starts real servers: NATS with JetStream and haproxy (fleet
# tests), systemd-analyze (unit file check).
# clang and its runtime libraries build the libFuzzer targets (tests/fuzz).
# python3-jwt (with python3-cryptography) and openssl mint the auth tests' JWTs and keys.
TEST_PACKAGES=(nats-server haproxy systemd python3-yaml clang libclang-rt-14-dev python3-jwt python3-cryptography openssl)
# `test` also needs Debian's chromium and Node (for playwright-core); see
# install_packages.

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  local wanted=("${PACKAGES[@]}")
  if [ "${1:-}" = test ]; then
    wanted+=(chromium "${TEST_PACKAGES[@]}")
    command -v node >/dev/null && command -v npm >/dev/null || wanted+=(nodejs npm)
  fi
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "dev.sh: installing ${missing[*]}" >&2
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if [ "${1:-}" = test ]; then "$ROOT/tests/browser/setup.sh"; fi
}

# build [configure options...] [-- build options...]
build() {
  local configure=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do configure+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${configure[@]}" >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS" "$@"
}

# Whether the user sets herald option $1 (e.g. --listen) themselves, given
# run's arguments: as a flag (--listen X or --listen=X), as its HERALD_
# variable, or as a key of the --config file (or $HERALD_CONFIG).
user_sets() {
  local opt="$1" key="${1#--}" config="${HERALD_CONFIG:-}" prev="" a
  shift
  local env
  env="HERALD_$(echo "$key" | tr 'a-z-' 'A-Z_')"
  [ -n "${!env:-}" ] && return 0
  for a in "$@"; do
    case "$a" in
      "$opt" | "$opt"=*) return 0 ;;
      --config=*) config="${a#--config=}" ;;
    esac
    [ "$prev" = --config ] && config="$a"
    prev="$a"
  done
  [ -n "$config" ] && [ -f "$config" ] \
    && grep -Eq "^[[:space:]]*(${key}|${key//-/_})[[:space:]]*=" "$config"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  run)
    install_packages
    # Only the binary: not the tests, not the bench.
    build -DHERALD_BUILD_TESTS=OFF -- --target herald
    # The demo chat at / needs clients allowed to publish to rooms, and
    # presence there for its Online list; /status is on for a first look.
    defaults=()
    user_sets --listen "$@" || defaults+=(--listen 0.0.0.0:8080)
    user_sets --client-publish "$@" || defaults+=(--client-publish 'room:*')
    user_sets --presence "$@" || defaults+=(--presence 'room:*')
    user_sets --status-page "$@" || defaults+=(--status-page)
    echo "dev.sh: $BUILD_DIR/gateway/herald ${defaults[*]} $*" >&2
    user_sets --listen "$@" || echo "dev.sh: open http://127.0.0.1:8080/ (the demo) and http://127.0.0.1:8080/status" >&2
    exec "$BUILD_DIR/gateway/herald" "${defaults[@]}" "$@"
    ;;
  test)
    install_packages test
    # The unit and integration suites under sanitizers, in a build directory
    # of their own (build-asan, build-tsan): every failure is fatal, leaks too.
    sanitized_suites() {
      local dir="$ROOT/build-$1" launcher=()
      command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
      cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DHERALD_SANITIZE="$2" -DHERALD_BUILD_BENCH=OFF \
        "${launcher[@]}" >/dev/null
      cmake --build "$dir" -j "$JOBS" --target herald_unit_tests herald_integration_tests
      (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        ctest --output-on-failure --timeout 900 -R '^herald_(unit|integration)_tests$')
    }
    # HERALD_SANITIZE=thread (or address,undefined): only those suites, so.
    if [ -n "${HERALD_SANITIZE:-}" ]; then
      [ "$HERALD_SANITIZE" = thread ] && name=tsan || name=asan
      sanitized_suites "$name" "$HERALD_SANITIZE"
      exit 0
    fi
    build -DHERALD_BUILD_TESTS=ON
    (cd "$BUILD_DIR" && ctest --output-on-failure --timeout 600 "$@")
    # Then the same unit and integration suites under ASan + UBSan
    # (SANITIZE=0 skips them), and each libFuzzer target for FUZZ_SECONDS
    # (30; 0 skips them).
    if [ "${SANITIZE:-1}" = 1 ]; then sanitized_suites asan address,undefined; fi
    [ "${FUZZ_SECONDS:-30}" = 0 ] || "$ROOT/tests/fuzz/run.sh" "${FUZZ_SECONDS:-30}"
    ;;
  *)
    echo "usage: $0 run [herald flags...] | test [ctest flags...]" >&2
    exit 2
    ;;
esac
