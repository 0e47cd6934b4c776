#!/usr/bin/env bash
# bench/peers/gorilla/run.sh PORT: build the Go gorilla peer (offline, Debian's
# golang-go + golang-github-gorilla-websocket-dev) and exec it on 127.0.0.1:PORT.
# The server replaces this shell (exec), so $! of the caller is the server's pid.
#   GORILLA_BIN=path   where the binary goes (default: $TMPDIR/herald-peer-gorilla/gorilla-peer)
#   GORILLA_ARGS=...   extra flags, e.g. "-ping-interval 25s"
#   BUILD_ONLY=1       build and exit
set -euo pipefail
port=${1:?usage: run.sh PORT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${GORILLA_BIN:=${TMPDIR:-/tmp}/herald-peer-gorilla/gorilla-peer}"
mkdir -p "$(dirname "$GORILLA_BIN")"
command -v go >/dev/null || { echo "gorilla peer: needs go (apt-get install -y golang-go golang-github-gorilla-websocket-dev)" >&2; exit 1; }
[[ -d /usr/share/gocode/src/github.com/gorilla/websocket ]] ||
  { echo "gorilla peer: needs golang-github-gorilla-websocket-dev" >&2; exit 1; }
# Debian ships Go libraries as GOPATH sources under /usr/share/gocode: GOPATH mode,
# no modules, no network (GOPROXY=off, GOFLAGS cleared).
if [[ ! -x $GORILLA_BIN || $here/main.go -nt $GORILLA_BIN ]]; then
  (cd "$here" && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS='' \
     GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/herald-peer-gorilla/gocache}" \
     go build -trimpath -o "$GORILLA_BIN.tmp" main.go && mv "$GORILLA_BIN.tmp" "$GORILLA_BIN")
fi
[[ ${BUILD_ONLY:-0} == 1 ]] && exit 0
# shellcheck disable=SC2086
exec "$GORILLA_BIN" -listen "127.0.0.1:$port" ${GORILLA_ARGS:-}
