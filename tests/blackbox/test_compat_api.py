"""wserver-compatible API: register frames, POST /push, delivery counts,
several connections per user, event filtering, --auth-tokens, --push-key."""
import asyncio
import json
import os
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402


async def wait_count(h, user, event, expected, timeout=hh.WAIT):
    """Push probes until the answer reports `expected` clients (bounded)."""
    deadline = time.monotonic() + timeout
    body = b""
    while time.monotonic() < deadline:
        status, _, body = await h.apush(user, event, "probe")
        if status == 200 and body.decode() == f"message sent to {expected} clients":
            return True, body
        await asyncio.sleep(0.1)
    return False, body


async def body(binary, c: hh.Checks):
    h = hh.Herald(binary).start()

    async with hh.section(c, "register and push"):
        async with hh.ws_connect(h.ws_url) as ws:
            extra = await hh.register(ws, "alice", "news")
            c.eq("register without id sends no reply", extra, [])
            status, headers, resp = await h.apush("alice", "news", "hello")
            c.eq("push answers 200", status, 200)
            c.eq("push answer text", resp.decode(), "message sent to 1 clients")
            c.eq("registered client receives the raw message", await hh.recv(ws), "hello")
            tricky = 'héllo "quoted" \\ back\nslash 😀 {"not":"json"} \t'
            status, _, resp = await h.apush("alice", "news", tricky)
            c.eq("special characters arrive byte-exact", (status, await hh.recv(ws)), (200, tricky))

    async with hh.section(c, "register with id"):
        async with hh.ws_connect(h.ws_url) as ws:
            await ws.send(json.dumps({"token": "bob", "event": "e", "id": 7}))
            reply = await hh.recv_json(ws)
            c.eq("register with id answers registered", reply, {"op": "registered", "id": 7})
            await ws.send(json.dumps({"token": "bob", "event": "e", "id": "s-1"}))
            reply = await hh.recv_json(ws)
            c.eq("string id is echoed", reply, {"op": "registered", "id": "s-1"})

    async with hh.section(c, "several connections per user"):
        conns = [await hh.ws_connect(h.ws_url) for _ in range(3)]
        try:
            for ws in conns:
                await hh.register(ws, "carol", "chat")
            status, _, resp = await h.apush("carol", "chat", "to-all-3")
            c.eq("push to a user with 3 connections counts 3", (status, resp.decode()),
                 (200, "message sent to 3 clients"))
            got = [await hh.recv(ws) for ws in conns]
            c.eq("each of the 3 connections receives the message", got, ["to-all-3"] * 3)
            await conns[0].close()
            ok, last = await wait_count(h, "carol", "chat", 2)
            c.check("after one connection closes the count drops to 2", ok, f"last answer {last!r}")
        finally:
            for ws in conns:
                await ws.close()
        ok, last = await wait_count(h, "carol", "chat", 0)
        c.check("after all connections close the count drops to 0", ok, f"last answer {last!r}")

    async with hh.section(c, "event and user filtering"):
        async with hh.ws_connect(h.ws_url) as a1, hh.ws_connect(h.ws_url) as a2, \
                hh.ws_connect(h.ws_url) as b1:
            await hh.register(a1, "dave", "e1")
            await hh.register(a2, "dave", "e2")
            await hh.register(b1, "erin", "e1")
            status, _, resp = await h.apush("dave", "e1", "for-e1")
            c.eq("push to dave/e1 counts only the e1 connection", resp.decode(), "message sent to 1 clients")
            c.eq("dave/e1 connection receives it", await hh.recv(a1), "for-e1")
            await h.apush("dave", "e2", "for-e2")
            c.eq("dave/e2 connection's next message is its own (e1 push filtered out)",
                 await hh.recv(a2), "for-e2")
            await h.apush("erin", "e1", "for-erin")
            c.eq("other user with same event did not get dave's push", await hh.recv(b1), "for-erin")
            status, _, resp = await h.apush("nobody", "e1", "x")
            c.eq("push to an unknown user reaches 0 clients", (status, resp.decode()),
                 (200, "message sent to 0 clients"))
            status, _, resp = await h.apush("dave", "e3", "x")
            c.eq("push to an event nobody registered reaches 0 clients", resp.decode(),
                 "message sent to 0 clients")

    async with hh.section(c, "compat push request errors"):
        status, headers, resp = await h.ahttp("GET", "/push")
        c.eq("GET /push answers 405", status, 405)
        status, _, resp = await h.ahttp("POST", "/push", "{not json")
        c.eq("bad JSON answers 400 request data illegal", (status, resp.decode()), (400, "request data illegal"))
        status, _, resp = await h.ahttp("POST", "/push", json.dumps({"userId": "u", "event": "e"}))
        c.eq("missing message answers 400", (status, resp.decode()), (400, "request data illegal"))
        status, _, resp = await h.ahttp("POST", "/push", json.dumps({"userId": "", "event": "e", "message": "m"}))
        c.eq("empty userId answers 400", (status, resp.decode()), (400, "request data illegal"))

    h.stop()

    # ---- second node: --auth-tokens and --push-key -----------------------
    tokens = tempfile.NamedTemporaryFile("w", prefix="herald-tokens-", suffix=".txt", delete=False)
    tokens.write("tok-alice alice\ntok-bob bob\n")
    tokens.close()
    key = "s3cret-key"
    h2 = hh.Herald(binary, "--auth-tokens", tokens.name, "--push-key", key, "--log-level", "debug").start()
    auth = {"Authorization": f"Bearer {key}"}
    try:
        async with hh.section(c, "auth tokens file"):
            async with hh.ws_connect(h2.ws_url) as ws:
                await hh.register(ws, "tok-alice", "news")
                status, _, resp = await h2.apush("alice", "news", "mapped", auth)
                c.eq("token maps to its user: push to alice counts 1", (status, resp.decode()),
                     (200, "message sent to 1 clients"))
                c.eq("mapped connection receives the push", await hh.recv(ws), "mapped")
                status, _, resp = await h2.apush("tok-alice", "news", "x", auth)
                c.eq("push to the token itself reaches 0 clients", resp.decode(), "message sent to 0 clients")
            async with hh.ws_connect(h2.ws_url) as ws:
                await ws.send(json.dumps({"token": "no-such-token", "event": "news"}))
                reply = await hh.recv_json(ws)
                c.check("unknown token gets an unauthorized error frame",
                        isinstance(reply, dict) and reply.get("op") == "error"
                        and reply.get("code") == "unauthorized", repr(reply))
                status, _, resp = await h2.apush("no-such-token", "news", "x", auth)
                c.eq("unknown token registered nothing", resp.decode(), "message sent to 0 clients")

        async with hh.section(c, "push key"):
            msg = json.dumps({"userId": "alice", "event": "news", "message": "m"})
            status, headers, _ = await h2.ahttp("POST", "/push", msg)
            c.eq("push without Authorization answers 401", status, 401)
            status, _, _ = await h2.ahttp("POST", "/push", msg, {"Authorization": "Bearer wrong"})
            c.eq("push with wrong key answers 401", status, 401)
            status, _, _ = await h2.ahttp("POST", "/push", msg, {"Authorization": key})
            c.eq("push with key but no Bearer scheme answers 401", status, 401)
            status, _, _ = await h2.ahttp("POST", "/api/v1/publish", json.dumps({"topic": "t", "data": 1}))
            c.eq("native publish without key answers 401", status, 401)
            status, _, resp = await h2.ahttp("POST", "/push", msg, auth)
            c.eq("push with the right key answers 200", (status, resp.decode()), (200, "message sent to 0 clients"))
            status, _, _ = await h2.ahttp("GET", "/healthz")
            c.eq("healthz needs no key", status, 200)

        async with hh.section(c, "logs"):
            # Everything above ran at --log-level debug: the most the node
            # ever logs. Tokens and the push key must appear nowhere in it.
            log = h2.log_tail(1 << 24)
            c.check("the node logs one logfmt line per event", "level=info msg=" in log, log[-300:])
            for secret in ("tok-alice", "no-such-token", key):
                c.check(f"the log never contains {secret!r}", secret not in log, "found in the log")
    finally:
        h2.stop()
        os.unlink(tokens.name)


if __name__ == "__main__":
    hh.main(body, timeout=90)
