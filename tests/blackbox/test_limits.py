"""Transport limits, black-box: --allowed-origin, --max-connections-per-ip
(also behind a PROXY v2 header), --client-rate, and a reliable 1009 for a
client that keeps sending oversized frames. Clients: Python `websockets`
(its `origin=` and `sock=` arguments), plain sockets. After every section a
bystander connection must still receive its pushes."""
import asyncio
import json
import os
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402
import websockets  # noqa: E402

MAX_MESSAGE = 4096


class Bystander:
    """A registered connection that must keep receiving pushes."""

    def __init__(self, h, name, push=None):
        self.h, self.name, self.n, self.missed = h, name, 0, []
        self.push = push or (lambda msg: h.apush(name, "e", msg))

    async def open(self, **kw):
        self.ws = await hh.ws_connect(self.h.ws_url, **kw)
        await hh.register(self.ws, self.name, "e")
        return self

    async def still_receives(self, step):
        self.n += 1
        tag = f"{self.name}-{self.n}"
        try:
            await self.push(tag)
            got = await hh.recv(self.ws)
            if got != tag:
                self.missed.append(f"{step}: got {got!r}")
        except Exception as exc:
            self.missed.append(f"{step}: {type(exc).__name__} {exc}")


def status_of_refusal(exc):
    return getattr(exc, "status_code", None) if isinstance(exc, websockets.exceptions.InvalidStatusCode) else None


async def try_connect(url, **kw):
    """(websocket, None) on success, (None, HTTP status) on a refused upgrade."""
    try:
        return await hh.ws_connect(url, **kw), None
    except websockets.exceptions.InvalidStatusCode as exc:
        return None, exc.status_code


def bound_socket(source, port, first_bytes=b""):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(hh.WAIT)
    s.connect(("127.0.0.1", port))
    if first_bytes:
        s.sendall(first_bytes)
    s.setblocking(False)
    return s


async def connect_from(h, source, first_bytes=b""):
    sock = await asyncio.to_thread(bound_socket, source, h.port, first_bytes)
    try:
        return await try_connect(h.ws_url, sock=sock)
    except BaseException:
        sock.close()
        raise


def raw_request(port, request, source="127.0.0.1", first_bytes=b"", timeout=5.0):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.sendall(first_bytes + request.replace("\n", "\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return hh.status_of(buf)


# PROXY protocol v2 (haproxy's send-proxy-v2): PROXY over TCP/IPv4, or LOCAL.
SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(src, dst="127.0.0.1", sport=40000, dport=8080):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


PROXY_LOCAL = SIG + bytes([0x20, 0x00, 0, 0])


class ProxiedHerald(hh.Herald):
    """A node with --proxy-protocol: its health check opens with a LOCAL header, as haproxy's do."""

    def wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if raw_request(self.port, "GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n",
                               first_bytes=PROXY_LOCAL, timeout=1) == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False


# ---------------------------------------------------------------- sections
async def origins(binary, c):
    h = hh.Herald(binary, "--allowed-origin", "https://*.example.com", "--allowed-origin",
                  "http://app.test:8080").start()
    by = await Bystander(h, "by-origin").open()
    try:
        ws, st = await try_connect(h.ws_url, origin="https://chat.example.com")
        c.check("an upgrade from an allowed Origin is accepted", ws is not None, f"status {st}")
        if ws:
            await hh.register(ws, "o1", "e")
            await h.apush("o1", "e", "hi")
            c.eq("... and the connection receives pushes", await hh.recv(ws), "hi")
            await ws.close()
        ws, st = await try_connect(h.ws_url, origin="https://Chat.EXAMPLE.com")
        c.check("scheme and host match case-insensitively", ws is not None, f"status {st}")
        if ws:
            await ws.close()
        ws, st = await try_connect(h.ws_url, origin="http://app.test:8080")
        c.check("an exact pattern with a port matches", ws is not None, f"status {st}")
        if ws:
            await ws.close()
        for origin in ["https://evil.test", "http://chat.example.com", "http://app.test:8081",
                       "https://example.com.evil.test", "null"]:
            ws, st = await try_connect(h.ws_url, origin=origin)
            c.eq(f"an upgrade from Origin {origin!r} is refused with 403", st, 403)
            if ws:
                await ws.close()
        ws, st = await try_connect(h.ws_url)
        c.check("an upgrade without Origin (a non-browser client) is accepted", ws is not None, f"status {st}")
        if ws:
            await ws.close()
        st = await asyncio.to_thread(raw_request, h.port,
                                     "GET /sse?topic=t HTTP/1.1\nHost: x\nOrigin: https://evil.test\n\n")
        c.eq("/sse from a refused Origin answers 403", st, 403)
        st = await asyncio.to_thread(raw_request, h.port,
                                     "GET /poll?topic=t HTTP/1.1\nHost: x\nOrigin: https://evil.test\n\n")
        c.eq("/poll from a refused Origin answers 403", st, 403)
        st = await asyncio.to_thread(raw_request, h.port,
                                     "GET /sse?topic=t HTTP/1.1\nHost: x\nOrigin: https://a.example.com\n\n")
        c.eq("/sse from an allowed Origin is served", st, 200)
        m = hh.parse_metrics(h.metrics())
        c.eq("refusals are counted as reason=origin", m.get('herald_connections_refused_total{reason="origin"}'), 7.0)
        await by.still_receives("origin")
        c.eq("a bystander received every push throughout (origin)", by.missed, [])
    finally:
        await by.ws.close()
    h.stop()


async def per_ip(binary, c):
    h = hh.Herald(binary, "--max-connections-per-ip", "2").start()
    by = await Bystander(h, "by-ip").open()
    held = []
    try:
        for i in range(2):
            ws, st = await connect_from(h, "127.0.0.2")
            c.check(f"connection {i + 1} of 2 from 127.0.0.2 is accepted", ws is not None, f"status {st}")
            if ws:
                held.append(ws)
        ws, st = await connect_from(h, "127.0.0.2")
        c.eq("a third connection from 127.0.0.2 is refused with 503", st, 503)
        st = await asyncio.to_thread(raw_request, h.port, "GET /sse?topic=t HTTP/1.1\nHost: x\n\n", "127.0.0.2")
        c.eq("an SSE stream from 127.0.0.2 counts too: 503", st, 503)
        other, st = await connect_from(h, "127.0.0.3")
        c.check("127.0.0.3 is another address: accepted", other is not None, f"status {st}")
        if other:
            await hh.register(other, "ip3", "e")
            await h.apush("ip3", "e", "x")
            c.eq("... and it receives pushes", await hh.recv(other), "x")
        if held:
            await held.pop().close()
        again = None
        deadline = time.monotonic() + hh.WAIT
        while again is None and time.monotonic() < deadline:  # the server tears down after the client sees the close
            again, st = await connect_from(h, "127.0.0.2")
            if again is None:
                await asyncio.sleep(0.05)
        c.check("after one closes, 127.0.0.2 may connect again", again is not None, f"status {st}")
        if again:
            held.append(again)
        m = hh.parse_metrics(h.metrics())
        c.check("refusals are counted as reason=per_ip_limit",
                m.get('herald_connections_refused_total{reason="per_ip_limit"}', 0) >= 2, repr(m.get(
                    'herald_connections_refused_total{reason="per_ip_limit"}')))
        if other:
            await other.close()
        await by.still_receives("per-ip")
        c.eq("a bystander received every push throughout (per-ip)", by.missed, [])
    finally:
        for ws in held:
            await ws.close()
        await by.ws.close()
    h.stop()


async def per_ip_behind_proxy(binary, c):
    h = ProxiedHerald(binary, "--proxy-protocol", "--max-connections-per-ip", "1").start()
    # Every connection opens with a header, so plain HTTP helpers cannot be used.

    def push(user, msg):
        body = json.dumps({"userId": user, "event": "e", "message": msg})
        return raw_request(h.port, f"POST /push HTTP/1.1\nHost: x\nContent-Length: {len(body)}\n"
                                   f"Connection: close\n\n{body}", first_bytes=PROXY_LOCAL)

    first, st = await connect_from(h, "127.0.0.1", proxy_v2("203.0.113.7"))
    c.check("a connection the PROXY header says is from 203.0.113.7 is accepted", first is not None, f"status {st}")
    try:
        second, st = await connect_from(h, "127.0.0.1", proxy_v2("203.0.113.7", sport=40001))
        c.eq("a second one from 203.0.113.7 (limit 1) is refused with 503", st, 503)
        third, st = await connect_from(h, "127.0.0.1", proxy_v2("203.0.113.8"))
        c.check("one from 203.0.113.8, over the same TCP peer, is accepted", third is not None, f"status {st}")
        if third:
            await third.close()
        if first:
            await hh.register(first, "proxied", "e")
            st = await asyncio.to_thread(push, "proxied", "through")
            c.eq("a push through a LOCAL header is answered", st, 200)
            c.eq("the first connection keeps receiving pushes", await hh.recv(first), "through")
    finally:
        if first:
            await first.close()
    h.stop()


async def client_rate(binary, c):
    h = hh.Herald(binary, "--client-rate", "5", "--client-rate-burst", "10").start()
    by = await Bystander(h, "by-rate").open()
    try:
        async with hh.ws_connect(h.ws_url) as ws:
            for i in range(40):
                await ws.send(json.dumps({"op": "ping", "id": i}))
            code, reason, frames = await hh.expect_closed(ws)
            docs = [json.loads(f) for f in frames]
            errors = [d for d in docs if d.get("op") == "error"]
            pongs = [d for d in docs if d.get("op") == "pong"]
            c.check("a flood is answered with error rate_limited",
                    len(errors) == 1 and errors[0].get("code") == "rate_limited", repr(docs[-3:]))
            c.check("... after the burst's pongs, and as the last frame",
                    10 <= len(pongs) < 40 and docs and docs[-1].get("code") == "rate_limited", f"{len(pongs)} pongs")
            c.eq("... then close 1008 'rate limit'", (code, reason), (1008, "rate limit"))
        async with hh.ws_connect(h.ws_url) as ws:
            # WebSocket pings, not messages: each one makes the node write a pong.
            waiters = [await ws.ping() for _ in range(40)]
            code, reason, frames = await hh.expect_closed(ws)
            answered = await asyncio.gather(*waiters, return_exceptions=True)
            pongs = sum(1 for a in answered if not isinstance(a, Exception))
            docs = [json.loads(f) for f in frames]
            c.check("a ping flood is answered with error rate_limited",
                    [d.get("code") for d in docs] == ["rate_limited"], repr(docs))
            c.check("... after the burst's pongs only", 10 <= pongs < 40, f"{pongs} pongs")
            c.eq("... then close 1008 'rate limit'", (code, reason), (1008, "rate limit"))
        m = hh.parse_metrics(h.metrics())
        c.eq("both closes are counted as reason=rate_limited",
             m.get('herald_connections_closed_total{reason="rate_limited"}'), 2.0)
        await by.still_receives("rate")
        c.eq("a bystander (a few messages of its own) received every push (rate)", by.missed, [])
    finally:
        await by.ws.close()
    h.stop()


async def oversized_until_closed(url, size):
    """Sends frames of `size` bytes until the connection closes; its close code."""
    async with hh.ws_connect(url, max_size=None) as ws:
        big = "x" * size
        deadline = time.monotonic() + hh.WAIT
        try:
            while time.monotonic() < deadline:
                await ws.send(big)
        except websockets.exceptions.ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), hh.WAIT)
        return ws.close_code


async def too_big(binary, c):
    h = hh.Herald(binary, "--max-message", str(MAX_MESSAGE)).start()
    by = await Bystander(h, "by-big").open()
    try:
        for size, attempts in [(MAX_MESSAGE + 1, 20), (64 * 1024, 20), (1 << 20, 5)]:
            codes = [await oversized_until_closed(h.ws_url, size) for _ in range(attempts)]
            c.check(f"a client that keeps sending {size}-byte frames sees 1009 in each of {attempts} attempts",
                    codes == [1009] * attempts, f"codes {codes}")
            await by.still_receives(f"too big {size}")
        c.eq("a bystander received every push throughout (1009)", by.missed, [])
    finally:
        await by.ws.close()
    h.stop()


async def body(binary, c: hh.Checks):
    for name, section in [("origin", origins), ("per-ip", per_ip), ("per-ip behind PROXY v2", per_ip_behind_proxy),
                          ("client rate", client_rate), ("1009", too_big)]:
        async with hh.section(c, name):
            await section(binary, c)


if __name__ == "__main__":
    hh.main(body, timeout=240)
