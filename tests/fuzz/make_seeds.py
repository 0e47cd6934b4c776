#!/usr/bin/env python3
"""Writes the hand-made seed corpus of each fuzz target into corpus/<target>/.

Seeds are a few valid (and a few almost valid) inputs per target, so the
fuzzer starts from the formats instead of discovering them. Inputs the
fuzzer found that crashed a target are kept beside them as crash-* files
(not written by this script). Run it again after changing a seed here.
"""
import base64
import hashlib
import hmac
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# codec: client frames and API bodies (every input goes to every parser).
codec = {
    "register_compat": '{"token":"alice","event":"order"}',
    "auth": '{"op":"auth","token":"alice","id":1}',
    "subscribe": '{"op":"subscribe","topic":"room:lobby","id":"s1"}',
    "subscribe_since": '{"op":"subscribe","topic":"news","since":41,"epoch":"e1a2","id":7}',
    "unsubscribe": '{"op":"unsubscribe","topic":"room:lobby"}',
    "ping": '{"op":"ping","id":1e2}',
    "publish": '{"op":"publish","topic":"room:a","data":{"text":"hi \\u00e9\\ud83d\\ude00","n":[1,2.5,null,true]}}',
    "unknown_op": '{"op":"dance","id":[1]}',
    "bad_json": '{"op":"subscribe","topic":',
    "compat_push": '{"userId":"alice","event":"order","message":"shipped"}',
    "api_publish": '{"topic":"room:a","data":"hello"}',
    "user_push": '{"user":"alice","data":{"k":"v"}}',
    "client_publish": '{"token":"bob","topic":"room:b","data":[]}',
    "escapes": '{"token":"a\\u0000b\\n\\"","event":"\\/x"}',
}
for name, text in codec.items():
    write("codec", name, text)

# http_request: a seed byte (how the bytes are split), then one connection's bytes.
def http(name, text, seed=0):
    write("http_request", name, bytes([seed]) + text.replace("\n", "\r\n").encode())

http("ws_upgrade", "GET /ws?token=alice HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n")
http("poll_topic", "GET /poll?topic=room%3Aa&since=3&epoch=e1&timeout=5 HTTP/1.1\nHost: x\n\n", 7)
http("poll_user", "GET /poll?token=alice&event=order HTTP/1.0\n\n")
http("sse", "GET /sse?topic=news&token=bob HTTP/1.1\nHost: x\nLast-Event-ID: 12\n\n", 3)
http("compat_push", "POST /push HTTP/1.1\nHost: x\nAuthorization: Bearer k\nContent-Length: 55\n\n"
     '{"userId":"alice","event":"order","message":"shipped"}\n')
http("publish_chunked", "POST /api/v1/publish HTTP/1.1\nHost: x\nAuthorization: Bearer k\n"
     "Transfer-Encoding: chunked\n\n10\n{\"topic\":\"a\",\"da\n10\nta\":[1,2,3]}    \n0\n\n", 9)
http("pipelined", "GET /api/v1/history?topic=a&since=1&limit=10 HTTP/1.1\nHost: x\n\n"
     "GET /api/v1/presence?topic=room:a HTTP/1.1\nHost: x\n\n"
     "POST /api/v1/client-publish HTTP/1.1\nHost: x\nContent-Length: 40\nConnection: close\n\n"
     '{"token":"t","topic":"room:a","data":1}\n', 200)
http("body_over_limit", "POST /api/v1/publish HTTP/1.1\nHost: x\nAuthorization: Bearer k\nContent-Length: 70000\n\n{}")
http("header_over_limit", "GET /healthz HTTP/1.1\nHost: x\nX-Pad: " + "p" * 8200 + "\n\n", 11)
http("not_found", "DELETE /metrics/../x?%zz=%41+b HTTP/1.1\nHost: x\n\n")

# Client frames (masked unless told).
def frame(payload, opcode=0x81, mask=True):
    n = len(payload)
    head = bytes([opcode])
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    return head + (b"\x11\x22\x33\x44" if mask else b"") + payload


# ws_frames: a seed byte (low bit: long or short reads; top three bits: after
# which event ignore_data() is called, 0 never), then client frames.
def ws_close(code, reason=b""):
    return frame(struct.pack(">H", code) + reason, 0x88)

write("ws_frames", "text", b"\x00" + frame(b'{"op":"ping"}'))
write("ws_frames", "binary_len16", b"\x01" + frame(bytes(range(256)) * 2, 0x82))
write("ws_frames", "fragmented_with_ping", b"\x06" + frame(b"frag", 0x01) + frame(b"hb", 0x89) +
      frame(b"ment", 0x00) + frame(b"ed", 0x80))
write("ws_frames", "exactly_max_in_fragments", b"\x09" + frame(b"x" * 2048, 0x02) + frame(b"x" * 2048, 0x80))
write("ws_frames", "over_max", b"\x03" + frame(b"m" * 4097, 0x82))
write("ws_frames", "close", b"\x02" + frame(b"", 0x8a) + ws_close(1000, b"bye"))
write("ws_frames", "close_bad_utf8", b"\x04" + ws_close(1001, b"\xc3"))
write("ws_frames", "ignore_data_then_close", b"\x21" + frame(b"a") + frame(b"skipped", 0x01) + frame(b"", 0x89) +
      frame(b"too", 0x80) + ws_close(1001))

# proxy_header: a seed byte, then the connection's first bytes.
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
def proxy(cmd, family, block, after=b""):
    return SIG + bytes([0x20 | cmd, family]) + struct.pack(">H", len(block)) + block + after

tcp4 = bytes([10, 0, 0, 1, 10, 0, 0, 2]) + struct.pack(">HH", 51234, 8080)
tcp6 = bytes(range(16)) + bytes(16) + struct.pack(">HH", 443, 8443)
write("proxy_header", "tcp4", b"\x00" + proxy(1, 0x11, tcp4, b"GET / HTTP/1.1\r\n\r\n"))
write("proxy_header", "tcp6_tlv", b"\x09" + proxy(1, 0x21, tcp6 + b"\x04\x00\x03abc"))
write("proxy_header", "local", b"\x03" + proxy(0, 0x00, b""))
write("proxy_header", "unix", b"\x01" + proxy(1, 0x31, b"/a".ljust(108, b"\0") + b"/b".ljust(108, b"\0")))
write("proxy_header", "udp4", b"\x02" + proxy(1, 0x12, tcp4))
write("proxy_header", "bad_version", b"\x00" + SIG + b"\x11\x11\x00\x0c" + tcp4)
write("proxy_header", "v1_text", b"\x00PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")

# jwt: a mode byte (bit 0: "<header>\n<payload>" JSON that jwt_fuzz.cpp signs
# itself; bit 1: a subscription token), then the token or the two JSON texts.
JWT_SECRET = b"fuzz-secret-0123456789abcdef0123"  # jwt_fuzz.cpp's
NOW = 1800000000

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")

def hs256(header, payload):
    signing = b64(json.dumps(header).encode()) + b"." + b64(json.dumps(payload).encode())
    return signing + b"." + b64(hmac.new(JWT_SECRET, signing, hashlib.sha256).digest())

conn = {"sub": "alice", "exp": NOW + 60, "aud": "herald", "iss": "https://issuer", "channels": ["room:a", "$private"]}
sub = {"sub": "alice", "exp": NOW + 60, "aud": ["x", "herald"], "iss": "https://issuer", "channel": "$private",
       "iat": NOW, "nbf": NOW - 1.5}
write("jwt", "hs256_connection", b"\x00" + hs256({"alg": "HS256", "typ": "JWT"}, conn))
write("jwt", "hs256_subscription", b"\x02" + hs256({"alg": "HS256"}, sub))
write("jwt", "hs256_expired", b"\x00" + hs256({"alg": "HS256"}, dict(conn, exp=NOW - 1)))
write("jwt", "alg_none", b"\x00" + b64(b'{"alg":"none"}') + b"." + b64(json.dumps(conn).encode()) + b".")
write("jwt", "es256_bad_signature", b"\x00" + b64(b'{"alg":"ES256","kid":"k"}') + b"." +
      b64(json.dumps(conn).encode()) + b"." + b64(bytes(64)))
write("jwt", "rs256_without_key", b"\x00" + b64(b'{"alg":"RS256"}') + b"." + b64(b"{}") + b"." + b64(bytes(256)))
write("jwt", "claims_connection", b"\x01" + json.dumps({"alg": "HS256"}).encode() + b"\n" + json.dumps(conn).encode())
write("jwt", "claims_subscription", b"\x03" + json.dumps({"alg": "HS256", "typ": "JWT"}).encode() + b"\n" +
      json.dumps(sub).encode())
write("jwt", "claims_mistyped", b"\x01" + b'{"alg":"HS256"}\n{"sub":7,"exp":"soon","aud":null,"channels":"room:a"}')
