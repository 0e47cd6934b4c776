"""Bad input over HTTP and WebSocket. After every step a well-behaved
client (Python websockets) must still receive a push."""
import asyncio
import json
import os
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402

MAX_MESSAGE = 4096
MAX_BODY = 2048


def http_req(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + body


def raw_utf8(port):
    ws = hh.RawWS(port)
    try:
        ws.send_frame(hh.OP_TEXT, b'{"op":"ping","id":1,"x":"\xc3\x28"}')
        return ws.read_until_close(hh.WAIT)
    finally:
        ws.close()


def raw_utf8_fragmented(port):
    """A 4-byte UTF-8 sequence split across two fragments is valid; a
    truncated one at the end of the message is not."""
    ws = hh.RawWS(port)
    try:
        smile = "😀".encode()
        ws.send_frame(hh.OP_TEXT, b'{"op":"ping","id":"' + smile[:2], fin=False)
        ws.send_frame(hh.OP_CONT, smile[2:] + b'"}', fin=True)
        op, payload = ws.recv_frame(hh.WAIT)
        split_ok = (op, json.loads(payload)) == (hh.OP_TEXT, {"op": "pong", "id": "😀"})
        ws.send_frame(hh.OP_TEXT, b'{"op":"ping","id":"' + smile[:2], fin=False)
        ws.send_frame(hh.OP_CONT, b'', fin=True)
        return split_ok, ws.read_until_close(hh.WAIT)
    finally:
        ws.close()


def raw_protocol(port, frame_kw):
    ws = hh.RawWS(port)
    try:
        ws.send_frame(**frame_kw)
        return ws.read_until_close(hh.WAIT)
    finally:
        ws.close()


def raw_ping(port):
    ws = hh.RawWS(port)
    try:
        ws.send_frame(hh.OP_PING, b"are-you-there")
        while True:
            op, payload = ws.recv_frame(hh.WAIT)
            if op == hh.OP_PONG:
                return payload
    finally:
        ws.close()


class _Collect:
    """Stands in for RawWS's socket to gather frames into one write."""
    def __init__(self):
        self.out = []

    def sendall(self, b):
        self.out.append(b)


def raw_pipelined(h, users):
    """Registrations for several users, a native ping and a WebSocket ping,
    all in one write. Reading pauses at each binding whose user is owned by
    another shard; what that read brought after it must still be handled,
    in order. Returns the native pong's id, the control pong's payload, and
    what a push to each user answered."""
    ws = hh.RawWS(h.port)
    try:
        real, ws.sock = ws.sock, _Collect()
        for u in users:
            ws.send_text(json.dumps({"token": u, "event": "e"}))
        ws.send_text('{"op":"ping","id":7}')
        ws.send_frame(hh.OP_PING, b"hb")
        collected, ws.sock = ws.sock, real
        real.sendall(b"".join(collected.out))
        native = control = None
        while native is None or control is None:
            op, payload = ws.recv_frame(hh.WAIT)
            if op == hh.OP_PONG:
                control = payload
            elif op == hh.OP_TEXT and json.loads(payload).get("op") == "pong":
                native = json.loads(payload).get("id")
        pushes = [h.push(u, "e", "hello")[2].decode() for u in users]
        return native, control, pushes
    finally:
        ws.close()


async def body(binary, c: hh.Checks):
    h = hh.Herald(binary, "--max-message", str(MAX_MESSAGE), "--max-body", str(MAX_BODY)).start()
    good = await hh.ws_connect(h.ws_url)
    await hh.register(good, "good", "e")
    ticks = {"sent": 0, "missed": []}

    async def still_good(step):
        ticks["sent"] += 1
        tag = f"tick-{ticks['sent']}"
        try:
            status, _, resp = await h.apush("good", "e", tag)
            got = await hh.recv(good, hh.WAIT)
            if status != 200 or got != tag:
                ticks["missed"].append(f"{step}: {status} {resp!r} got {got!r}")
        except Exception as exc:
            ticks["missed"].append(f"{step}: {type(exc).__name__} {exc}")

    def closed_with(result, code):
        got_code, reason, _, how = result
        return got_code == code, f"got code={got_code} reason={reason!r} ended by {how}"

    try:
        # ---------------- HTTP ----------------
        async with hh.section(c, "oversized body"):
            big = json.dumps({"userId": "good", "event": "e", "message": "x" * (MAX_BODY + 100)})
            status, _, _ = await h.ahttp("POST", "/push", big)
            c.eq("body over --max-body answers 413", status, 413)
            msg = {"userId": "nobody", "event": "e", "message": ""}
            msg["message"] = "y" * (MAX_BODY - len(json.dumps(msg)))
            exact = json.dumps(msg)
            status, _, resp = await h.ahttp("POST", "/push", exact)
            c.eq(f"body of exactly --max-body ({len(exact)} bytes) is accepted", status, 200)
            chunks = b"".join(b"%x\r\n%s\r\n" % (1000, b"z" * 1000) for _ in range(4)) + b"0\r\n\r\n"
            raw, _ = await asyncio.to_thread(hh.raw_http, h.port, http_req(
                "POST /push HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n", chunks))
            c.eq("chunked body over --max-body answers 413", hh.status_of(raw), 413)
            await still_good("oversized body")

        async with hh.section(c, "oversized headers"):
            raw, closed = await asyncio.to_thread(hh.raw_http, h.port, http_req(
                "GET /healthz HTTP/1.1\nHost: x\nX-Big: " + "a" * 9000 + "\n\n"))
            c.eq("header block over 8 KiB answers 431", hh.status_of(raw), 431)
            many = "".join(f"X-H{i}: {'b' * 40}\n" for i in range(250))
            raw, closed = await asyncio.to_thread(hh.raw_http, h.port, http_req(
                "GET /healthz HTTP/1.1\nHost: x\n" + many + "\n"))
            c.eq("many headers totalling over 8 KiB answer 431", hh.status_of(raw), 431)
            status, _, _ = await h.ahttp("GET", "/healthz", headers={"X-Medium": "c" * 6000})
            c.eq("a 6 KB header block is still served", status, 200)
            await still_good("oversized headers")

        async with hh.section(c, "request smuggling shapes"):
            payload = json.dumps({"userId": "good", "event": "e", "message": "smuggled"}).encode()
            chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
            raw, closed = await asyncio.to_thread(hh.raw_http, h.port, http_req(
                f"POST /push HTTP/1.1\nHost: x\nContent-Length: {len(chunked)}\nTransfer-Encoding: chunked\n\n",
                chunked + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
            c.eq("Transfer-Encoding chunked plus Content-Length answers 400", hh.status_of(raw), 400)
            c.check("... and the connection is closed with nothing else answered",
                    closed and raw.count(b"HTTP/1.1 ") == 1, f"closed={closed} reply={raw[:300]!r}")
            raw, closed = await asyncio.to_thread(hh.raw_http, h.port, http_req(
                "POST /push HTTP/1.1\nHost: x\nContent-Length: 5\nContent-Length: 7\n\n", b"abcdefg"))
            c.eq("two different Content-Length headers answer 400", hh.status_of(raw), 400)
            raw, closed = await asyncio.to_thread(hh.raw_http, h.port, b"HELLO THERE\r\n\r\n")
            c.check("a garbage request line answers 400 and closes",
                    hh.status_of(raw) == 400 and closed, f"closed={closed} reply={raw[:200]!r}")
            got = await hh.ws_ping(good)
            c.eq("the smuggled push was not delivered", got, [])
            await still_good("smuggling")

        async with hh.section(c, "paths and methods"):
            status, _, _ = await h.ahttp("GET", "/no/such/path")
            c.eq("unknown path answers 404", status, 404)
            status, _, _ = await h.ahttp("GET", "/ws")
            c.eq("GET /ws without upgrade answers 426", status, 426)
            status, _, _ = await h.ahttp("DELETE", "/push")
            c.eq("DELETE /push answers 405", status, 405)
            status, _, _ = await h.ahttp("POST", "/healthz", "")
            c.eq("POST /healthz answers 405", status, 405)
            status, _, resp = await h.ahttp("POST", "/push", json.dumps({"userId": "u", "event": "", "message": "m"}))
            c.eq("empty event answers 400 request data illegal", (status, resp.decode()), (400, "request data illegal"))
            status, _, resp = await h.ahttp("POST", "/push", json.dumps(["userId", "event", "message"]))
            c.eq("JSON array body answers 400", status, 400)
            status, _, resp = await h.ahttp("POST", "/push", json.dumps({"userId": 5, "event": "e", "message": "m"}))
            c.eq("non-string userId answers 400", status, 400)
            raw, _ = await asyncio.to_thread(hh.raw_http, h.port, http_req(
                "GET /elsewhere HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"))
            c.eq("WebSocket upgrade on an unknown path answers 404", hh.status_of(raw), 404)
            raw, _ = await asyncio.to_thread(hh.raw_http, h.port, http_req(
                "GET /ws HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 8\n\n"))
            st = hh.status_of(raw)
            c.check("upgrade with an unsupported WebSocket version is refused", st in (400, 426), f"status {st}")
            await still_good("paths")

        # ---------------- WebSocket ----------------
        async with hh.section(c, "oversized frame"):
            async with hh.ws_connect(h.ws_url, max_size=None) as ws:
                await ws.send("x" * MAX_MESSAGE)
                doc = await hh.recv_json(ws)
                c.check("a text frame of exactly --max-message is processed (bad_json)",
                        doc.get("code") == "bad_json", repr(doc))
                await ws.send("x" * (MAX_MESSAGE + 1))
                code, reason, _ = await hh.expect_closed(ws)
                c.eq("a text frame over --max-message closes with 1009", code, 1009)
            await still_good("oversized frame")

        async with hh.section(c, "invalid UTF-8"):
            ok, detail = closed_with(await asyncio.to_thread(raw_utf8, h.port), 1007)
            c.check("invalid UTF-8 in a text frame closes with 1007", ok, detail)
            split_ok, result = await asyncio.to_thread(raw_utf8_fragmented, h.port)
            c.check("UTF-8 split across fragments is reassembled", split_ok)
            ok, detail = closed_with(result, 1007)
            c.check("a message ending in a truncated UTF-8 sequence closes with 1007", ok, detail)
            await still_good("utf8")

        async with hh.section(c, "binary and bad JSON frames"):
            async with hh.ws_connect(h.ws_url) as ws:
                await ws.send(b"\x00\x01binary")
                doc = await hh.recv_json(ws)
                c.check("a binary frame answers error unsupported",
                        doc.get("op") == "error" and doc.get("code") == "unsupported", repr(doc))
                c.eq("connection usable after a binary frame", await hh.ws_ping(ws), [])
                for text in ["", "{", "null", "[1,2]", '{"op":5}', '"str"', "{\"op\":\"ping\",\"id\":{}}"]:
                    await ws.send(text)
                    doc = await hh.recv_json(ws)
                    c.check(f"frame {text!r} answers an error frame",
                            isinstance(doc, dict) and doc.get("op") == "error"
                            and doc.get("code") in ("bad_json", "bad_request", "unknown_op"), repr(doc))
                c.eq("connection usable after bad frames", await hh.ws_ping(ws), [])
                # The push API refuses user ids with control characters or over
                # 256 bytes; register must agree, or the connection is unreachable.
                for token in ["a\u0001b", "u" * 300]:
                    await ws.send(json.dumps({"token": token, "event": "e", "id": 1}))
                    doc = await hh.recv_json(ws)
                    status, _, resp = await h.apush(token, "e", "reach-me")
                    reachable = status == 200 and resp.decode() == "message sent to 1 clients"
                    if reachable:
                        await hh.recv(ws)
                    c.check(f"register and push agree on user id {token[:8]!r}... (refused or reachable)",
                            doc.get("op") == "error" or reachable,
                            f"register answered {doc!r}, push to that user answered {status} {resp!r}")
            await still_good("binary/json")

        async with hh.section(c, "WebSocket protocol violations"):
            pong = await asyncio.to_thread(raw_ping, h.port)
            c.eq("a client ping is answered with a pong echoing the payload", pong, b"are-you-there")
            for name, kw in [
                ("an unmasked client frame", dict(opcode=hh.OP_TEXT, payload=b'{"op":"ping"}', mask=False)),
                ("a reserved opcode", dict(opcode=0x3, payload=b"x")),
                ("a control frame over 125 bytes", dict(opcode=hh.OP_PING, payload=b"p" * 200)),
                ("a continuation frame with nothing to continue", dict(opcode=hh.OP_CONT, payload=b"x")),
            ]:
                code, reason, _, how = await asyncio.to_thread(raw_protocol, h.port, kw)
                c.check(f"{name} closes the connection (1002)", code == 1002 or (code is None and how != "timeout"),
                        f"code={code} reason={reason!r} ended by {how}")
            await still_good("protocol")

        async with hh.section(c, "frames pipelined in one write"):
            users = [f"pipe{i}" for i in range(8)]
            native, control, pushes = await asyncio.to_thread(raw_pipelined, h, users)
            c.eq("the native ping behind 8 registrations in one write is answered", native, 7)
            c.eq("so is the WebSocket ping behind it", control, b"hb")
            c.eq("and every user registered in that write is reachable", pushes,
                 ["message sent to 1 clients"] * len(users))
            await still_good("pipelined")

        async with hh.section(c, "well-behaved client"):
            c.eq(f"the well-behaved client received all {ticks['sent']} pushes throughout", ticks["missed"], [])
            c.eq("and is still open", good.open, True)
    finally:
        await good.close()
    h.stop()


if __name__ == "__main__":
    hh.main(body, timeout=120)
