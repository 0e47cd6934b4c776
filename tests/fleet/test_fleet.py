"""End-to-end fleet test (issue 7).

    /usr/bin/python3 tests/fleet/test_fleet.py <path-to-herald-binary>

Starts, on loopback with free ports and one private temporary directory:
a JetStream nats-server, three herald nodes n1/n2/n3 on that bus (each one
shard, PROXY protocol v2 required on every connection) and haproxy in front
(mode tcp, leastconn, send-proxy-v2, /readyz health checks). Clients that
talk to a node directly send a PROXY v2 header first; clients through
haproxy connect plainly.

What it asserts, in order: PROXY header enforcement; cross-node compat push
and user push with fleet-wide counts; cross-node native publish; client
publish across nodes; offsets identical and increasing everywhere (bursts of
concurrent publishes through all three nodes); history/recovery (history
API, subscribe since, /poll, SSE Last-Event-ID) identical on every node;
presence across nodes; kill -9 of a node under a publish stream (clients
resume through haproxy, every offset exactly once); the killed node's
restart (history and epoch intact); SIGTERM drain under a publish stream
(readyz 503, close 1001, every offset exactly once); nats-server kill -9 and
restart (503 bus_unavailable, local delivery continues, reconnect).

One line per assertion (PASS/FAIL name), then "N passed, M failed"; lines
starting "--" name a group, "  .." are measurements for the reader.
HERALD_FLEET_KEEP=1 keeps the temporary directory (logs, haproxy.cfg);
HERALD_FLEET_SHUTDOWN_SESSIONS=1 adds `on-marked-down shutdown-sessions`
to haproxy (see SHUTDOWN_SESSIONS below).
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet_harness as fh  # noqa: E402
from fleet_harness import LOCAL, TCP4, WAIT  # noqa: E402

import websockets  # noqa: E402

SCRIPT_TIMEOUT = 330  # CTest's TIMEOUT is 400

DRAIN_TIMEOUT = 5.0
PROXY_HEADER_TIMEOUT = 3.0  # herald's default --proxy-header-timeout
NODE_FLAGS = [
    "--proxy-protocol",
    "--client-publish", "room:*",
    "--presence", "room:*",
    # Generous: on a loaded 2-core box (load 7.5 seen) a JetStream ack took
    # longer than 0.5 s once and a publish was answered 503. Nothing here
    # asserts how long a wait takes.
    "--bus-ack-timeout", "2",
    "--drain-grace", "0.5",
    "--drain-spread", "0.5",
    "--drain-timeout", str(DRAIN_TIMEOUT),
    # --history-size bounds a recovery (and a history answer). The kill/drain
    # streams publish ~20 messages/s and a client may be away for a while,
    # and the history checks list all ~60 messages of room:a: with the
    # default of 10, recovered:false and short answers would be legitimate.
    "--history-size", "1000",
]

# haproxy's `on-marked-down shutdown-sessions` cuts every session of a node
# the moment its health check fails twice (inter 300ms, fall 2: 0.3-0.6 s
# after SIGTERM, since /readyz turns 503 at once), which is *before* the node
# closes its WebSockets with 1001 at the end of --drain-grace 0.5 s. With it
# the "close 1001" check measures haproxy, not herald, so it is off by
# default; HERALD_FLEET_SHUTDOWN_SESSIONS=1 puts it back. (kill -9 needs no
# help from it: the kernel closes a dead node's sockets.)
SHUTDOWN_SESSIONS = os.environ.get("HERALD_FLEET_SHUTDOWN_SESSIONS") == "1"

NET_ERRORS = (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, EOFError, ValueError,
              asyncio.LimitOverrunError)


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
async def attempt(coro):
    """(result, None) or (None, exception) — failures become check details."""
    try:
        return await coro, None
    except NET_ERRORS + (websockets.exceptions.WebSocketException,) as exc:
        return None, exc


def short(x, n=400) -> str:
    s = repr(x)
    return s if len(s) <= n else s[:n] + "...(cut)"


def is_msg(topic):
    return lambda f: isinstance(f, dict) and f.get("op") == "message" and f.get("topic") == topic


def offsets_of(frames) -> list:
    return [f.get("offset") for f in frames]


async def wait_cond(cond, timeout: float, interval: float = 0.05) -> bool:
    """Bounded poll of a synchronous condition."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


async def raw_exchange(port: int, data: bytes, timeout: float):
    """Write raw bytes to a node, read until EOF/reset/timeout.
    Returns (bytes read, how it ended, seconds until it ended)."""
    t0 = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    buf, how = b"", "timeout"
    try:
        writer.write(data)
        await writer.drain()
        deadline = t0 + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            chunk = await asyncio.wait_for(reader.read(65536), left)
            if not chunk:
                how = "eof"
                break
            buf += chunk
    except asyncio.TimeoutError:
        how = "timeout"
    except (ConnectionResetError, BrokenPipeError):
        how = "reset"
    finally:
        writer.close()
    return buf, how, time.monotonic() - t0


async def subscribe(client: fh.Client, topic: str, **extra):
    return await client.call(dict({"op": "subscribe", "topic": topic}, **extra))


def subscribed_ok(reply) -> bool:
    return isinstance(reply, dict) and reply.get("op") == "subscribed" and isinstance(reply.get("offset"), int) \
        and isinstance(reply.get("epoch"), str)


# --------------------------------------------------------------------------
# The fleet
# --------------------------------------------------------------------------
class Fleet:
    def __init__(self, binary: str, workdir: str) -> None:
        self.nats = fh.Nats(workdir)
        ports = fh.free_ports(3)
        self.nodes = [fh.Node(binary, f"n{i + 1}", workdir, self.nats, ports[i], NODE_FLAGS) for i in range(3)]
        self.n1, self.n2, self.n3 = self.nodes
        self.hap = fh.Haproxy(workdir, self.nodes, SHUTDOWN_SESSIONS)
        self.closers: list = []

    def by_name(self, name: str) -> fh.Node:
        return next(n for n in self.nodes if n.name == name)

    async def client(self, node: fh.Node, name: str) -> fh.Client:
        cl = await node.client(name)
        self.closers.append(cl)
        return cl

    async def close_clients(self) -> None:
        await asyncio.gather(*(cl.close() for cl in self.closers), return_exceptions=True)
        self.closers.clear()


async def start_fleet(c: fh.Checks, f: Fleet) -> bool:
    ok_nats = c.check("nats-server with JetStream starts and answers /healthz", await f.nats.start_fresh(),
                      f.nats.log_tail(800))
    started = await asyncio.gather(*(n.start_fresh() for n in f.nodes))
    c.check("herald nodes n1, n2, n3 start with the fleet flags and answer /healthz (PROXY LOCAL)", all(started),
            " | ".join(f"{n.name}: {n.log_tail(600)}" for n, ok in zip(f.nodes, started) if not ok))
    results = await asyncio.gather(*(n.wait_ready(3) for n in f.nodes))
    ready = True
    for n, (ok, last) in zip(f.nodes, results):
        ready &= c.check(f"node {n.name} becomes ready: /metrics shows herald_bus_connected 1 and herald_fleet_nodes 3",
                         ok, f"last seen (herald_bus_connected, herald_fleet_nodes) = {last}")
    ok_cfg, out = f.hap.validate()
    c.check("haproxy accepts the generated configuration (haproxy -c)", ok_cfg, out)
    await f.hap.start_fresh()
    ok, last = await f.hap.wait_status({n.name: "UP" for n in f.nodes}, 15)
    c.check("haproxy marks n1, n2 and n3 UP through their /readyz health checks (PROXY LOCAL)", ok,
            f"haproxy servers: {last}")
    return ok_nats and ready and ok


# --------------------------------------------------------------------------
# 9. PROXY protocol enforcement
# --------------------------------------------------------------------------
async def check_proxy_header(c: fh.Checks, f: Fleet) -> None:
    n = f.n1
    req = b"GET /readyz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"
    got, how, secs = await raw_exchange(n.port, req, PROXY_HEADER_TIMEOUT + 5)
    c.check("a direct connection to a node without a PROXY header is closed without an HTTP answer",
            got == b"" and how in ("eof", "reset"),
            f"sent {req!r} with no PROXY header; read {got[:300]!r}, connection ended by {how} after {secs:.2f}s")

    r, exc = await attempt(fh.request(n.port, "GET", "/readyz", proxy=LOCAL))
    c.check("a direct connection with a PROXY v2 LOCAL header can GET /readyz (200 ready)",
            r is not None and r.status == 200 and r.text.strip() == "ready",
            f"sent LOCAL header + GET /readyz; got {r!r} {exc!r}")

    r, exc = await attempt(fh.request(n.port, "GET", "/healthz", proxy=TCP4))
    c.check("a direct connection with a PROXY v2 TCP4 header can GET /healthz (200 ok)",
            r is not None and r.status == 200 and r.text.strip() == "ok", f"got {r!r} {exc!r}")

    partial = fh.proxy_v2(TCP4, ("127.0.0.1", n.port))[:10]
    got, how, secs = await raw_exchange(n.port, partial, PROXY_HEADER_TIMEOUT + 5)
    c.check("a direct connection that sends only part of a PROXY header is closed, unanswered, "
            "within the header timeout",
            got == b"" and how in ("eof", "reset") and secs <= PROXY_HEADER_TIMEOUT + 3,
            f"sent {partial!r}; read {got[:200]!r}, ended by {how} after {secs:.2f}s "
            f"(--proxy-header-timeout {PROXY_HEADER_TIMEOUT})")


# --------------------------------------------------------------------------
# 1. Cross-node compat push
# --------------------------------------------------------------------------
async def check_compat_push(c: fh.Checks, f: Fleet) -> None:
    a = await f.client(f.n2, "compat-u1@n2")
    await a.send({"token": "u1", "event": "order"})
    c.check("a compat registration on n2 is processed (application ping answered)", await a.barrier())
    body = {"userId": "u1", "event": "order", "message": "shipped-u1-1"}
    r, exc = await attempt(f.n1.post("/push", body))
    c.check("POST /push to n1 for a user registered only on n2 answers 'message sent to 1 clients'",
            r is not None and r.status == 200 and r.text == "message sent to 1 clients",
            f"sent {body} to n1; got {r!r} {exc!r}")
    got = await a.wait_for(lambda fr: fr == "shipped-u1-1")
    c.check("the compat client on n2 receives the text pushed to n1", got is not None,
            f"frames on the n2 client: {short(a.frames)}")

    b2 = await f.client(f.n2, "compat-u2@n2")
    b3 = await f.client(f.n3, "compat-u2@n3")
    for b in (b2, b3):
        await b.send({"token": "u2", "event": "order"})
    ok = all(await asyncio.gather(b2.barrier(), b3.barrier()))
    c.check("compat registrations of user u2 on n2 and n3 are processed", ok)
    body = {"userId": "u2", "event": "order", "message": "shipped-u2-1"}
    r, exc = await attempt(f.n1.post("/push", body))
    c.check("POST /push to n1 for a user with one connection on n2 and one on n3 answers 'message sent to 2 clients'",
            r is not None and r.status == 200 and r.text == "message sent to 2 clients",
            f"sent {body} to n1; got {r!r} {exc!r}")
    await asyncio.gather(b2.wait_for(lambda fr: fr == "shipped-u2-1"), b3.wait_for(lambda fr: fr == "shipped-u2-1"))
    await asyncio.gather(b2.barrier(), b3.barrier(), a.barrier())
    counts = {b.name: b.texts().count("shipped-u2-1") for b in (b2, b3)}
    c.eq("each of u2's two connections (n2, n3) receives the push exactly once", counts,
         {"compat-u2@n2": 1, "compat-u2@n3": 1})
    c.check("u1's connection does not receive u2's push", "shipped-u2-1" not in a.texts(), short(a.frames))

    n = await f.client(f.n2, "native-zoe@n2")
    rep = await n.call({"op": "auth", "token": "zoe"})
    body = {"user": "zoe", "data": {"note": "cross-node user push"}}
    r, exc = await attempt(f.n1.post("/api/v1/push", body))
    doc = r.json() if r is not None else None
    got = await n.wait_for(lambda fr: isinstance(fr, dict) and fr.get("op") == "message" and fr.get("user") == "zoe")
    c.check("POST /api/v1/push to n1 for a user authed only on n2 answers delivered 1 and the client receives it once",
            isinstance(rep, dict) and rep.get("op") == "authed" and r is not None and r.status == 200
            and isinstance(doc, dict) and doc.get("delivered") == 1 and isinstance(got, dict)
            and got.get("data") == body["data"] and len(n.messages(user="zoe")) == 1,
            f"sent {body} to n1; got {r!r} {exc!r}; client frames {short(n.frames)}")

    body = {"userId": "u1", "event": "other-event", "message": "never"}
    r, exc = await attempt(f.n3.post("/push", body))
    c.check("POST /push to n3 for an event nobody registered answers 'message sent to 0 clients'",
            r is not None and r.status == 200 and r.text == "message sent to 0 clients",
            f"sent {body} to n3; got {r!r} {exc!r}")


# --------------------------------------------------------------------------
# 2, 11, 3, 4: room:a — publish, client publish, offsets, history
# --------------------------------------------------------------------------
class RoomA:
    topic = "room:a"

    def __init__(self) -> None:
        self.subs: list[fh.Client] = []
        self.epoch: str | None = None
        self.published: dict[int, dict] = {}   # offset -> {"data":..., "from":...}
        self.history_before_kill: dict | None = None


async def check_native_publish(c: fh.Checks, f: Fleet, room: RoomA) -> None:
    # not in f.closers: these stay open across the room:a checks (closed by body())
    subs = [await n.client(f"sub-a@{n.name}") for n in f.nodes]
    room.subs = subs
    replies = [await subscribe(s, room.topic) for s in subs]
    epochs = {r.get("epoch") for r in replies if subscribed_ok(r)}
    c.check("subscribing to room:a on n1, n2 and n3 answers subscribed with the same epoch",
            all(subscribed_ok(r) for r in replies) and len(epochs) == 1, short(replies))
    # the first node's epoch even when they differ, so later checks still say what they see
    room.epoch = replies[0].get("epoch") if isinstance(replies[0], dict) else None

    data = {"kind": "cross-node", "n": 1, "text": "é\"😀"}
    body = {"topic": room.topic, "data": data}
    r, exc = await attempt(f.n3.post("/api/v1/publish", body))
    doc = r.json() if r is not None else None
    good = (r is not None and r.status == 200 and isinstance(doc, dict) and doc.get("delivered") == 3
            and doc.get("nodes") == 3 and isinstance(doc.get("offset"), int) and not doc.get("partial"))
    c.check("POST /api/v1/publish to n3 with subscribers on n1, n2, n3 answers delivered 3, nodes 3, an offset, "
            "not partial", good, f"sent {body} to n3; got {r!r} {exc!r}")
    off = doc.get("offset") if isinstance(doc, dict) else None
    if isinstance(off, int):
        room.published[off] = {"data": data}
    got = await asyncio.gather(*(s.wait_for(is_msg(room.topic)) for s in subs))
    want_ok = [isinstance(m, dict) and m.get("data") == data and m.get("offset") == off
               and m.get("epoch") == room.epoch and isinstance(m.get("ts"), (int, float)) for m in got]
    c.check("each subscriber (n1, n2, n3) receives the publication with the answered offset, the epoch and the data",
            all(want_ok), f"answered offset {off}, epoch {room.epoch}; received: {short(got, 900)}")
    await asyncio.gather(*(s.barrier() for s in subs))
    counts = [len(s.messages(room.topic)) for s in subs]
    c.eq("each subscriber received it exactly once", counts, [1, 1, 1])


async def check_client_publish(c: fh.Checks, f: Fleet, room: RoomA) -> None:
    pub = await f.client(f.n1, "alice@n1")
    reply = await pub.call({"op": "auth", "token": "alice"})
    c.check("auth on n1 answers authed", isinstance(reply, dict) and reply.get("op") == "authed", short(reply))
    starts = [len(s.frames) for s in room.subs]
    data = {"chat": "hello from n1"}
    reply = await pub.call({"op": "publish", "topic": room.topic, "data": data})
    ok = isinstance(reply, dict) and reply.get("op") == "published" and isinstance(reply.get("offset"), int)
    c.check("a native client publish to room:a on n1 answers published with an offset", ok,
            f"sent op publish room:a; got {short(reply)}")
    off = reply.get("offset") if ok else None
    if off is not None:
        room.published[off] = {"data": data, "from": "alice"}
    got = await asyncio.gather(*(s.wait_for(lambda fr: is_msg(room.topic)(fr) and fr.get("data") == data, WAIT, st)
                                 for s, st in zip(room.subs, starts)))
    n2_msg = got[1]
    c.check("the subscriber on n2 receives the client publication from n1 with from=alice and its offset",
            isinstance(n2_msg, dict) and n2_msg.get("from") == "alice" and n2_msg.get("offset") == off,
            f"published offset {off}; n2 received {short(n2_msg)}")
    c.check("the subscribers on n1 and n3 receive it too, with from=alice",
            all(isinstance(m, dict) and m.get("from") == "alice" and m.get("offset") == off for m in (got[0], got[2])),
            short([got[0], got[2]]))


BURSTS = 3  # reordering between nodes is a race: three bursts of 20 catch it far more often than one


async def check_offsets(c: fh.Checks, f: Fleet, room: RoomA) -> None:
    targets = [f.nodes[i % 3] for i in range(20)]
    bad, dup, wrong_order, mism = [], [], [], []
    for burst in range(BURSTS):
        starts = [len(s.frames) for s in room.subs]

        async def one(i, node):
            return await attempt(node.post("/api/v1/publish",
                                           {"topic": room.topic, "data": {"burst": burst, "i": i}}))

        answers = await asyncio.gather(*(one(i, n) for i, n in enumerate(targets)))
        offs = {}
        for i, (r, exc) in enumerate(answers):
            doc = r.json() if r is not None else None
            if r is not None and r.status == 200 and isinstance(doc, dict) and isinstance(doc.get("offset"), int):
                offs[i] = doc["offset"]
            else:
                bad.append((burst, i, targets[i].name, r, exc))
        if len(set(offs.values())) != len(offs):
            dup.append((burst, offs))
        for i, o in offs.items():
            room.published[o] = {"data": {"burst": burst, "i": i}}
        want = sorted(offs.values())

        def mine(s, st):
            return [m for m in s.frames[st:] if is_msg(room.topic)(m)]

        await asyncio.gather(*(s.wait_until(lambda s, st=st: len(mine(s, st)) >= len(want))
                               for s, st in zip(room.subs, starts)))
        await asyncio.gather(*(s.barrier() for s in room.subs))
        seen = {s.name: offsets_of(mine(s, st)) for s, st in zip(room.subs, starts)}
        if not all(v == want for v in seen.values()):
            wrong_order.append({"burst": burst, "answered (sorted)": want, "seen": seen})
        for s, st in zip(room.subs, starts):
            for m in mine(s, st):
                d = m.get("data") if isinstance(m.get("data"), dict) else {}
                if d.get("burst") != burst or offs.get(d.get("i")) != m.get("offset"):
                    mism.append((s.name, m.get("offset"), m.get("data")))
    c.check(f"{BURSTS} bursts of 20 concurrent publishes to room:a spread over n1, n2, n3 all answer 200 "
            f"with distinct offsets", not bad and not dup, f"failed: {short(bad, 900)}; duplicate offsets: {dup}")
    c.check("in every burst every subscriber on every node sees exactly the 20 answered offsets, once each, "
            "in strictly increasing order", not wrong_order, str(wrong_order))
    c.check("each delivered offset carries the data of the publish that was answered with that offset", not mism,
            short(mism, 900))
    allseen = {s.name: offsets_of(s.messages(room.topic)) for s in room.subs}
    c.check("across all room:a publications so far, offsets only increase on every subscriber",
            all(all(a < b for a, b in zip(v, v[1:])) for v in allseen.values()), str(allseen))


def strip_doc(doc):
    """(epoch, last offset, recovered, [(offset, data, from)]) of a history/poll answer."""
    if not isinstance(doc, dict):
        return doc
    msgs = doc.get("messages")
    return (doc.get("epoch"), doc.get("offset"), doc.get("recovered"),
            [(m.get("offset"), m.get("data"), m.get("from")) for m in msgs] if isinstance(msgs, list) else msgs)


async def check_history(c: fh.Checks, f: Fleet, room: RoomA) -> None:
    known = sorted(room.published)
    c.check("room:a has published offsets to look up (from the earlier checks)", len(known) >= 5, str(known))
    if not known:
        return
    expected_all = [(o, room.published[o]["data"], room.published[o].get("from")) for o in known]
    path = f"/api/v1/history?topic={room.topic}&since=0"
    res = await asyncio.gather(*(attempt(n.get(path)) for n in f.nodes))
    docs = {n.name: (r.json() if r is not None else None) for n, (r, _) in zip(f.nodes, res)}
    raw = {n.name: (r if r is not None else exc) for n, (r, exc) in zip(f.nodes, res)}
    ok200 = all(r is not None and r.status == 200 for r, _ in res)
    c.check("GET /api/v1/history?topic=room:a&since=0 answers 200 JSON on n1, n2 and n3", ok200, short(raw, 900))
    heads = {k: (d.get("epoch"), d.get("offset")) if isinstance(d, dict) else d for k, d in docs.items()}
    c.check("history since=0 answers the same epoch and last offset on every node: the subscribers' epoch and "
            "the last published offset",
            all(h == (room.epoch, known[-1]) for h in heads.values()),
            f"expected ({room.epoch!r}, {known[-1]}); got {heads}")
    lists = {k: strip_doc(d)[3] if isinstance(d, dict) else d for k, d in docs.items()}
    c.check("history since=0 lists every published offset of room:a, in order, with its data and from, on every node",
            all(v == expected_all for v in lists.values()),
            f"expected {short(expected_all, 600)}; got {short(lists, 900)}")
    envs = [json.dumps(d.get("messages"), sort_keys=True) if isinstance(d, dict) else None for d in docs.values()]
    c.check("history message envelopes are identical on every node (ts included)",
            envs[0] is not None and len(set(envs)) == 1, short(docs, 1200))
    room.history_before_kill = docs.get("n2")

    mid = known[len(known) // 2]
    later = [o for o in known if o > mid]
    path = f"/api/v1/history?topic={room.topic}&since={mid}"
    res = await asyncio.gather(*(attempt(n.get(path)) for n in f.nodes))
    got = {n.name: strip_doc(r.json()) if r is not None and r.status == 200 else (r, exc)
           for n, (r, exc) in zip(f.nodes, res)}
    c.check(f"history since={mid} (a middle offset) answers exactly the later offsets, the same on every node",
            all(isinstance(v, tuple) and len(v) == 4 and v[0] == room.epoch and v[1] == known[-1]
                and isinstance(v[3], list) and [x[0] for x in v[3]] == later for v in got.values()),
            f"expected offsets {later}; got {short(got, 1200)}")

    # native subscribe with since/epoch on each node
    subs = [await f.client(n, f"recover-a@{n.name}") for n in f.nodes]
    replies = await asyncio.gather(*(subscribe(s, room.topic, since=mid, epoch=room.epoch) for s in subs))
    c.check(f"subscribe to room:a with since={mid} and the epoch answers recovered:true on n1, n2 and n3",
            all(subscribed_ok(r) and r.get("recovered") is True and r.get("epoch") == room.epoch for r in replies),
            short(replies, 900))
    await asyncio.gather(*(s.wait_until(lambda s: len(s.messages(room.topic)) >= len(later)) for s in subs))
    await asyncio.gather(*(s.barrier() for s in subs))
    seen = {s.name: offsets_of(s.messages(room.topic)) for s in subs}
    c.check("... and replays exactly the missing offsets, once each, in order, on every node",
            all(v == later for v in seen.values()), f"expected {later}; got {seen}")
    for s in subs:
        await s.close()

    # long-poll
    path = f"/poll?topic={room.topic}&since={mid}&epoch={room.epoch}&timeout=2"
    res = await asyncio.gather(*(attempt(n.get(path)) for n in f.nodes))
    got = {n.name: strip_doc(r.json()) if r is not None and r.status == 200 else (r, exc)
           for n, (r, exc) in zip(f.nodes, res)}
    c.check(f"/poll?topic=room:a&since={mid}&epoch=E answers at once with the same epoch, last offset and "
            f"messages on every node",
            all(isinstance(v, tuple) and len(v) == 4 and v[0] == room.epoch and v[1] == known[-1] and v[2] is True
                and isinstance(v[3], list) and [x[0] for x in v[3]] == later for v in got.values()),
            f"expected offsets {later}; got {short(got, 1200)}")

    # SSE with Last-Event-ID (taking precedence over since=0 in the URL)
    async def sse(node):
        s = await fh.HttpStream.open(node.port, f"/sse?topic={room.topic}&since=0&epoch={room.epoch}",
                                     {"Last-Event-ID": str(mid)})
        try:
            if s.status != 200:
                return ("status", s.status)
            first = None
            events = []
            deadline = time.monotonic() + WAIT
            while len(events) < len(later) and time.monotonic() < deadline:
                ev = await s.next_event(max(0.05, deadline - time.monotonic()))
                if ev["data"] is None:
                    continue
                doc = json.loads(ev["data"])
                if first is None:
                    first = doc
                    continue
                if doc.get("op") == "message":
                    events.append((ev["id"], doc.get("offset")))
            return (first.get("op") if first else None, first.get("recovered") if first else None,
                    first.get("epoch") if first else None, events)
        finally:
            s.close()

    res = await asyncio.gather(*(attempt(sse(n)) for n in f.nodes))
    want = ("subscribed", True, room.epoch, [(str(o), o) for o in later])
    got = {n.name: (r if r is not None else exc) for n, (r, exc) in zip(f.nodes, res)}
    c.check(f"SSE with Last-Event-ID: {mid} opens with subscribed recovered:true and replays exactly the later "
            f"offsets (id = offset) on every node",
            all(v == want for v in got.values()), f"expected {short(want, 500)}; got {short(got, 1200)}")


# --------------------------------------------------------------------------
# 10. Presence across nodes
# --------------------------------------------------------------------------
async def check_presence(c: fh.Checks, f: Fleet) -> None:
    topic = "room:p"
    watcher = await f.client(f.n3, "watcher@n3")
    r = await subscribe(watcher, topic)
    c.check("an anonymous native client subscribes to room:p on n3", subscribed_ok(r), short(r))

    async def member(node, user):
        cl = await f.client(node, f"{user}@{node.name}")
        a = await cl.call({"op": "auth", "token": user})
        s = await subscribe(cl, topic)
        return cl, (isinstance(a, dict) and a.get("op") == "authed" and subscribed_ok(s))

    p1, ok1 = await member(f.n1, "pu1")
    p2, ok2 = await member(f.n2, "pu2")
    c.check("users pu1 (on n1) and pu2 (on n2) auth and subscribe to room:p", ok1 and ok2)

    async def presence_everywhere(want_users, timeout=WAIT):
        last = {}

        async def poll_once():
            for n in f.nodes:
                r, exc = await attempt(n.get(f"/api/v1/presence?topic={topic}"))
                doc = r.json() if r is not None else None
                last[n.name] = (doc.get("users") if isinstance(doc, dict) else (r, exc))
            return all(isinstance(v, list) and sorted(v) == want_users for v in last.values())

        deadline = time.monotonic() + timeout
        while True:
            if await poll_once():
                return True, last
            if time.monotonic() >= deadline:
                return False, last
            await asyncio.sleep(0.1)

    ok, last = await presence_everywhere(["pu1", "pu2"])
    c.check("GET /api/v1/presence?topic=room:p answers users pu1 and pu2 on n1, n2 and n3", ok, f"last answers {last}")
    joins = [fr.get("user") for fr in watcher.frames if isinstance(fr, dict) and fr.get("op") == "join"]
    await watcher.wait_until(lambda w: {"pu1", "pu2"} <= {fr.get("user") for fr in w.frames
                                                         if isinstance(fr, dict) and fr.get("op") == "join"})
    joins = sorted(fr.get("user") for fr in watcher.frames if isinstance(fr, dict) and fr.get("op") == "join")
    c.eq("the watcher on n3 saw the joins of pu1 (n1) and pu2 (n2)", joins, ["pu1", "pu2"])

    start = len(watcher.frames)
    p3, ok3 = await member(f.n1, "pu3")
    j = await watcher.wait_for(lambda fr: isinstance(fr, dict) and fr.get("op") == "join" and fr.get("user") == "pu3",
                               WAIT, start)
    c.check("a native client on n3 sees a join event when a new user pu3 joins room:p on n1",
            ok3 and isinstance(j, dict) and j.get("topic") == topic,
            f"frames on the watcher since pu3 joined: {short(watcher.frames[start:])}")
    ok, last = await presence_everywhere(["pu1", "pu2", "pu3"])
    c.check("presence of room:p then lists pu1, pu2 and pu3 on every node", ok, f"last answers {last}")
    start = len(watcher.frames)
    await p3.close()
    lv = await watcher.wait_for(lambda fr: isinstance(fr, dict) and fr.get("op") == "leave" and fr.get("user") == "pu3",
                                WAIT, start)
    c.check("the client on n3 sees a leave event when pu3's only connection (on n1) closes",
            isinstance(lv, dict) and lv.get("topic") == topic, f"frames: {short(watcher.frames[start:])}")
    ok, last = await presence_everywhere(["pu1", "pu2"])
    c.check("presence of room:p is back to pu1 and pu2 on every node", ok, f"last answers {last}")


# --------------------------------------------------------------------------
# 5, 8: resuming clients through haproxy under a publish stream
# --------------------------------------------------------------------------
class Resumer:
    """A client through haproxy that, whenever its connection ends, connects
    again (through haproxy) and resubscribes with since=<last offset seen> and
    the epoch. It records everything; it never de-duplicates."""

    def __init__(self, name: str, topic: str, port: int) -> None:
        self.name, self.topic, self.port = name, topic, port
        self.node: str | None = None            # where haproxy put the first connection
        self.epoch: str | None = None
        self.last: int | None = None
        self.received: list[tuple] = []         # (offset, seq, epoch)
        self.subscribes: list[dict] = []        # every subscribed reply
        self.sent_subscribes: list[dict] = []
        self.subscribe_times: list[float] = []
        self.errors: list = []                  # error frames
        self.closes: list[tuple] = []           # (code, reason, t)
        self.connect_failures: list[str] = []
        self.connections = 0
        self.subscribed = False                 # the current connection is subscribed
        self.stop = False
        self.ws = None
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while not self.stop:
            try:
                ws = await fh.ws_open(self.port, proxy=None, timeout=3)
            except (OSError, asyncio.TimeoutError, EOFError, websockets.exceptions.WebSocketException) as exc:
                self.connect_failures.append(f"{time.monotonic():.2f} {type(exc).__name__}: {exc}")
                await asyncio.sleep(random.uniform(0.05, 0.15))
                continue
            self.ws = ws
            self.connections += 1
            try:
                req = {"op": "subscribe", "topic": self.topic, "id": fh.next_id()}
                if self.epoch is not None:
                    req["since"], req["epoch"] = self.last, self.epoch
                self.sent_subscribes.append(req)
                await ws.send(json.dumps(req))
                async for raw in ws:
                    doc = fh.decode(raw)
                    if not isinstance(doc, dict):
                        continue
                    op = doc.get("op")
                    if op == "subscribed":
                        self.subscribes.append(doc)
                        self.subscribe_times.append(time.monotonic())
                        if self.epoch is None:
                            self.epoch, self.last = doc.get("epoch"), doc.get("offset")
                        elif doc.get("recovered") is False:
                            # per the protocol the reply is the new position (the checks report the gap)
                            self.epoch, self.last = doc.get("epoch"), doc.get("offset")
                        self.subscribed = True
                    elif op == "message" and doc.get("topic") == self.topic:
                        data = doc.get("data")
                        seq = data.get("seq") if isinstance(data, dict) else None
                        self.received.append((doc.get("offset"), seq, doc.get("epoch")))
                        if isinstance(doc.get("offset"), int) and doc["offset"] > 0:
                            self.last = doc["offset"]  # offset 0: unsequenced (bus down), moves no position
                    elif op == "error":
                        self.errors.append(doc)
                        if doc.get("id") == req["id"]:
                            break  # the subscription was refused: reconnect and try again
                if not self.stop:
                    self.closes.append((ws.close_code, ws.close_reason, time.monotonic()))
            except websockets.exceptions.ConnectionClosed as exc:
                if not self.stop:
                    self.closes.append((exc.code, exc.reason, time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - anything else ends this connection, recorded
                self.closes.append((None, repr(exc), time.monotonic()))
            finally:
                self.subscribed = False
                self.ws = None
                try:
                    await asyncio.wait_for(ws.close(), 2)
                except Exception:  # noqa: BLE001
                    pass
            if not self.stop:
                await asyncio.sleep(random.uniform(0.05, 0.15))

    async def shutdown(self) -> None:
        self.stop = True
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 2)
            except Exception:  # noqa: BLE001
                pass
        if self.task:
            try:
                await asyncio.wait_for(self.task, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001
                self.task.cancel()

    def offsets(self) -> list:
        return [o for o, _, _ in self.received]


class Publisher:
    """Publishes {"seq": i} to a topic at a steady pace, rotating over
    targets (name, port, proxy header or None for haproxy). Remembers what
    was acknowledged (offset -> seq), refused (answered non-200) and
    ambiguous (no answer: may or may not have been published)."""

    def __init__(self, topic: str, targets: list[tuple], interval: float = 0.04) -> None:
        self.topic, self.targets, self.interval = topic, targets, interval
        self.acked: dict[int, int] = {}
        self.ack_times: dict[int, float] = {}
        self.dup_offsets: list = []
        self.refused: dict[int, tuple] = {}
        self.ambiguous: dict[int, str] = {}
        self.partial = 0
        self.by_target = collections.Counter()
        self.seq = 0
        self.stop = False
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while not self.stop:
            seq = self.seq
            self.seq += 1
            name, port, proxy = self.targets[seq % len(self.targets)]
            body = {"topic": self.topic, "data": {"seq": seq, "via": name}}
            try:
                r = await fh.request(port, "POST", "/api/v1/publish", body, proxy=proxy, timeout=3)
                doc = r.json()
                if r.status == 200 and isinstance(doc, dict) and isinstance(doc.get("offset"), int):
                    if doc["offset"] in self.acked:
                        self.dup_offsets.append((doc["offset"], self.acked[doc["offset"]], seq))
                    self.acked[doc["offset"]] = seq
                    self.ack_times[seq] = time.monotonic()
                    self.partial += bool(doc.get("partial"))
                    self.by_target[name] += 1
                else:
                    self.refused[seq] = (name, r.status, r.text[:200])
            except NET_ERRORS as exc:
                self.ambiguous[seq] = f"{name}: {type(exc).__name__}: {exc}"
            await asyncio.sleep(self.interval)

    async def finish(self) -> None:
        self.stop = True
        if self.task:
            try:
                await asyncio.wait_for(self.task, 10)
            except asyncio.TimeoutError:
                self.task.cancel()

    async def wait_acks(self, n: int, timeout: float) -> bool:
        return await wait_cond(lambda: len(self.acked) >= n, timeout)


async def start_resumers(c: fh.Checks, f: Fleet, topic: str, n: int) -> list[Resumer]:
    """n resumers through haproxy, connected one at a time so that haproxy's
    per-server session counts tell which node each one landed on."""
    rs = []
    for i in range(n):
        before = await f.hap.sessions()
        r = Resumer(f"{topic}#{i}", topic, f.hap.port)
        rs.append(r)
        r.start()
        await wait_cond(lambda: r.subscribed, WAIT)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            now = await f.hap.sessions()
            grown = [k for k in now if now[k] > before.get(k, 0)]
            if len(grown) == 1 and sum(now.values()) == sum(before.values()) + 1:
                r.node = grown[0]
                break
            await asyncio.sleep(0.02)
    return rs


def verify_stream(c: fh.Checks, label: str, rs: list[Resumer], pub: Publisher) -> None:
    acked = pub.acked
    lost, twice, disorder, foreign, epochs = {}, {}, {}, {}, {}
    for r in rs:
        offs = r.offsets()
        miss = sorted(set(acked) - set(offs))
        if miss:
            lost[r.name] = (r.node, len(miss), miss[:12])
        d = sorted(o for o, k in collections.Counter(offs).items() if k > 1)
        if d:
            twice[r.name] = (r.node, d[:12])
        bad_order = [(a, b) for a, b in zip(offs, offs[1:]) if not (isinstance(a, int) and isinstance(b, int) and a < b)]
        if bad_order:
            disorder[r.name] = (r.node, bad_order[:8])
        wrong = []
        for o, seq, _ in r.received:
            if o in acked:
                if acked[o] != seq:
                    wrong.append((o, "carries seq", seq, "but was answered to seq", acked[o]))
            elif seq not in pub.ambiguous:
                wrong.append((o, "seq", seq, "refused" if seq in pub.refused else "never published"))
        if wrong:
            foreign[r.name] = (r.node, wrong[:8])
        es = {e for _, _, e in r.received} | {s.get("epoch") for s in r.subscribes}
        if len(es) > 1:
            epochs[r.name] = sorted(map(str, es))
    c.check(f"{label}: every publish answered 200 ({len(acked)} of them) reached every client: nothing lost", not lost,
            f"missing per client (node, count, first offsets): {lost}")
    c.check(f"{label}: no client received any offset twice", not twice, f"duplicates: {twice}")
    c.check(f"{label}: every client saw offsets in strictly increasing order across its reconnects", not disorder,
            f"out of order pairs: {disorder}")
    c.check(f"{label}: every offset received carries the data of the publish answered with it, and nothing "
            f"unpublished arrived", not foreign, str(foreign))
    c.check(f"{label}: the epoch never changed for any client", not epochs, str(epochs))
    c.check(f"{label}: no two publishes were answered with the same offset", not pub.dup_offsets, str(pub.dup_offsets))


def back_after(rs: list[Resumer], t: float) -> str:
    ts = [next((x for x in r.subscribe_times if x > t), None) for r in rs]
    return ", ".join("never" if x is None else f"{x - t:.2f}s" for x in ts) or "(no clients)"


def describe(rs: list[Resumer]) -> str:
    return "; ".join(f"{r.name}@{r.node}: conns={r.connections} subscribed={r.subscribed} closes={r.closes[:3]} "
                     f"subs={[(s.get('recovered'), s.get('offset')) for s in r.subscribes][:4]} "
                     f"errors={r.errors[:2]} connect_failures={len(r.connect_failures)}"
                     f"{' last=' + r.connect_failures[-1] if r.connect_failures else ''}" for r in rs)


async def check_kill9(c: fh.Checks, f: Fleet) -> dict:
    topic = "room:k"
    victim = f.n2
    out = {"epoch": None}
    rs = await start_resumers(c, f, topic, 6)
    try:
        nodes = collections.Counter(r.node for r in rs)
        c.check("six clients through haproxy subscribe to room:k and are spread over the nodes, some on n2",
                all(r.subscribed for r in rs) and nodes.get("n2", 0) >= 1 and None not in nodes,
                f"placement {dict(nodes)}; {describe(rs)}")
        out["epoch"] = next((r.subscribes[0].get("epoch") for r in rs if r.subscribes), None)
        victims = [r for r in rs if r.node == victim.name]
        others = [r for r in rs if r.node != victim.name]
        pub = Publisher(topic, [("haproxy", f.hap.port, None), ("n1", f.n1.port, TCP4), ("n3", f.n3.port, TCP4)])
        pub.start()
        ok = await pub.wait_acks(15, 10)
        c.check("a publish stream to room:k (through haproxy, n1 and n3) is answered before the kill", ok,
                f"acked {len(pub.acked)}, refused {short(pub.refused)}, ambiguous {short(pub.ambiguous)}")
        await victim.kill9()
        t_kill = time.monotonic()
        c.check("n2 is gone after kill -9", not victim.alive())
        acks_at_kill = len(pub.acked)
        ok = await wait_cond(lambda: all(r.connections >= 2 and r.subscribed for r in victims)
                             and all(r.subscribed for r in rs), 15)
        c.check("the clients that were on n2 lose their connection, reconnect through haproxy and subscribe again "
                "with since/epoch", ok and bool(victims), describe(victims))
        resub = [s for r in victims for s in r.subscribes[1:]]
        c.check("their resubscriptions answer recovered:true with the same epoch",
                bool(resub) and all(s.get("recovered") is True and s.get("epoch") == r.subscribes[0].get("epoch")
                                    for r in victims for s in r.subscribes[1:]),
                short([(r.name, r.sent_subscribes[1:3], r.subscribes[1:3]) for r in victims], 1200))
        c.check("clients on n1 and n3 keep their connection through the kill", all(r.connections == 1 for r in others),
                describe(others))
        ok = await pub.wait_acks(acks_at_kill + 30, 15)
        c.check("publishes keep being answered after n2 died (30 more)", ok, f"acked {len(pub.acked)}")
        await pub.finish()
        direct_refused = {k: v for k, v in pub.refused.items() if v[0] != "haproxy"}
        direct_ambiguous = {k: v for k, v in pub.ambiguous.items() if not v.startswith("haproxy")}
        c.check("every publish sent directly to a surviving node (n1, n3) answered 200", not direct_refused
                and not direct_ambiguous, f"refused {short(direct_refused)}; unanswered {short(direct_ambiguous)}")
        c.note(f"kill -9 stream: {pub.seq} publishes, {len(pub.acked)} acked {dict(pub.by_target)} "
               f"({pub.partial} answered partial), "
               f"{len(pub.refused)} refused, {len(pub.ambiguous)} unanswered; "
               f"clients of n2 subscribed again {back_after(victims, t_kill)} after the kill")
        await wait_cond(lambda: all(set(pub.acked) <= set(r.offsets()) for r in rs), 10)
        verify_stream(c, "kill -9 of n2", rs, pub)
        out["pub"] = pub
    finally:
        for r in rs:
            await r.shutdown()
    return out


async def check_restart(c: fh.Checks, f: Fleet, room: RoomA, kill: dict) -> None:
    n2 = f.n2
    n2.start()  # same port, same flags
    ok, last = await n2.wait_ready(3)
    c.check("n2 restarted with the same flags becomes ready (bus connected, 3 fleet nodes)", ok, f"last seen {last}")
    ok, last = await f.hap.wait_status({"n2": "UP"}, 10)
    c.check("haproxy marks the restarted n2 UP again", ok, str(last))
    r, exc = await attempt(n2.get(f"/api/v1/history?topic={room.topic}&since=0"))
    doc = r.json() if r is not None else None
    before = room.history_before_kill
    c.check("after its restart n2's history of room:a is intact: same epoch, last offset and messages as before the kill",
            isinstance(doc, dict) and isinstance(before, dict) and strip_doc(doc) == strip_doc(before)
            and doc.get("epoch") == room.epoch,
            f"before kill {short(strip_doc(before), 500)}; after restart {short(strip_doc(doc) if doc else (r, exc), 500)}")
    pub = kill.get("pub")
    k1, e1 = await attempt(f.n1.get("/api/v1/history?topic=room:k&since=0"))
    k2, e2 = await attempt(n2.get("/api/v1/history?topic=room:k&since=0"))
    d1 = k1.json() if k1 is not None else None
    d2 = k2.json() if k2 is not None else None
    acked = sorted(pub.acked) if pub else []
    offs2 = [m.get("offset") for m in d2.get("messages", [])] if isinstance(d2, dict) else None
    c.check("after its restart n2's history of room:k (published while it was dead) equals n1's, same epoch as the "
            "clients had, holding every acknowledged offset",
            isinstance(d1, dict) and isinstance(d2, dict) and strip_doc(d1) == strip_doc(d2)
            and d2.get("epoch") == kill.get("epoch") and set(acked) <= set(offs2 or []),
            f"n1: {short(strip_doc(d1) if d1 else (k1, e1), 400)}; n2: {short(strip_doc(d2) if d2 else (k2, e2), 400)}; "
            f"clients' epoch {kill.get('epoch')}")
    # a native subscriber on the restarted node resumes from the old epoch
    if room.epoch and room.published:
        known = sorted(room.published)
        mid = known[len(known) // 2]
        cl = await f.client(n2, "recover-a@n2-restarted")
        rep = await subscribe(cl, room.topic, since=mid, epoch=room.epoch)
        want = [o for o in known if o > mid]
        await cl.wait_until(lambda s: len(s.messages(room.topic)) >= len(want))
        await cl.barrier()
        c.check(f"on the restarted n2, subscribe since={mid} with the old epoch answers recovered:true and replays "
                f"exactly the later offsets",
                subscribed_ok(rep) and rep.get("recovered") is True and offsets_of(cl.messages(room.topic)) == want,
                f"reply {short(rep)}; replayed {offsets_of(cl.messages(room.topic))}; expected {want}")
        await cl.close()


async def check_sigterm(c: fh.Checks, f: Fleet) -> None:
    topic = "room:d"
    victim = f.n3
    ok, last = await f.hap.wait_status({n.name: "UP" for n in f.nodes}, 10)
    rs = await start_resumers(c, f, topic, 6)
    try:
        nodes = collections.Counter(r.node for r in rs)
        c.check("six clients through haproxy subscribe to room:d, some of them on n3",
                all(r.subscribed for r in rs) and nodes.get("n3", 0) >= 1 and None not in nodes,
                f"placement {dict(nodes)}; {describe(rs)}")
        victims = [r for r in rs if r.node == victim.name]
        others = [r for r in rs if r.node != victim.name]
        pub = Publisher(topic, [("haproxy", f.hap.port, None), ("n1", f.n1.port, TCP4), ("n2", f.n2.port, TCP4)])
        pub.start()
        c.check("a publish stream to room:d is answered before the SIGTERM", await pub.wait_acks(15, 10),
                f"acked {len(pub.acked)}, refused {short(pub.refused)}")
        victim.signal(signal.SIGTERM)
        t_term = time.monotonic()

        async def timed_exit():
            rc = await victim.wait_exit(DRAIN_TIMEOUT + 3)
            return rc, time.monotonic() - t_term

        exit_task = asyncio.create_task(timed_exit())
        seen = []
        while time.monotonic() - t_term < 1.5:
            r, exc = await attempt(fh.request(victim.port, "GET", "/readyz", proxy=LOCAL, timeout=1))
            seen.append((round(time.monotonic() - t_term, 3), r.status if r is not None else type(exc).__name__))
            if r is not None and r.status == 503:
                break
            await asyncio.sleep(0.01)
        c.check("/readyz on n3 answers 503 right after SIGTERM (before its clients are closed)",
                bool(seen) and seen[-1][1] == 503 and not any(r.closes for r in victims),
                f"probes (seconds after SIGTERM, answer): {seen[:12]}; victims' closes "
                f"{[r.closes[:1] for r in victims]}")
        acks_at_term = len(pub.acked)
        await wait_cond(lambda: all(r.closes for r in victims), DRAIN_TIMEOUT + 3)
        first = {r.name: r.closes[0][:2] if r.closes else None for r in victims}
        c.check("every client on n3 is closed with 1001 (server shutting down)",
                bool(victims) and all(v is not None and v[0] == 1001 for v in first.values()), str(first))
        ok = await wait_cond(lambda: all(r.connections >= 2 and r.subscribed for r in victims), 15)
        c.check("n3's clients reconnect through haproxy to another node and subscribe again with since/epoch",
                ok and bool(victims), describe(victims))
        c.check("their resubscriptions answer recovered:true",
                all(s.get("recovered") is True for r in victims for s in r.subscribes[1:])
                and all(len(r.subscribes) >= 2 for r in victims), describe(victims))
        c.check("clients on n1 and n2 keep their connection through n3's drain", all(r.connections == 1 for r in others),
                describe(others))
        rc, secs = await exit_task
        c.check(f"n3 exits with status 0 within --drain-timeout ({DRAIN_TIMEOUT:.0f}s, +1s for scheduling)",
                rc == 0 and secs <= DRAIN_TIMEOUT + 1, f"exit status {rc} after {secs:.2f}s")
        ok = await pub.wait_acks(acks_at_term + 30, 15)
        c.check("publishes keep being answered during and after the drain (30 more)", ok, f"acked {len(pub.acked)}")
        await pub.finish()
        direct_bad = {k: v for k, v in pub.refused.items() if v[0] != "haproxy"}
        direct_bad.update({k: v for k, v in pub.ambiguous.items() if not v.startswith("haproxy")})
        c.check("every publish sent directly to n1 or n2 answered 200 during the drain", not direct_bad, short(direct_bad))
        c.note(f"drain stream: {pub.seq} publishes, {len(pub.acked)} acked {dict(pub.by_target)} "
               f"({pub.partial} answered partial), "
               f"{len(pub.refused)} refused, {len(pub.ambiguous)} unanswered; n3's clients closed "
               f"{', '.join(f'{r.closes[0][2] - t_term:.2f}s' for r in victims if r.closes)} and subscribed again "
               f"{back_after(victims, t_term)} after SIGTERM")
        await wait_cond(lambda: all(set(pub.acked) <= set(r.offsets()) for r in rs), 10)
        verify_stream(c, "SIGTERM drain of n3", rs, pub)
    finally:
        for r in rs:
            await r.shutdown()
    if victim.alive():
        victim.signal(signal.SIGKILL)
        await victim.wait_exit(5)
    victim.start()
    ok, last = await victim.wait_ready(3)
    c.check("n3 restarted with the same flags becomes ready again", ok, f"last seen {last}")
    await asyncio.gather(*(n.wait_ready(3) for n in f.nodes))
    ok, last = await f.hap.wait_status({n.name: "UP" for n in f.nodes}, 10)


# --------------------------------------------------------------------------
# 7. nats-server outage
# --------------------------------------------------------------------------
async def check_nats_outage(c: fh.Checks, f: Fleet, room: RoomA) -> None:
    topic = "room:n"
    local = await f.client(f.n1, "local1@n1")
    remote = await f.client(f.n2, "remote2@n2")
    await local.send({"token": "local1", "event": "e"})
    await remote.send({"token": "remote2", "event": "e"})
    subs = [await f.client(n, f"sub-n@{n.name}") for n in f.nodes]
    reps = [await subscribe(s, topic) for s in subs]
    ok = all(await asyncio.gather(local.barrier(), remote.barrier())) and all(subscribed_ok(r) for r in reps)
    c.check("before the outage: compat users on n1 and n2 and room:n subscribers on every node are set up", ok, short(reps))
    r, exc = await attempt(f.n1.post("/push", {"userId": "remote2", "event": "e", "message": "before-outage"}))
    c.check("before the outage a push to n1 reaches the user on n2 (message sent to 1 clients)",
            r is not None and r.text == "message sent to 1 clients", f"{r!r} {exc!r}")
    hist_before = {}
    for n in f.nodes:
        hr, _ = await attempt(n.get(f"/api/v1/history?topic={room.topic}&since=0"))
        hist_before[n.name] = strip_doc(hr.json()) if hr is not None else None
    reconnects_before = {}
    for n in f.nodes:
        m = await n.metrics()
        reconnects_before[n.name] = fh.metric(m, "herald_bus_reconnects_total") if m else None

    await f.nats.kill9()
    c.check("nats-server is gone after kill -9", not f.nats.alive())
    res = await asyncio.gather(*(n.wait_gauges(0, None, 10) for n in f.nodes))
    c.check("every node reports herald_bus_connected 0 while NATS is down", all(ok for ok, _ in res),
            str({n.name: last for n, (_, last) in zip(f.nodes, res)}))

    body = {"topic": topic, "data": {"during": "outage"}}
    r, exc = await attempt(f.n1.post("/api/v1/publish", body, timeout=WAIT))
    doc = r.json() if r is not None else None
    refused_publish = r is not None and r.status == 503
    outage_answer = f"{r!r} {exc!r}"
    c.check("during the outage POST /api/v1/publish answers 503 with JSON error bus_unavailable",
            r is not None and r.status == 503 and isinstance(doc, dict) and doc.get("error") == "bus_unavailable",
            f"sent {body} to n1; got {r!r} {exc!r}")
    local_got = await subs[0].wait_for(lambda fr: is_msg(topic)(fr) and fr.get("data") == {"during": "outage"})
    c.check("... its answer says delivered_locally 1 and n1's own room:n subscriber gets it live with offset 0",
            isinstance(doc, dict) and doc.get("delivered_locally") == 1 and isinstance(local_got, dict)
            and local_got.get("offset") == 0, f"answer {outage_answer}; n1 subscriber got {short(local_got)}")
    r, exc = await attempt(f.n2.get(f"/api/v1/history?topic={room.topic}&since=0", timeout=WAIT))
    doc = r.json() if r is not None else None
    c.check("during the outage GET /api/v1/history answers 503 bus_unavailable",
            r is not None and r.status == 503 and isinstance(doc, dict) and doc.get("error") == "bus_unavailable",
            f"got {r!r} {exc!r}")
    late = await f.client(f.n3, "late-a@n3")
    known = sorted(room.published)
    rep = await subscribe(late, room.topic, since=known[0] if known else 0, epoch=room.epoch)
    c.check("during the outage subscribe with since/epoch answers subscribed recovered:false",
            subscribed_ok(rep) and rep.get("recovered") is False, f"got {short(rep)}")
    body = {"userId": "remote2", "event": "e", "message": "during-outage-remote"}
    r, exc = await attempt(f.n1.post("/push", body, timeout=WAIT))
    c.check("during the outage POST /push to n1 for a user only on n2 answers 503 with a text reason",
            r is not None and r.status == 503 and r.text.strip() != "" and not r.text.startswith("message sent"),
            f"sent {body} to n1; got {r!r} {exc!r}")
    body = {"userId": "local1", "event": "e", "message": "during-outage-local"}
    r, exc = await attempt(f.n1.post("/push", body, timeout=WAIT))
    got = await local.wait_for(lambda fr: fr == "during-outage-local")
    c.check("during the outage a push to n1 for a user connected to n1 is still delivered to that user",
            got is not None, f"sent {body} to n1; answer {r!r} {exc!r}; frames {short(local.frames)}")
    c.note(f"the answer to that local push during the outage: {r!r} {exc!r}")
    alive = {n.name: n.alive() for n in f.nodes}
    c.check("no herald node crashed while NATS was down", all(alive.values()), str(alive))

    f.nats.start()  # same port, same store dir
    c.check("nats-server restarts on the same port and store dir", await f.nats.wait_ready(), f.nats.log_tail(600))
    res = await asyncio.gather(*(n.wait_ready(3, 30) for n in f.nodes))
    c.check("after NATS returns every node shows herald_bus_connected 1 and herald_fleet_nodes 3 again",
            all(ok for ok, _ in res), str({n.name: last for n, (_, last) in zip(f.nodes, res)}))
    after = {}
    for n in f.nodes:
        m = await n.metrics()
        after[n.name] = fh.metric(m, "herald_bus_reconnects_total") if m else None
    c.check("herald_bus_reconnects_total increased on every node",
            all(isinstance(after[k], float) and isinstance(reconnects_before[k], float) and after[k] > reconnects_before[k]
                for k in after), f"before {reconnects_before}; after {after}")

    body = {"userId": "remote2", "event": "e", "message": "after-outage"}
    r, exc = await attempt(f.n1.post("/push", body))
    got = await remote.wait_for(lambda fr: fr == "after-outage")
    c.check("after NATS returns a push to n1 reaches the user on n2 again (message sent to 1 clients, received)",
            r is not None and r.status == 200 and r.text == "message sent to 1 clients" and got is not None,
            f"answer {r!r} {exc!r}; frames {short(remote.frames)}")
    body = {"topic": topic, "data": {"after": "outage"}}
    r, exc = await attempt(f.n3.post("/api/v1/publish", body))
    doc = r.json() if r is not None else None
    got = await asyncio.gather(*(s.wait_for(lambda fr: is_msg(topic)(fr) and fr.get("data") == {"after": "outage"})
                                 for s in subs))
    c.check("after NATS returns a publish to n3 is delivered to room:n subscribers on n1, n2 and n3 (delivered 3)",
            r is not None and r.status == 200 and isinstance(doc, dict) and doc.get("delivered") == 3
            and all(g is not None for g in got), f"answer {r!r} {exc!r}; received {short(got)}")
    # The contract only says the publish is refused (503). Whatever a node did
    # locally with it, a topic's offsets must stay unique and increasing for
    # every subscriber, and the refused message must not be in the history.
    seen = {s.name: [(m.get("offset"), m.get("epoch"), m.get("data")) for m in s.messages(topic)
                     if m.get("offset") != 0] for s in subs}  # offset 0: delivered unsequenced while the bus was down
    disorder = {k: v for k, v in seen.items()
                if not all(isinstance(a[0], int) and isinstance(b[0], int) and a[0] < b[0] for a, b in zip(v, v[1:]))}
    c.check("room:n subscribers on every node saw unique, strictly increasing offsets across the outage "
            "(offset 0, unsequenced local delivery, aside)",
            not disorder, f"refused publish answered {outage_answer}; seen (offset, epoch, data): {disorder}")
    if refused_publish:
        got_outage = {s.name: [m.get("offset") for m in s.messages(topic) if m.get("data") == {"during": "outage"}]
                      for s in subs}
        got_outage = {k: v for k, v in got_outage.items() if v}
        c.note(f"the publish refused during the outage was delivered to: {got_outage or 'nobody'}")
        hr, exc = await attempt(f.n2.get(f"/api/v1/history?topic={topic}&since=0"))
        doc = hr.json() if hr is not None else None
        kept = [m.get("data") for m in doc.get("messages", [])] if isinstance(doc, dict) else None
        c.check("the publish refused (503) during the outage is not in room:n's history afterwards",
                isinstance(kept, list) and {"during": "outage"} not in kept, f"history on n2: {short(doc or (hr, exc))}")
    hist_after = {}
    for n in f.nodes:
        hr, _ = await attempt(n.get(f"/api/v1/history?topic={room.topic}&since=0"))
        hist_after[n.name] = strip_doc(hr.json()) if hr is not None else None
    c.check("room:a's history is unchanged on every node after the NATS restart", hist_after == hist_before
            and hist_before.get("n1") is not None, f"before {short(hist_before, 500)}; after {short(hist_after, 500)}")
    alive = {n.name: n.alive() for n in f.nodes}
    c.check("all three herald nodes are still running at the end", all(alive.values()), str(alive))


# --------------------------------------------------------------------------
async def body(binary: str, c: fh.Checks, workdir: str) -> None:
    f = Fleet(binary, workdir)
    await start_fleet(c, f)
    room = RoomA()
    steps = [
        ("PROXY protocol v2 is required on direct connections", lambda: check_proxy_header(c, f)),
        ("cross-node compat push", lambda: check_compat_push(c, f)),
        ("cross-node native publish", lambda: check_native_publish(c, f, room)),
        ("client publish across nodes", lambda: check_client_publish(c, f, room)),
        ("offsets are the same everywhere", lambda: check_offsets(c, f, room)),
        ("history and recovery are the same on every node", lambda: check_history(c, f, room)),
        ("presence across nodes", lambda: check_presence(c, f)),
    ]
    for name, fn in steps:
        async with fh.section(c, name):
            await fn()
        await f.close_clients()
    for s in room.subs:
        await s.close()
    kill = {}
    async with fh.section(c, "kill -9 of a node under a publish stream"):
        kill = await check_kill9(c, f)
    async with fh.section(c, "the killed node restarts with its history and epoch intact"):
        await check_restart(c, f, room, kill)
    await f.close_clients()
    async with fh.section(c, "SIGTERM drain of a node under a publish stream"):
        await check_sigterm(c, f)
    async with fh.section(c, "nats-server killed and restarted"):
        await check_nats_outage(c, f, room)
    await f.close_clients()


if __name__ == "__main__":
    fh.run(body, SCRIPT_TIMEOUT)
