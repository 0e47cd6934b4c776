"""Shared helpers for Herald's black-box tests.

Every test_*.py in this folder is run by CTest as
    /usr/bin/python3 tests/blackbox/test_X.py <path-to-herald-binary>
and drives the *built* binary with clients nobody here wrote: Debian's Python
`websockets` (10.4), the standard library's http.client/socket, and
Prometheus's promtool.  This module provides:

  * Herald            start/stop one herald process on a free loopback port
  * http(), ahttp()   one HTTP request (blocking / from asyncio via a thread)
  * raw_http()        send hand-made bytes, read the reply until close/timeout
  * RawWS             a minimal hand-written WebSocket client over a plain
                      socket, for things a real client refuses to do
                      (invalid UTF-8, never reading, never answering pings)
  * ws_connect(), recv_json(), ws_ping()   helpers around `websockets`
  * Checks + main()   one line per check, the "N passed, M failed" summary,
                      exit code, a global watchdog and guaranteed cleanup

Nothing here asserts timings: every wait is bounded only so that no test can
hang.
"""
from __future__ import annotations

import asyncio
import base64
import http.client as httpclient
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import websockets  # Debian python3-websockets (10.4)

# Generous upper bound for any single wait; never an assertion about speed.
WAIT = 10.0
# Whole-script watchdog: CTest's own timeout is 300 s.
SCRIPT_TIMEOUT = 150

_started: list["Herald"] = []


# --------------------------------------------------------------------------
# Checks and script entry point
# --------------------------------------------------------------------------
class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"FAIL {name}" + (f" -- {detail}" if detail else ""), flush=True)
        return bool(ok)

    def eq(self, name: str, got, expected) -> bool:
        return self.check(name, got == expected, f"expected {expected!r}, got {got!r}")

    def error(self, name: str, exc: BaseException) -> None:
        detail = f"{type(exc).__name__}: {exc}"
        self.check(name, False, detail)

    def summary(self) -> int:
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


class Watchdog(BaseException):
    """Raised from SIGALRM when a script overruns SCRIPT_TIMEOUT."""


def _on_alarm(signum, frame):
    raise Watchdog(f"script exceeded {SCRIPT_TIMEOUT}s watchdog")


def main(body, timeout: int = SCRIPT_TIMEOUT) -> None:
    """Run body(herald_bin, checks) (sync or async), then always clean up."""
    if len(sys.argv) < 2:
        print(f"usage: {sys.argv[0]} <path-to-herald-binary>", file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    checks = Checks()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(timeout)
    try:
        if not os.access(binary, os.X_OK):
            checks.check("herald binary is executable", False, binary)
        else:
            result = body(binary, checks)
            if asyncio.iscoroutine(result):
                asyncio.run(result)
    except BaseException as exc:  # Watchdog, KeyboardInterrupt, bugs in the test
        traceback.print_exc()
        checks.error("test script completed", exc)
    finally:
        signal.alarm(0)
        for h in list(_started):
            h.stop()
    code = checks.summary()
    for h in _started:
        if checks.failed and h.log_tail():
            print(f"--- herald log tail (port {h.port}) ---\n{h.log_tail()}", file=sys.stderr)
    sys.exit(code)


def section(checks: Checks, name: str):
    """Decorator-free guard: `async with section(...)`/`with section(...)`
    turns an unexpected exception inside a group of checks into one FAIL."""
    return _Section(checks, name)


class _Section:
    def __init__(self, checks: Checks, name: str) -> None:
        self.checks, self.name = checks, name

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if ev is not None and not isinstance(ev, (Watchdog, KeyboardInterrupt)):
            self.checks.error(f"{self.name} (raised)", ev)
            return True
        return False

    async def __aenter__(self):
        return self

    async def __aexit__(self, et, ev, tb):
        return self.__exit__(et, ev, tb)


# --------------------------------------------------------------------------
# The herald process
# --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Herald:
    def __init__(self, binary: str, *extra: str, threads: int = 2) -> None:
        self.binary = binary
        self.extra = list(extra)
        self.threads = threads
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="herald-bb-", suffix=".log", delete=False)

    # -- lifecycle ---------------------------------------------------------
    def start(self, attempts: int = 3) -> "Herald":
        last = ""
        for _ in range(attempts):
            self.port = free_port()
            args = [self.binary, "--listen", f"127.0.0.1:{self.port}", "--threads", str(self.threads), *self.extra]
            # Stopping a test node need not wait out the balancer's grace.
            for flag in ("--drain-grace", "--drain-spread"):
                if flag not in self.extra:
                    args += [flag, "0"]
            self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            _started.append(self)
            if self.wait_healthy(WAIT):
                return self
            last = self.log_tail()
            self.stop()
        raise RuntimeError(f"herald did not become healthy: {last}")

    def wait_healthy(self, timeout: float) -> bool:
        return wait_healthy(self.proc, self.port, timeout)

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        except ProcessLookupError:
            pass

    def log_tail(self, n: int = 4000) -> str:
        try:
            with open(self.log.name, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    # -- convenience -------------------------------------------------------
    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def http(self, method, path, body=None, headers=None, timeout=WAIT):
        return http(self.port, method, path, body, headers, timeout)

    async def ahttp(self, method, path, body=None, headers=None, timeout=WAIT):
        return await asyncio.to_thread(http, self.port, method, path, body, headers, timeout)

    def push(self, user, event, message, headers=None):
        return self.http("POST", "/push", json.dumps({"userId": user, "event": event, "message": message}), headers)

    async def apush(self, user, event, message, headers=None):
        return await asyncio.to_thread(self.push, user, event, message, headers)

    def metrics(self) -> str:
        status, _, body = self.http("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return body.decode()


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------
def wait_healthy(proc: subprocess.Popen, port: int, timeout: float) -> bool:
    """Polls GET /healthz on `port` until 200, `proc` exits, or `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if http(port, "GET", "/healthz", timeout=1)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def http(port, method, path, body=None, headers=None, timeout=WAIT):
    """One request on a fresh connection. Returns (status, headers dict, body bytes)."""
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        data = res.read()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, data
    finally:
        conn.close()


def raw_http(port: int, data: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Send raw bytes, read until the server closes or `timeout` passes.
    Returns (everything read, whether the server closed the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        buf = b""
        deadline = time.monotonic() + timeout
        closed = False
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
        return buf, closed


def status_of(raw: bytes) -> int:
    """Status code of the first HTTP response in `raw`, or 0."""
    try:
        line = raw.split(b"\r\n", 1)[0].decode()
        return int(line.split()[1])
    except (IndexError, ValueError):
        return 0


def parse_metrics(text: str) -> dict[str, float]:
    """'name{labels}' -> value for every sample line (labels verbatim)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


def metric_sum(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


# --------------------------------------------------------------------------
# websockets helpers
# --------------------------------------------------------------------------
def ws_connect(url: str, **kw):
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", WAIT)
    kw.setdefault("close_timeout", 2)
    return websockets.connect(url, **kw)


async def recv(ws, timeout: float = WAIT):
    return await asyncio.wait_for(ws.recv(), timeout)


async def recv_json(ws, timeout: float = WAIT):
    return json.loads(await recv(ws, timeout))


_ping_ids = iter(range(1_000_000, 10**12))


async def ws_ping(ws, timeout: float = WAIT) -> list:
    """Send an application ping and wait for its pong: proves every earlier
    frame of this connection was processed. Returns frames that arrived
    before the pong (decoded when they are JSON)."""
    pid = next(_ping_ids)
    await ws.send(json.dumps({"op": "ping", "id": pid}))
    before = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise asyncio.TimeoutError(f"no pong for ping {pid}")
        msg = await recv(ws, left)
        try:
            doc = json.loads(msg)
        except (ValueError, TypeError):
            before.append(msg)
            continue
        if isinstance(doc, dict) and doc.get("op") == "pong" and doc.get("id") == pid:
            return before
        before.append(doc)


async def register(ws, token: str, event: str) -> list:
    await ws.send(json.dumps({"token": token, "event": event}))
    return await ws_ping(ws)


async def expect_closed(ws, timeout: float = WAIT):
    """Read until the connection closes. Returns (code, reason, frames read before)."""
    frames = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timeout: still open", frames
            frames.append(await recv(ws, left))
    except websockets.exceptions.ConnectionClosed as e:
        return e.code, e.reason, frames
    except asyncio.TimeoutError:
        return None, "timeout: still open", frames


# --------------------------------------------------------------------------
# A hand-written WebSocket client over a plain socket
# --------------------------------------------------------------------------
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class RawWS:
    def __init__(self, port: int, path: str = "/ws", rcvbuf: int | None = None, timeout: float = WAIT) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status = status_of(head)
        if self.status != 101:
            raise ConnectionError(f"handshake answered {head[:200]!r}")

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> None:
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def send_text(self, text: str) -> None:
        self.send_frame(OP_TEXT, text.encode())

    def _need(self, n: int, deadline: float) -> None:
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("frame read timed out")
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("connection closed by server")
            self.buf += chunk

    def recv_frame(self, timeout: float = WAIT) -> tuple[int, bytes]:
        """Next frame as (opcode, payload); raises EOFError on a clean TCP close."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._need(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        if b1 & 0x80:
            off += 4  # servers must not mask, but skip the key if one does
        self._need(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0F, payload

    def recv_text(self, timeout: float = WAIT) -> str:
        """Next text/data message, answering nothing and skipping pings."""
        deadline = time.monotonic() + timeout
        while True:
            op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op in (OP_TEXT, OP_BINARY):
                return payload.decode("utf-8", "replace")
            if op == OP_CLOSE:
                raise EOFError(f"close frame {close_code(payload)}")

    def read_until_close(self, timeout: float = WAIT):
        """Read frames until a close frame, EOF or reset.
        Returns (close_code or None, reason, data frames seen, how it ended)."""
        deadline = time.monotonic() + timeout
        data = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, "", data, "timeout"
                op, payload = self.recv_frame(left)
                if op == OP_CLOSE:
                    code, reason = close_code(payload)
                    return code, reason, data, "close_frame"
                if op in (OP_TEXT, OP_BINARY, OP_CONT):
                    data.append(payload)
        except EOFError:
            return None, "", data, "eof"
        except (ConnectionResetError, BrokenPipeError):
            return None, "", data, "reset"
        except socket.timeout:
            return None, "", data, "timeout"

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def close_code(payload: bytes):
    if len(payload) >= 2:
        return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")
    return None, ""
