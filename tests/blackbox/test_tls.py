"""TLS on the listen port (--tls-cert/--tls-key), black-box: wss:// and
https:// for every transport (WebSocket, /push, long-poll, SSE), plain HTTP,
garbage, silence and TLS 1.1 refused without disturbing anyone, SIGHUP
certificate reloads (good and bad), and PROXY v2 read raw before the
handshake. Certificates are made here with the `openssl` command; clients
are Python's `ssl` module and `websockets`."""
import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402
from test_limits import PROXY_LOCAL, Bystander, proxy_v2  # noqa: E402

# The clients trust anything: what they check is which certificate they got.
CLIENT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CLIENT.check_hostname = False
CLIENT.verify_mode = ssl.CERT_NONE

CERTS = tempfile.mkdtemp(prefix="herald-tls-bb-")


def make_cert(name, serial):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", f"/CN={name}", "-set_serial", str(serial),
                    "-keyout", path(f"{name}.key"), "-out", path(f"{name}.crt")],
                   check=True, capture_output=True, timeout=30)


def path(name):
    return os.path.join(CERTS, name)


def fingerprint_of_file(name):
    with open(path(name)) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def tls_socket(port, first_bytes=b"", ctx=CLIENT, timeout=hh.WAIT):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if first_bytes:
            raw.sendall(first_bytes)
        return ctx.wrap_socket(raw, server_hostname="herald.test")
    except BaseException:
        raw.close()
        raise


def served_fingerprint(port, first_bytes=b""):
    with tls_socket(port, first_bytes) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def read_to_end(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ssl.SSLEOFError:  # TCP end without close_notify
            return data, False
        if not chunk:
            return data, True
        data += chunk


def https(port, method, target, body=b"", first_bytes=b"", timeout=hh.WAIT):
    """One request over a fresh TLS connection: (status, body, close_notify seen)."""
    if isinstance(body, str):
        body = body.encode()
    with tls_socket(port, first_bytes, timeout=timeout) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: herald.test\r\nConnection: close\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        data, clean = read_to_end(s)
    head, _, rest = data.partition(b"\r\n\r\n")
    return hh.status_of(head), rest, clean


class TlsHerald(hh.Herald):
    """A node serving TLS; its health check (and every helper request) is https."""

    def __init__(self, binary, *extra, proxy=False, **kw):
        args = ["--tls-cert", path("live.crt"), "--tls-key", path("live.key"), *extra]
        super().__init__(binary, *(args + (["--proxy-protocol"] if proxy else [])), **kw)
        self.first = PROXY_LOCAL if proxy else b""

    def wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if https(self.port, "GET", "/healthz", first_bytes=self.first, timeout=1)[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    @property
    def ws_url(self):
        return f"wss://127.0.0.1:{self.port}/ws"

    def http(self, method, target, body=None, headers=None, timeout=hh.WAIT):
        status, data, _ = https(self.port, method, target, body or b"", self.first, timeout)
        return status, {}, data

    async def ahttp(self, method, target, body=None, headers=None, timeout=hh.WAIT):
        return await asyncio.to_thread(self.http, method, target, body, headers, timeout)

    def failures(self):
        samples = hh.parse_metrics(self.metrics())
        return {r: samples.get(f'herald_tls_handshake_failures_total{{reason="{r}"}}', -1)
                for r in ("http_request", "version", "protocol", "closed", "timeout")}

    def log_count(self, text):
        return self.log_tail(1 << 20).count(text)

    def wait_log(self, text, count):
        deadline = time.monotonic() + hh.WAIT
        while time.monotonic() < deadline and self.log_count(text) < count:
            time.sleep(0.05)
        return self.log_count(text) >= count


# ---------------------------------------------------------------- sections
async def every_transport(h, c):
    ws = await hh.ws_connect(h.ws_url, ssl=CLIENT)
    await hh.register(ws, "alice", "order")
    status, _, body = await h.apush("alice", "order", "shipped")
    c.eq("POST /push over https reaches the wss client", (status, body), (200, b"message sent to 1 clients"))
    c.eq("... which receives the message", await hh.recv(ws), "shipped")
    await ws.close()
    _, _, clean = https(h.port, "GET", "/healthz")
    c.check("herald ends an https answer with close_notify", clean)

    poll = asyncio.create_task(asyncio.to_thread(https, h.port, "GET", "/poll?token=bob&event=e&timeout=10"))
    await wait_metric(h, 'herald_held_requests{kind="poll"}', 1)
    await h.apush("bob", "e", "polled")
    status, body, _ = await asyncio.wait_for(poll, hh.WAIT)
    c.check("a long-poll over https is answered with the push", status == 200 and b"polled" in body, repr(body[:200]))

    with tls_socket(h.port) as s:
        s.sendall(b"GET /sse?topic=news HTTP/1.1\r\nHost: herald.test\r\n\r\n")
        first = await asyncio.to_thread(read_until, s, b'"op":"subscribed"')
        c.check("an SSE stream opens over https", first.startswith(b"HTTP/1.1 200"), repr(first[:200]))
        await h.ahttp("POST", "/api/v1/publish", json.dumps({"topic": "news", "data": "extra"}))
        event = await asyncio.to_thread(read_until, s, b"extra")
        c.check("... and receives a publication", b"extra" in event, repr(event[-200:]))


def read_until(s, marker):
    data = b""
    while marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


async def wait_metric(h, name, value):
    deadline = time.monotonic() + hh.WAIT
    while time.monotonic() < deadline:
        if hh.parse_metrics(await asyncio.to_thread(h.metrics)).get(name) == value:
            return True
        await asyncio.sleep(0.05)
    return False


async def refusals(h, c):
    by = await Bystander(h, "by-refusals").open(ssl=CLIENT)
    before = h.failures()
    raw, closed = await asyncio.to_thread(hh.raw_http, h.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    c.check("plain HTTP to the TLS port gets no HTTP answer and is closed", hh.status_of(raw) == 0 and closed,
            repr(raw[:100]))
    raw, closed = await asyncio.to_thread(hh.raw_http, h.port, bytes(range(256)) * 4)
    c.check("garbage to the TLS port is closed", closed)
    await by.still_receives("after plain HTTP and garbage")
    silent = socket.create_connection(("127.0.0.1", h.port))
    silent.settimeout(hh.WAIT)
    try:
        c.eq("a client silent past --handshake-timeout is dropped", silent.recv(1), b"")
    finally:
        silent.close()
    await tls11(h, c, before)
    after = h.failures()
    c.check("plain HTTP is counted as reason http_request", after["http_request"] == before["http_request"] + 1,
            f"{before} -> {after}")
    c.check("garbage is counted as reason protocol", after["protocol"] >= before["protocol"] + 1, f"{after}")
    c.check("the silent client is counted as reason timeout", after["timeout"] == before["timeout"] + 1, f"{after}")
    await by.still_receives("after the refusals")
    c.eq("a bystander received every push throughout (refusals)", by.missed, [])
    await by.ws.close()


async def tls11(h, c, before):
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    try:
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError) as e:
        print(f"SKIP a TLS 1.1 client is refused -- this OpenSSL will not set it up: {e}")
        return
    try:
        await asyncio.to_thread(lambda: tls_socket(h.port, ctx=old).close())
        c.check("a TLS 1.1 client is refused", False, "the handshake succeeded")
    except ssl.SSLError as e:
        if "NO_PROTOCOLS_AVAILABLE" in str(e) or "no protocols available" in str(e):
            print(f"SKIP a TLS 1.1 client is refused -- the client's OpenSSL refuses to offer 1.1: {e}")
            return
        c.check("a TLS 1.1 client is refused", h.failures()["version"] == before["version"] + 1, str(e))


async def reloads(h, c):
    c.eq("the node serves the first certificate", served_fingerprint(h.port), fingerprint_of_file("a.crt"))
    by = await Bystander(h, "by-reload").open(ssl=CLIENT)
    shutil.copy(path("b.crt"), path("live.crt"))
    shutil.copy(path("b.key"), path("live.key"))
    h.proc.send_signal(signal.SIGHUP)
    c.check("SIGHUP reloads the certificate (logged)", h.wait_log("TLS certificate reloaded", 1), h.log_tail()[-500:])
    c.eq("a new connection sees the new certificate", served_fingerprint(h.port), fingerprint_of_file("b.crt"))
    await by.still_receives("after the reload")
    c.eq("a wss connection opened before the reload keeps receiving", by.missed, [])
    with open(path("live.crt"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    h.proc.send_signal(signal.SIGHUP)
    c.check("a reload from a bad file fails (logged)", h.wait_log("TLS reload failed", 1), h.log_tail()[-500:])
    c.eq("... and the previous certificate is still served", served_fingerprint(h.port), fingerprint_of_file("b.crt"))
    await by.still_receives("after the failed reload")
    c.eq("... and the open connection still receives", by.missed, [])
    c.check("... and herald is still running", h.proc.poll() is None)
    await by.ws.close()


async def behind_proxy(binary, c):
    h = TlsHerald(binary, proxy=True).start()
    raw = socket.create_connection(("127.0.0.1", h.port))
    raw.sendall(proxy_v2("10.9.8.7", dport=h.port))
    raw.setblocking(False)
    ws = await hh.ws_connect(h.ws_url, sock=raw, ssl=CLIENT, server_hostname="herald.test")
    await hh.register(ws, "dave", "e")
    status, _, body = await h.apush("dave", "e", "via-proxy")
    c.eq("PROXY v2 then TLS: wss works (push answer)", (status, body), (200, b"message sent to 1 clients"))
    c.eq("... and the message arrives", await hh.recv(ws), "via-proxy")
    try:
        served_fingerprint(h.port)
        c.check("TLS without the PROXY header is refused when --proxy-protocol is on", False, "handshake succeeded")
    except (ssl.SSLError, OSError):
        c.check("TLS without the PROXY header is refused when --proxy-protocol is on", True)
    await ws.close()
    h.stop()


def start_fails(binary, c, name, *args):
    out = subprocess.run([binary, "--listen", f"127.0.0.1:{hh.free_port()}", *args], capture_output=True, text=True,
                         timeout=hh.WAIT)
    c.check(f"{name}: herald exits non-zero with a reason", out.returncode != 0 and "tls" in out.stderr.lower(),
            f"rc={out.returncode} {out.stderr[-300:]}")


def bad_starts(binary, c):
    start_fails(binary, c, "--tls-cert without --tls-key", "--tls-cert", path("a.crt"))
    start_fails(binary, c, "a key that does not match", "--tls-cert", path("a.crt"), "--tls-key", path("b.key"))
    with open(path("junk.crt"), "w") as f:
        f.write("junk\n")
    start_fails(binary, c, "a certificate file that is not PEM", "--tls-cert", path("junk.crt"), "--tls-key",
                path("a.key"))


async def body(binary, c: hh.Checks):
    try:
        make_cert("a", 0xA1)
        make_cert("b", 0xB2)
        shutil.copy(path("a.crt"), path("live.crt"))
        shutil.copy(path("a.key"), path("live.key"))
        with hh.section(c, "bad start-up"):
            bad_starts(binary, c)
        h = TlsHerald(binary, "--handshake-timeout", "1").start()
        for name, section in [("every transport", every_transport), ("refusals", refusals), ("reloads", reloads)]:
            async with hh.section(c, name):
                await section(h, c)
        h.stop()
        shutil.copy(path("a.crt"), path("live.crt"))  # the reloads left a broken one
        shutil.copy(path("a.key"), path("live.key"))
        async with hh.section(c, "PROXY v2"):
            await behind_proxy(binary, c)
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)


if __name__ == "__main__":
    hh.main(body, timeout=240)
