#!/usr/bin/python3
"""RSS per idle registered WebSocket, wss:// against ws:// in one run.

herald-bench speaks plain ws only, so this is the smallest honest measure of
the TLS cost: for each mode it starts a fresh herald (--threads 2; TLS with a
self-signed EC P-256 certificate made here by `openssl`), reads its VmRSS,
opens N registered connections ({"token","event"}, each confirmed by a
{"op":"ping"} round trip) from separate client processes (Python
`websockets`, at most --per-process each: the 20,000 open-file limit), waits
--settle seconds, reads VmRSS again and prints (after - before) / N. Each
mode runs --runs times; the median is reported.

    /usr/bin/python3 bench/tls_idle.py build-release/gateway/herald --conns 2000 5000 --runs 3
"""
import argparse
import asyncio
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------- a client process
async def hold(url, first, count):
    import websockets
    kw = {"ssl": client_context()} if url.startswith("wss:") else {}
    conns = []
    for i in range(first, first + count):
        ws = await websockets.connect(url, compression=None, ping_interval=None, open_timeout=30, **kw)
        await ws.send(json.dumps({"token": f"idle{i}", "event": "e"}))
        await ws.send(json.dumps({"op": "ping", "id": i}))
        while json.loads(await ws.recv()).get("op") != "pong":
            pass
        conns.append(ws)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    for ws in conns:
        ws.transport.abort()


def client_main(url, first, count):
    asyncio.run(hold(url, first, count))


# ---------------------------------------------------------------- the measurement
def start_herald(binary, port, tls_dir):
    args = [binary, "--listen", f"127.0.0.1:{port}", "--threads", "2", "--log-level", "warn",
            "--ping-interval", "3600", "--idle-timeout", "7200"]
    if tls_dir:
        args += ["--tls-cert", os.path.join(tls_dir, "c.pem"), "--tls-key", os.path.join(tls_dir, "k.pem")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("herald did not start")


def measure(binary, conns, per_process, settle, tls_dir):
    port = free_port()
    herald = start_herald(binary, port, tls_dir)
    clients = []
    try:
        time.sleep(0.5)
        before = rss_bytes(herald.pid)
        url = f"{'wss' if tls_dir else 'ws'}://127.0.0.1:{port}/ws"
        for first in range(0, conns, per_process):
            count = min(per_process, conns - first)
            clients.append(subprocess.Popen([sys.executable, __file__, "--client", url, str(first), str(count)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for c in clients:
            if c.stdout.readline().strip() != "ready":
                raise RuntimeError("a client process failed")
        time.sleep(settle)
        after = rss_bytes(herald.pid)
        return (after - before) / conns
    finally:
        for c in clients:
            c.stdin.close()
        for c in clients:
            c.wait(timeout=60)
        herald.terminate()
        herald.wait(timeout=30)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--client":
        client_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("herald")
    p.add_argument("--conns", type=int, nargs="+", default=[2000, 5000])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--per-process", type=int, default=2500)
    p.add_argument("--settle", type=float, default=3.0)
    a = p.parse_args()
    tls_dir = tempfile.mkdtemp(prefix="herald-tls-idle-")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=bench", "-keyout", os.path.join(tls_dir, "k.pem"),
                        "-out", os.path.join(tls_dir, "c.pem")], check=True, capture_output=True)
        print("conns  mode   bytes/conn per run                median")
        for n in a.conns:
            for mode, d in (("ws", None), ("wss", tls_dir)):
                runs = [measure(a.herald, n, a.per_process, a.settle, d) for _ in range(a.runs)]
                print(f"{n:5d}  {mode:4s}  {' '.join(f'{r:8.0f}' for r in runs):30s}  {statistics.median(runs):8.0f}",
                      flush=True)
    finally:
        shutil.rmtree(tls_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
