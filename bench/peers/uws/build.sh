#!/usr/bin/env bash
# bench/peers/uws/build.sh SRC OUT: build the uWebSockets peer (main.cpp here) against
# uWebSockets sources in SRC (a checkout of github.com/uNetworking/uWebSockets with its
# uSockets submodule in SRC/uSockets) into the binary OUT. Plain epoll, no TLS, no zlib.
# Nothing of SRC is ever copied into this repository; CI does not build this peer.
set -euo pipefail
src=${1:?usage: build.sh UWS_SRC OUT}
out=${2:?usage: build.sh UWS_SRC OUT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -f $src/src/App.h && -f $src/uSockets/src/libusockets.h ]] ||
  { echo "uws peer: $src is not a uWebSockets checkout with uSockets/ in it" >&2; exit 1; }
obj=$(mktemp -d "${TMPDIR:-/tmp}/herald-peer-uws.XXXXXX")
trap 'rm -rf "$obj"' EXIT
flags=(-O2 -DNDEBUG -DLIBUS_NO_SSL -DUWS_NO_ZLIB -I"$src/uSockets/src")
for c in "$src"/uSockets/src/*.c "$src"/uSockets/src/eventing/*.c "$src"/uSockets/src/crypto/*.c; do
  cc "${flags[@]}" -std=c11 -c "$c" -o "$obj/$(basename "$c").o"
done
c++ "${flags[@]}" -std=c++20 -I"$src/src" "$here/main.cpp" "$obj"/*.o -o "$out.tmp"
mv "$out.tmp" "$out"
echo "built $out"
