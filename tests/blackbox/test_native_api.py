"""Native API: subscribe/unsubscribe/auth frames, POST /api/v1/publish and
/api/v1/push, error frames, and 8 concurrent pushers to one connection."""
import asyncio
import http.client
import json
import os
import sys
import threading

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402

MAX_SUBS = 8
THREADS = 8
PER_THREAD = 200


# Topic and user messages carry a position (offset, epoch, ts) whose values
# this test does not know in advance; the history/recovery tests check them.
STAMP = ("offset", "epoch", "ts")


def unstamped(doc):
    if isinstance(doc, dict) and doc.get("op") in ("message", "subscribed"):
        return {k: v for k, v in doc.items() if k not in STAMP}
    return doc


async def recv_unstamped(ws):
    return unstamped(await hh.recv_json(ws))


def is_error(doc, code, id_=None):
    return (isinstance(doc, dict) and doc.get("op") == "error" and doc.get("code") == code
            and (id_ is None or doc.get("id") == id_))


async def publish(h, topic, data):
    status, _, body = await h.ahttp("POST", "/api/v1/publish", json.dumps({"topic": topic, "data": data}))
    doc = json.loads(body) if body else None
    if isinstance(doc, dict):
        doc.pop("offset", None)  # checked by the history tests
    return status, doc


async def user_push(h, user, data):
    status, _, body = await h.ahttp("POST", "/api/v1/push", json.dumps({"user": user, "data": data}))
    doc = json.loads(body) if body else None
    if isinstance(doc, dict):
        doc.pop("offset", None)
    return status, doc


def pusher(port, user, t, results):
    """One thread: PER_THREAD sequential pushes on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=hh.WAIT)
    ok = 0
    try:
        for i in range(PER_THREAD):
            # sizes cover 7-bit, 16-bit and 64-bit WebSocket length encodings
            n = 70000 if i % 50 == 7 else (i * 37 + t * 11) % 400
            data = {"t": t, "i": i, "pad": chr(ord("a") + t) * n}
            conn.request("POST", "/api/v1/push", json.dumps({"user": user, "data": data}))
            res = conn.getresponse()
            body = res.read()
            if res.status == 200 and json.loads(body).get("delivered") == 1:
                ok += 1
            else:
                results.setdefault("errors", []).append((t, i, res.status, body[:100]))
    except Exception as exc:  # reported by the caller
        results.setdefault("errors", []).append((t, "exception", repr(exc)))
    finally:
        conn.close()
        results[t] = ok


async def body(binary, c: hh.Checks):
    h = hh.Herald(binary, "--max-subscriptions", str(MAX_SUBS), "--max-body", "200000",
                  "--max-queue-messages", "100000", "--max-queue-bytes", "268435456").start()

    async with hh.section(c, "subscribe and publish"):
        async with hh.ws_connect(h.ws_url) as s1, hh.ws_connect(h.ws_url) as s2, hh.ws_connect(h.ws_url) as other:
            await s1.send(json.dumps({"op": "subscribe", "topic": "sports.news", "id": 1}))
            c.eq("subscribe answers subscribed", await recv_unstamped(s1),
                 {"op": "subscribed", "topic": "sports.news", "id": 1})
            await s2.send(json.dumps({"op": "subscribe", "topic": "sports.news", "id": "two"}))
            c.eq("subscribe with string id", await recv_unstamped(s2),
                 {"op": "subscribed", "topic": "sports.news", "id": "two"})
            await other.send(json.dumps({"op": "subscribe", "topic": "weather", "id": 3}))
            await recv_unstamped(other)
            data = {"score": [1, 2], "nested": {"x": None, "ok": True}, "s": "é\"😀"}
            status, resp = await publish(h, "sports.news", data)
            c.eq("publish to 2 subscribers answers delivered 2", (status, resp), (200, {"delivered": 2}))
            want = {"op": "message", "topic": "sports.news", "data": data}
            c.eq("subscriber 1 receives the message with data intact", await recv_unstamped(s1), want)
            c.eq("subscriber 2 receives the message", await recv_unstamped(s2), want)
            await publish(h, "weather", "sunny")
            c.eq("other topic's subscriber only sees its own topic", await recv_unstamped(other),
                 {"op": "message", "topic": "weather", "data": "sunny"})
            status, resp = await publish(h, "nobody.here", 1)
            c.eq("publish to a topic without subscribers delivers 0", (status, resp), (200, {"delivered": 0}))

            await s1.send(json.dumps({"op": "unsubscribe", "topic": "sports.news", "id": 4}))
            c.eq("unsubscribe answers unsubscribed", await recv_unstamped(s1),
                 {"op": "unsubscribed", "topic": "sports.news", "id": 4})
            status, resp = await publish(h, "sports.news", 2)
            c.eq("after unsubscribe publish delivers 1", resp, {"delivered": 1})
            await s1.send(json.dumps({"op": "unsubscribe", "topic": "sports.news", "id": 5}))
            c.check("unsubscribe again answers error not_subscribed",
                    is_error(await recv_unstamped(s1), "not_subscribed", 5))
            c.eq("unsubscribed connection got no message (next frame is the pong)", await hh.ws_ping(s1), [])

    async with hh.section(c, "auth and user push"):
        async with hh.ws_connect(h.ws_url) as u1, hh.ws_connect(h.ws_url) as u2:
            await u1.send(json.dumps({"op": "auth", "token": "zoe", "id": 2}))
            c.eq("auth answers authed", await recv_unstamped(u1), {"op": "authed", "user": "zoe", "id": 2})
            await u2.send(json.dumps({"op": "auth", "token": "zoe", "id": 3}))
            await recv_unstamped(u2)
            data = [1, "two", {"three": 3.5}]
            status, resp = await user_push(h, "zoe", data)
            c.eq("user push to 2 connections answers delivered 2", (status, resp), (200, {"delivered": 2}))
            want = {"op": "message", "user": "zoe", "data": data}
            c.eq("both connections of the user receive it",
                 [await recv_unstamped(u1), await recv_unstamped(u2)], [want, want])
            status, resp = await user_push(h, "nobody", 1)
            c.eq("user push to an unknown user delivers 0", (status, resp), (200, {"delivered": 0}))

    async with hh.section(c, "error frames"):
        async with hh.ws_connect(h.ws_url) as ws:
            await ws.send("{this is not json")
            c.check("invalid JSON answers error bad_json", is_error(await recv_unstamped(ws), "bad_json"))
            c.eq("connection still usable after bad_json", await hh.ws_ping(ws), [])
            await ws.send(json.dumps({"op": "frobnicate", "id": 9}))
            c.check("unknown op answers error unknown_op with the id", is_error(await recv_unstamped(ws), "unknown_op", 9))
            for bad in ["has space", "", "wild*", "x" * 201]:
                await ws.send(json.dumps({"op": "subscribe", "topic": bad, "id": 10}))
                doc = await recv_unstamped(ws)
                ok = is_error(doc, "bad_topic", 10) or (bad == "" and is_error(doc, "bad_request", 10))
                c.check(f"subscribe to invalid topic {bad[:12]!r} is refused (bad_topic)", ok, repr(doc))
            await ws.send(json.dumps({"op": "subscribe", "topic": "x" * 200, "id": 11}))
            c.eq("a 200-byte topic is accepted", (await recv_unstamped(ws)).get("op"), "subscribed")
            c.eq("connection still usable after errors", await hh.ws_ping(ws), [])

    async with hh.section(c, "max subscriptions"):
        async with hh.ws_connect(h.ws_url) as ws:
            replies = []
            for i in range(MAX_SUBS + 1):
                await ws.send(json.dumps({"op": "subscribe", "topic": f"t{i}", "id": i}))
                replies.append(await recv_unstamped(ws))
            c.check(f"{MAX_SUBS} subscriptions are accepted",
                    all(r.get("op") == "subscribed" for r in replies[:MAX_SUBS]), repr(replies[:MAX_SUBS]))
            c.check("one more answers too_many_subscriptions",
                    is_error(replies[MAX_SUBS], "too_many_subscriptions", MAX_SUBS), repr(replies[MAX_SUBS]))

    async with hh.section(c, "API request errors"):
        status, _, resp = await h.ahttp("POST", "/api/v1/publish", "{nope")
        c.check("publish with bad JSON answers 400 with an error body",
                status == 400 and "error" in json.loads(resp), f"{status} {resp!r}")
        status, _, resp = await h.ahttp("POST", "/api/v1/publish", json.dumps({"topic": "a b", "data": 1}))
        c.eq("publish to an invalid topic answers 400", status, 400)
        status, _, resp = await h.ahttp("POST", "/api/v1/publish", json.dumps({"topic": "ok"}))
        c.eq("publish without data answers 400", status, 400)
        status, _, resp = await h.ahttp("POST", "/api/v1/push", json.dumps({"data": 1}))
        c.eq("user push without user answers 400", status, 400)
        status, _, _ = await h.ahttp("GET", "/api/v1/publish")
        c.eq("GET /api/v1/publish answers 405", status, 405)

    async with hh.section(c, "8 concurrent pushers to one connection"):
        async with hh.ws_connect(h.ws_url, max_size=1 << 20, max_queue=1024) as ws:
            await ws.send(json.dumps({"op": "auth", "token": "sink", "id": 1}))
            await recv_unstamped(ws)
            results = {}
            threads = [threading.Thread(target=pusher, args=(h.port, "sink", t, results), daemon=True)
                       for t in range(THREADS)]
            for t in threads:
                t.start()
            total = THREADS * PER_THREAD
            got, bad = [], []
            try:
                while len(got) + len(bad) < total:
                    raw = await hh.recv(ws, 20)
                    try:
                        got.append(json.loads(raw))
                    except ValueError:
                        bad.append(raw[:80])
            except asyncio.TimeoutError:
                pass
            for t in threads:
                await asyncio.to_thread(t.join, 30)
            c.eq("every push request answered delivered 1",
                 sum(results.get(t, 0) for t in range(THREADS)), total)
            c.eq(f"all {total} messages arrived", len(got) + len(bad), total)
            c.eq("every frame is one complete JSON message", bad, [])
            intact = all(
                m.get("op") == "message" and m.get("user") == "sink"
                and m["data"]["pad"] == chr(ord("a") + m["data"]["t"]) * len(m["data"]["pad"])
                for m in got)
            c.check("every message's payload is intact", intact)
            seen = {(m["data"]["t"], m["data"]["i"]) for m in got}
            c.eq("no message lost or duplicated", (len(seen), len(got)), (total, total))
            in_order = all(
                [m["data"]["i"] for m in got if m["data"]["t"] == t] == list(range(PER_THREAD))
                for t in range(THREADS))
            c.check("each pusher's messages arrive in the order it sent them", in_order)
            c.eq("connection still usable afterwards", await hh.ws_ping(ws), [])

    h.stop()


if __name__ == "__main__":
    hh.main(body, timeout=120)
