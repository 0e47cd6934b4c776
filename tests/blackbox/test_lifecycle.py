"""Connection lifecycle: slow consumers are cut off without hurting others,
heartbeats drop dead peers but keep live ones, the connection limit, and a
SIGTERM drain that delivers queued messages, closes with 1001 and exits 0."""
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402

import websockets  # noqa: E402

SLOW_PUSHES = 200
BIG = 60000
DRAIN_TIMEOUT = 3.0


async def collect(ws, n, timeout):
    """Receive up to n messages; stops early on close or when `timeout` passes."""
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < n:
            got.append(await hh.recv(ws, max(0.01, deadline - time.monotonic())))
    except (asyncio.TimeoutError, websockets.exceptions.ConnectionClosed):
        pass
    return got


def raw_register(port, user, event, rcvbuf=None):
    raw = hh.RawWS(port, rcvbuf=rcvbuf)
    raw.send_text(json.dumps({"token": user, "event": event}))
    raw.send_text(json.dumps({"op": "ping", "id": 1}))
    reply = json.loads(raw.recv_text(hh.WAIT))
    if reply != {"op": "pong", "id": 1}:
        raise RuntimeError(f"raw client registration got {reply!r}")
    return raw


def read_to_eof(raw, timeout):
    """Read everything until EOF/reset; returns (how, pings seen, close code)."""
    deadline = time.monotonic() + timeout
    pings, code = 0, None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", pings, code
            op, payload = raw.recv_frame(left)
            if op == hh.OP_PING:
                pings += 1
            elif op == hh.OP_CLOSE:
                code = hh.close_code(payload)[0]
    except EOFError:
        return "eof", pings, code
    except (ConnectionResetError, BrokenPipeError):
        return "reset", pings, code
    except socket.timeout:
        return "timeout", pings, code


async def slow_consumer(binary, c):
    h = hh.Herald(binary, "--max-queue-messages", "4", "--close-timeout", "10").start()
    try:
        slow = await asyncio.to_thread(raw_register, h.port, "slowpoke", "e", 4096)
        same = await hh.ws_connect(h.ws_url, max_size=1 << 20)
        other = await hh.ws_connect(h.ws_url)
        await hh.register(same, "slowpoke", "e")
        await hh.register(other, "bystander", "e")
        big = [f"{i:05d}:" + chr(ord("A") + i % 26) * BIG for i in range(SLOW_PUSHES)]

        def push_all():
            statuses = []
            for i in range(SLOW_PUSHES):
                statuses.append(h.push("slowpoke", "e", big[i])[0])
                statuses.append(h.push("bystander", "e", f"small-{i}")[0])
            return statuses

        same_task = asyncio.create_task(collect(same, SLOW_PUSHES, 60))
        other_task = asyncio.create_task(collect(other, SLOW_PUSHES, 60))
        statuses = await asyncio.to_thread(push_all)
        c.eq("all pushes answered 200", sorted(set(statuses)), [200])
        got_other = await other_task
        got_same = await same_task
        # Only now does the stuck client read what reached it.
        code, reason, data, how = await asyncio.to_thread(slow.read_until_close, 20)
        slow.close()
        c.check("the client that stopped reading is closed with 1008 \"slow consumer\"",
                code == 1008 and reason == "slow consumer",
                f"code={code} reason={reason!r} ended by {how}, {len(data)} messages read")
        c.check("the slow client got fewer messages than were pushed", len(data) < SLOW_PUSHES, f"{len(data)}")
        c.eq("a reading client of a different user received every message",
             got_other, [f"small-{i}" for i in range(SLOW_PUSHES)])
        c.check("a reading connection of the same user received every message intact",
                got_same == big, f"received {len(got_same)} of {SLOW_PUSHES}")
        c.eq("both reading clients are still open", (same.open, other.open), (True, True))
        s = hh.parse_metrics(await asyncio.to_thread(h.metrics))
        c.check("herald_slow_consumer_closes_total >= 1", s.get("herald_slow_consumer_closes_total", 0) >= 1,
                repr(s.get("herald_slow_consumer_closes_total")))
        await same.close()
        await other.close()
    finally:
        h.stop()


async def heartbeat(binary, c):
    h = hh.Herald(binary, "--ping-interval", "0.3", "--idle-timeout", "1", "--close-timeout", "0.5").start()
    try:
        dead = await asyncio.to_thread(hh.RawWS, h.port)  # handshake only, then silence
        live = await hh.ws_connect(h.ws_url)  # websockets answers pings by itself
        await hh.register(live, "alive", "e")
        await asyncio.sleep(3)  # nobody reads `dead`; the event loop keeps `live` answering
        how, pings, code = await asyncio.to_thread(read_to_eof, dead, 8)
        dead.close()
        c.check("a peer that never answers pings is disconnected", how in ("eof", "reset"),
                f"ended by {how}, {pings} pings, close code {code}")
        c.check("the server sent heartbeat pings", pings >= 1, f"{pings} pings")
        c.check("a client answering pings is still connected", live.open)
        status, _, resp = await h.apush("alive", "e", "still-here")
        got = await hh.recv(live)
        c.eq("and still receives a push", (status, resp.decode(), got),
             (200, "message sent to 1 clients", "still-here"))
        s = hh.parse_metrics(await asyncio.to_thread(h.metrics))
        c.check("herald_pings_sent_total counts pings", s.get("herald_pings_sent_total", 0) >= 1)
        await live.close()
    finally:
        h.stop()


async def connection_limit(binary, c):
    h = hh.Herald(binary, "--max-connections", "2").start()
    try:
        a = await hh.ws_connect(h.ws_url)
        b = await hh.ws_connect(h.ws_url)
        try:
            third = await hh.ws_connect(h.ws_url)
            await third.close()
            c.check("a third WebSocket beyond --max-connections 2 is refused", False, "it was accepted")
        except websockets.exceptions.InvalidStatusCode as e:
            c.eq("a third WebSocket beyond --max-connections 2 is refused with 503", e.status_code, 503)
        status, _, _ = await h.ahttp("GET", "/healthz")
        c.eq("plain HTTP is still served at the limit", status, 200)
        await a.close()
        accepted = False
        deadline = time.monotonic() + hh.WAIT
        while not accepted and time.monotonic() < deadline:
            try:
                again = await hh.ws_connect(h.ws_url)
                await again.close()
                accepted = True
            except websockets.exceptions.InvalidStatusCode:
                await asyncio.sleep(0.1)
        c.check("after one closes a new WebSocket is accepted", accepted)
        await b.close()
    finally:
        h.stop()


def poll_readyz(port, keep_alive_conn, timeout):
    """During the drain: ask on a keep-alive connection opened before SIGTERM,
    then on fresh connections, until one answers 503 or is refused (the
    signal is asynchronous, so a 200 just after kill() is fine); then ask a
    few more times. Returns (answers until not-ready, answers afterwards)."""
    seen = []
    try:
        keep_alive_conn.request("GET", "/readyz")
        seen.append(keep_alive_conn.getresponse().status)
    except (OSError, http.client.HTTPException):
        seen.append("closed")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and seen[-1] not in (503, "refused", "closed"):
        try:
            seen.append(hh.http(port, "GET", "/readyz", timeout=1)[0])
        except (OSError, http.client.HTTPException):
            seen.append("refused")
        time.sleep(0.02)
    after = []
    for _ in range(5):
        try:
            after.append(hh.http(port, "GET", "/readyz", timeout=1)[0])
        except (OSError, http.client.HTTPException):
            after.append("refused")
    return seen, after


async def sigterm_drain(binary, c):
    h = hh.Herald(binary, "--drain-timeout", str(DRAIN_TIMEOUT), "--close-timeout", "1").start()
    try:
        clients = [await hh.ws_connect(h.ws_url) for _ in range(3)]
        for ws in clients:
            await hh.register(ws, "drainee", "e")
        stuck = await asyncio.to_thread(raw_register, h.port, "stuck", "e")  # never answers the close
        ka = http.client.HTTPConnection("127.0.0.1", h.port, timeout=2)
        ka.request("GET", "/readyz")
        r = ka.getresponse()
        r.read()
        c.eq("/readyz answers 200 before SIGTERM", r.status, 200)
        status, _, resp = await h.apush("drainee", "e", "last-words")
        c.eq("push just before SIGTERM reaches 3 clients", resp.decode(), "message sent to 3 clients")
        h.proc.send_signal(signal.SIGTERM)
        closes = [asyncio.create_task(hh.expect_closed(ws, DRAIN_TIMEOUT + 5)) for ws in clients]
        seen, after = await asyncio.to_thread(poll_readyz, h.port, ka, DRAIN_TIMEOUT + 2)
        ka.close()
        c.check("/readyz answers 503 or refuses during the drain",
                seen[-1] in (503, "refused", "closed"), f"saw {seen}")
        c.check("once not ready, /readyz stays not ready", 200 not in after, f"saw {seen} then {after}")
        results = [await t for t in closes]
        c.eq("each client gets close code 1001", [r[0] for r in results], [1001] * 3)
        c.eq("the message pushed before SIGTERM arrived before the close", [r[2] for r in results],
             [["last-words"]] * 3)
        try:
            rc = await asyncio.to_thread(h.proc.wait, DRAIN_TIMEOUT + 2)
        except subprocess.TimeoutExpired:
            rc = "still running"
        c.eq(f"herald exits with code 0 within --drain-timeout + 2 s", rc, 0)
        how, _, code = await asyncio.to_thread(read_to_eof, stuck, 2)
        stuck.close()
        c.check("the client that ignored the close was disconnected too", how in ("eof", "reset"),
                f"ended by {how}, close code {code}")
    finally:
        h.stop()


async def body(binary, c: hh.Checks):
    for name, fn in [("slow consumer", slow_consumer), ("heartbeat", heartbeat),
                     ("connection limit", connection_limit), ("SIGTERM drain", sigterm_drain)]:
        async with hh.section(c, name):
            await fn(binary, c)


if __name__ == "__main__":
    hh.main(body, timeout=150)
