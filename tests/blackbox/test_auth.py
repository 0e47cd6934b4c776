"""Authentication and channel permissions, driven with tokens nobody here
wrote: JWTs made by Debian's python3-jwt (PyJWT) with keys made by `openssl`
in this test. HS256, RS256, ES256; expired, not yet valid, bad signature,
alg none, algorithm confusion, malformed; a token expiring on a live
connection (error frame, then close 4001) and its renewal; ?token= on /ws
(401 before the upgrade); private "$" and user-limited "#user" topics,
--subscribe-allow, client publish; several --push-key values; the
herald_auth_failures_total metric; no token in the log.
/poll and /sse: the same permissions on topic=, the same 401 on a bad token."""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

import jwt  # Debian python3-jwt (PyJWT 2.6)
import websockets

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402

SECRET = "test-secret-0123456789abcdef-0123456789"
GRACE = 1  # --token-expiry-grace for node A


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_keys(d):
    """RSA 2048 and EC P-256 key pairs as PEM files; returns their paths."""
    paths = {n: os.path.join(d, n) for n in ("rsa.key", "rsa.pub", "ec.key", "ec.pub")}
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", paths["rsa.key"])
    openssl("pkey", "-in", paths["rsa.key"], "-pubout", "-out", paths["rsa.pub"])
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", paths["ec.key"])
    openssl("pkey", "-in", paths["ec.key"], "-pubout", "-out", paths["ec.pub"])
    return paths


def token(sub="alice", key=SECRET, alg="HS256", exp_in=300, **claims):
    body = {"sub": sub, "exp": int(time.time()) + exp_in, **claims}
    return jwt.encode(body, key, algorithm=alg)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_raw_key(key: bytes, claims: dict) -> str:
    """HS256 by hand: PyJWT refuses a PEM as an HMAC secret, an attacker would not."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def is_error(doc, code, id_=None):
    return (isinstance(doc, dict) and doc.get("op") == "error" and doc.get("code") == code
            and (id_ is None or doc.get("id") == id_))


async def ask(ws, frame):
    await ws.send(json.dumps(frame))
    return await hh.recv_json(ws)


async def auth(ws, tok, id_=1):
    return await ask(ws, {"op": "auth", "token": tok, "id": id_})


async def subscribe(ws, topic, id_, sub_token=None):
    frame = {"op": "subscribe", "topic": topic, "id": id_}
    if sub_token is not None:
        frame["token"] = sub_token
    return await ask(ws, frame)


async def upgrade_status(url):
    """101 when the upgrade is accepted, else the HTTP status it was refused with."""
    try:
        async with hh.ws_connect(url):
            return 101
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code


async def wait_for_op(ws, pred, timeout):
    """Frames until one satisfies `pred` (returned) or the connection closes (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            doc = json.loads(await hh.recv(ws, deadline - time.monotonic()))
        except (websockets.exceptions.ConnectionClosed, asyncio.TimeoutError):
            return None
        if pred(doc):
            return doc
    return None


async def check_algorithms(c, binary, keys):
    """Each algorithm verifies with its own key only."""
    rsa_priv, ec_priv = open(keys["rsa.key"]).read(), open(keys["ec.key"]).read()
    rsa_pub = open(keys["rsa.pub"], "rb").read()
    b = hh.Herald(binary, "--token-public-key", keys["rsa.pub"], threads=1).start()
    e = hh.Herald(binary, "--token-public-key", keys["ec.pub"], threads=1).start()
    async with hh.section(c, "RS256 and ES256"):
        async with hh.ws_connect(b.ws_url) as ws:
            c.eq("an RS256 token verified with the RSA public key authenticates its sub",
                 await auth(ws, token("rita", rsa_priv, "RS256")), {"op": "authed", "user": "rita", "id": 1})
            confused = hs256_with_raw_key(rsa_pub, {"sub": "mallory", "exp": int(time.time()) + 300})
            c.check("an HS256 token keyed with the public key's PEM is refused (algorithm confusion)",
                    is_error(await auth(ws, confused, 2), "unauthorized", 2))
            c.check("an ES256 token where only an RSA key is configured is refused",
                    is_error(await auth(ws, token("eve", ec_priv, "ES256"), 3), "unauthorized", 3))
            c.check("an HS256 token where only a public key is configured is refused",
                    is_error(await auth(ws, token("hal"), 4), "unauthorized", 4))
            c.check("a plain token is not a user id once JWTs are configured",
                    is_error(await auth(ws, "alice", 5), "unauthorized", 5))
        async with hh.ws_connect(e.ws_url) as ws:
            c.eq("an ES256 token verified with the P-256 public key authenticates its sub",
                 await auth(ws, token("erin", ec_priv, "ES256")), {"op": "authed", "user": "erin", "id": 1})
        failures = hh.parse_metrics(b.metrics())
        c.check("algorithm refusals are counted as bad_algorithm",
                failures.get('herald_auth_failures_total{reason="bad_algorithm"}', 0) >= 3, str(failures)[:300])
    b.stop()
    e.stop()


async def check_refusals(c, h):
    async with hh.section(c, "tokens refused"):
        async with hh.ws_connect(h.ws_url) as ws:
            c.eq("an HS256 token with the right secret authenticates its sub",
                 await auth(ws, token("alice")), {"op": "authed", "user": "alice", "id": 1})
            cases = [
                ("an expired token", token(exp_in=-30), "expired"),
                ("a token with nbf in the future", token(nbf=int(time.time()) + 3600), "valid yet"),
                ("a token signed with another secret (bad signature)", token(key="another-secret-of-some-length-xx"),
                 "signature"),
                ("an alg none token", jwt.encode({"sub": "alice", "exp": int(time.time()) + 300}, None,
                                                 algorithm="none"), "algorithm"),
                ("a malformed token", "eyJhbGciOiJIUzI1NiJ9.not-json.sig", "malformed"),
                ("a token without exp", jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256"), "claims"),
            ]
            for i, (name, tok, words) in enumerate(cases, start=10):
                doc = await auth(ws, tok, i)
                c.check(f"{name} is refused: unauthorized", is_error(doc, "unauthorized", i), repr(doc))
                c.check(f"... and the reason says why ({words})", words in doc.get("reason", ""), repr(doc))
            c.eq("the connection stays usable after refusals", await hh.ws_ping(ws), [])
            doc = await ask(ws, {"token": token(exp_in=-30), "event": "order", "id": 30})
            c.check("a compat registration with an expired JWT is refused: unauthorized",
                    is_error(doc, "unauthorized", 30), repr(doc))

        c.eq("/ws?token= with a bad token is refused with 401 before the upgrade",
             await upgrade_status(h.ws_url + "?token=" + token(key="wrong-secret-wrong-secret-wrong-sec")), 401)
        c.eq("/ws?token= with an expired token is refused with 401",
             await upgrade_status(h.ws_url + "?token=" + token(exp_in=-30)), 401)
        async with hh.ws_connect(h.ws_url + "?token=" + token("uma")) as ws:
            c.eq("/ws?token= with a good token authenticates at once", await hh.recv_json(ws),
                 {"op": "authed", "user": "uma"})
            status, _, body = await h.ahttp("POST", "/api/v1/push", json.dumps({"user": "uma", "data": 1}),
                                            {"Authorization": "Bearer old-key"})
            doc = await hh.recv_json(ws)
            c.eq("... and user pushes reach it", (status, doc.get("user"), doc.get("data")), (200, "uma", 1))

        async with hh.ws_connect(h.ws_url) as ws:
            await ws.send(json.dumps({"token": token("carl"), "event": "order"}))
            await hh.ws_ping(ws)
            status, _, body = await h.apush("carl", "order", "shipped", {"Authorization": "Bearer new-key"})
            c.eq("a compat registration with a JWT binds its sub: /push reaches it",
                 (status, body, await hh.recv(ws)), (200, b"message sent to 1 clients", "shipped"))

        status, _, _ = await h.ahttp("GET", "/poll?timeout=1&token=" + token(key="wrong-secret-wrong-secret-wrong-sec"))
        c.eq("/poll?token= with a bad JWT answers 401", status, 401)
        status, _, body = await h.ahttp("GET", "/poll?timeout=1&token=" + token("pat"))
        c.eq("/poll?token= with a good JWT waits for that user (empty after the timeout)",
             (status, json.loads(body).get("user")), (200, "pat"))

        status, _, body = await h.ahttp("POST", "/api/v1/client-publish",
                                        json.dumps({"token": token(exp_in=-30), "topic": "room:1", "data": 1}))
        c.eq("client-publish with an expired JWT answers 401 unauthorized",
             (status, json.loads(body).get("error")), (401, "unauthorized"))
        status, _, body = await h.ahttp("POST", "/api/v1/client-publish",
                                        json.dumps({"token": token("alice"), "topic": "room:1", "data": 1}))
        c.eq("client-publish with a good JWT is delivered", status, 200)
        status, _, body = await h.ahttp("POST", "/api/v1/client-publish",
                                        json.dumps({"token": token("alice"), "topic": "$ops", "data": 1}))
        c.eq("client-publish to a private topic without a grant answers 403", status, 403)


async def sse_until_closed(port, path, timeout):
    """The data lines of an SSE stream, read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(4096), timeout):
            raw += chunk
    except asyncio.TimeoutError:
        pass
    writer.close()
    return [line[6:] for line in raw.decode(errors="replace").split("\n") if line.startswith("data: ")]


async def check_expiry(c, h):
    async with hh.section(c, "expiry on a live connection"):
        async with hh.ws_connect(h.ws_url) as ws:
            await auth(ws, token("tess", exp_in=2))
            doc = await wait_for_op(ws, lambda d: d.get("op") == "error", 30)
            c.check("a connection whose token expires gets an error frame token_expired",
                    is_error(doc, "token_expired"), repr(doc))
            code, reason, _ = await hh.expect_closed(ws, 30)
            c.eq("... and is closed with 4001 after the grace", (code, reason), (4001, "token expired"))

        async with hh.ws_connect(h.ws_url) as ws:
            exp = int(time.time()) + 2
            await auth(ws, token("ron", exp_in=2))
            doc = await wait_for_op(ws, lambda d: d.get("op") == "error", 30)
            c.check("a renewing connection is told too", is_error(doc, "token_expired"), repr(doc))
            c.eq("it re-authenticates with a fresh token", await auth(ws, token("ron"), 7),
                 {"op": "authed", "user": "ron", "id": 7})
            # Well past the moment it would have closed (exp + grace + a sweep):
            # still open. A slow machine can only make this pass, not fail.
            await asyncio.sleep(max(0.0, exp + GRACE + 3 - time.time()))
            try:
                extra = await hh.ws_ping(ws)
                c.eq("... and stays open past the grace", extra, [])
            except websockets.exceptions.ConnectionClosed as e:
                c.check("... and stays open past the grace", False, f"closed {e.code} {e.reason}")
    async with hh.section(c, "expiry of a subscription token"):
        async with hh.ws_connect(h.ws_url) as ws, hh.ws_connect(h.ws_url) as renewer:
            await auth(ws, token("sam"))
            await auth(renewer, token("rae"))
            c.eq("a private topic subscribed with a 2 s subscription token",
                 (await subscribe(ws, "$brief", 2, token("sam", channel="$brief", exp_in=2))).get("op"), "subscribed")
            exp = int(time.time()) + 2
            c.eq("... and one that will renew its token",
                 (await subscribe(renewer, "$brief", 2, token("rae", channel="$brief", exp_in=2))).get("op"),
                 "subscribed")
            doc = await wait_for_op(ws, lambda d: d.get("op") == "error", 30)
            c.check("when the token expires the subscriber gets error token_expired naming the topic",
                    is_error(doc, "token_expired") and doc.get("topic") == "$brief", repr(doc))
            doc = await wait_for_op(renewer, lambda d: d.get("op") == "error", 30)
            c.check("... so does the one that will renew", is_error(doc, "token_expired"), repr(doc))
            doc = await subscribe(renewer, "$brief", 3, token("rae", channel="$brief"))
            c.eq("subscribing again with a fresh subscription token is accepted", doc.get("op"), "subscribed")
            doc = await wait_for_op(ws, lambda d: d.get("op") == "unsubscribed", 30)
            c.eq("without a fresh token the subscription ends after the grace",
                 doc, {"op": "unsubscribed", "topic": "$brief"})
            await asyncio.sleep(max(0.0, exp + GRACE + 2 - time.time()))  # past the renewer's own end too
            status, _, _ = await h.ahttp("POST", "/api/v1/publish", json.dumps({"topic": "$brief", "data": "later"}),
                                         headers={"Authorization": "Bearer new-key"})
            c.eq("a publish after that is accepted", status, 200)
            doc = await wait_for_op(renewer, lambda d: d.get("op") == "message", 10)
            c.eq("... the renewed subscription receives it", (doc or {}).get("data"), "later")
            got = await wait_for_op(ws, lambda d: d.get("op") == "message", 2)
            c.eq("... the ended one does not", got, None)
            c.eq("... and the ended connection itself stays open", await hh.ws_ping(ws), [])

        # timeout=60: only the token's exp (2 s) can answer it in time.
        started = time.time()
        status, _, text = await h.ahttp("GET", f"/poll?topic=room:exp&timeout=60&token={token('pam', exp_in=2)}",
                                        timeout=50)
        c.eq("a long poll whose token expires is answered then, empty", (status, b'"messages":[]' in text), (200, True))
        c.check("... before its own timeout", time.time() - started < 55, f"{time.time() - started:.1f} s")
        events = await sse_until_closed(h.port, f"/sse?topic=room:exp&token={token('pam', exp_in=2)}", 50)
        c.check("an SSE stream whose token expires ends with a token_expired event",
                events and '"code":"token_expired"' in events[-1], repr(events[-3:]))

        samples = hh.parse_metrics(h.metrics())
        c.check("the close is counted as token_expired",
                samples.get('herald_connections_closed_total{reason="token_expired"}', 0) >= 1)


async def check_channels(c, h):
    async with hh.section(c, "private and user-limited topics"):
        async with hh.ws_connect(h.ws_url) as alice, hh.ws_connect(h.ws_url) as bob:
            await auth(alice, token("alice"))
            await auth(bob, token("bob"))
            c.check("a topic outside --subscribe-allow is forbidden",
                    is_error(await subscribe(alice, "admin", 1), "forbidden", 1))
            c.eq("a topic inside --subscribe-allow is subscribed", (await subscribe(alice, "room:1", 2)).get("op"),
                 "subscribed")
            c.check("a private topic without a grant is forbidden",
                    is_error(await subscribe(alice, "$ops", 3), "forbidden", 3))
            sub = token("alice", channel="$ops")
            c.eq("a private topic with a subscription token for this user is subscribed",
                 (await subscribe(alice, "$ops", 4, sub)).get("op"), "subscribed")
            doc = await subscribe(bob, "$ops", 5, sub)
            c.check("someone else's subscription token is refused: unauthorized", is_error(doc, "unauthorized", 5),
                    repr(doc))
            doc = await subscribe(bob, "$ops", 6, token("bob", channel="$dev"))
            c.check("a subscription token for another topic is refused", is_error(doc, "unauthorized", 6), repr(doc))
            doc = await subscribe(bob, "$ops", 7, token("bob", channel="$ops", exp_in=-30))
            c.check("an expired subscription token is refused", is_error(doc, "unauthorized", 7), repr(doc))
            c.eq("a user-limited topic is subscribed by its user",
                 (await subscribe(alice, "notes#alice", 8)).get("op"), "subscribed")
            c.check("a user-limited topic is forbidden to another user",
                    is_error(await subscribe(bob, "notes#alice", 9), "forbidden", 9))
            doc = await ask(bob, {"op": "publish", "topic": "$ops", "data": "x", "id": 10})
            c.check("publishing to a topic one may not subscribe to is forbidden", is_error(doc, "forbidden", 10),
                    repr(doc))
            first = await ask(alice, {"op": "publish", "topic": "$ops", "data": "hi", "id": 11})
            both = sorted(d.get("op") for d in (first, await hh.recv_json(alice)))
            c.eq("... and allowed to a subscriber of it (published, and the message itself)", both,
                 ["message", "published"])

        async with hh.ws_connect(h.ws_url) as ws:
            doc = await auth(ws, token("gus", channels=["$ops", "room:9"]))
            got = [doc, await hh.recv_json(ws), await hh.recv_json(ws)]
            subscribed = sorted(d.get("topic") for d in got if d.get("op") == "subscribed")
            c.eq("a connection token's channels are subscribed server-side after authed",
                 (got[0].get("op"), subscribed), ("authed", ["$ops", "room:9"]))
            status, _, _ = await h.ahttp("POST", "/api/v1/publish", json.dumps({"topic": "$ops", "data": 5}),
                                         {"Authorization": "Bearer old-key"})
            doc = await hh.recv_json(ws)
            c.eq("... and their messages arrive", (status, doc.get("topic"), doc.get("data")), (200, "$ops", 5))
            await ask(ws, {"op": "unsubscribe", "topic": "$ops", "id": 2})
            c.eq("a channel of the token may be subscribed again without a subscription token",
                 (await subscribe(ws, "$ops", 3)).get("op"), "subscribed")

        status, _, _ = await h.ahttp("GET", "/api/v1/history?topic=%24ops")
        c.eq("the history of a private topic is refused to an anonymous reader (403)", status, 403)
        status, _, _ = await h.ahttp("GET", "/api/v1/history?topic=%24ops&token=" + token("gus", channels=["$ops"]))
        c.eq("... and served to a token granting it", status, 200)
        status, _, _ = await h.ahttp("GET", "/api/v1/history?topic=%24ops", headers={"Authorization": "Bearer new-key"})
        c.eq("... and to a backend with a push key", status, 200)
        status, _, _ = await h.ahttp("GET", "/api/v1/history?topic=notes%23alice&token=" + token("bob"))
        c.eq("the history of a user-limited topic is refused to another user (403)", status, 403)

        async with hh.ws_connect(h.ws_url) as ws:
            c.check("an anonymous connection may not subscribe to a user-limited topic",
                    is_error(await subscribe(ws, "notes#alice", 1), "forbidden", 1))
            doc = await subscribe(ws, "a$b", 2)
            c.check("'$' inside a name is still a bad topic", is_error(doc, "bad_topic", 2), repr(doc))


async def check_http_subscribers(c, h):
    """/poll and /sse admit subscribers by the WebSocket's rules."""
    async with hh.section(c, "/poll and /sse permissions"):
        q = urllib.parse.quote
        status, _, _ = await h.ahttp("GET", "/poll?timeout=1&topic=" + q("$ops"))
        c.eq("/poll on a private topic without a grant answers 403", status, 403)
        status, _, _ = await h.ahttp("GET", "/poll?timeout=1&topic=admin")
        c.eq("/poll on a topic outside --subscribe-allow answers 403", status, 403)
        status, _, _ = await h.ahttp("GET", f"/poll?timeout=1&topic={q('$ops')}&token={token('gus', channels=['$ops'])}")
        c.eq("/poll on a private topic granted by the token's channels answers 200", status, 200)
        status, _, _ = await h.ahttp("GET", f"/poll?timeout=1&topic={q('$ops')}&sub_token={token('', channel='$ops')}")
        c.eq("/poll on a private topic with a subscription token answers 200", status, 200)
        status, _, _ = await h.ahttp("GET", f"/poll?timeout=1&topic={q('notes#alice')}&token={token('bob')}")
        c.eq("/poll on another user's topic answers 403", status, 403)
        status, _, _ = await h.ahttp("GET", f"/sse?topic={q('notes#alice')}&token={token('bob')}")
        c.eq("/sse on another user's topic answers 403", status, 403)
        status, _, _ = await h.ahttp("GET", f"/sse?topic=room:1&token={token(exp_in=-30)}")
        c.eq("/sse with an expired token answers 401", status, 401)


async def check_push_keys(c, h):
    async with hh.section(c, "push key rotation"):
        body = json.dumps({"userId": "nobody", "event": "e", "message": "m"})
        for key, want in (("old-key", 200), ("new-key", 200), ("old-keyX", 401), ("new-ke", 401), ("", 401)):
            status, _, _ = await h.ahttp("POST", "/push", body, {"Authorization": f"Bearer {key}"})
            c.eq(f"/push with Bearer {key or '(empty)'!r} answers {want}", status, want)
        status, headers, _ = await h.ahttp("POST", "/push", body)
        c.eq("/push without a key answers 401 with WWW-Authenticate",
             (status, headers.get("www-authenticate")), (401, "Bearer"))


async def check_open_node(c, binary):
    async with hh.section(c, "open node"):
        o = hh.Herald(binary, threads=1).start()
        async with hh.ws_connect(o.ws_url) as ws:
            c.eq("without tokens file or keys a token is its own user id", await auth(ws, "anyone"),
                 {"op": "authed", "user": "anyone", "id": 1})
        c.check("... and the log warns that the node is open", "this node is open" in o.log_tail(20000),
                o.log_tail(600))
        o.stop()


async def body(binary, c: hh.Checks):
    with tempfile.TemporaryDirectory(prefix="herald-auth-") as d:
        keys = make_keys(d)
        h = hh.Herald(binary, "--token-hmac-secret", SECRET, "--subscribe-allow", "room:*",
                      "--subscribe-allow", "notes#*", "--client-publish", "*", "--push-key", "old-key",
                      "--push-key", "new-key", "--token-expiry-grace", str(GRACE), "--log-level", "debug",
                      threads=2).start()
        await check_refusals(c, h)
        await check_channels(c, h)
        await check_push_keys(c, h)
        await check_http_subscribers(c, h)
        await check_expiry(c, h)
        samples = hh.parse_metrics(h.metrics())
        for reason in ("expired", "bad_signature", "bad_algorithm", "malformed", "not_yet_valid", "wrong_user"):
            c.check(f"herald_auth_failures_total counts {reason}",
                    samples.get(f'herald_auth_failures_total{{reason="{reason}"}}', 0) >= 1)
        log = h.log_tail(1 << 20)
        c.check("no token appears in the log", SECRET not in log and ".eyJ" not in log and "eyJ" not in log,
                log[-400:])
        await check_algorithms(c, binary, keys)
        await check_open_node(c, binary)


if __name__ == "__main__":
    hh.main(body)
