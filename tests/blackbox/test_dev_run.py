"""`deploy/dev.sh run`: the user's flags (and HERALD_* variables, and keys
of a --config file) win over the script's defaults (--listen, --client-publish,
--presence, --status-page), and `run` builds only the herald binary.

The script runs for real with two stand-ins first on PATH: `dpkg-query`
(every package installed, so nothing is installed here) and `cmake`, which
records its arguments and, for the build step, puts the herald under test
where the script expects its build. Every herald started listens on a free
loopback port and is stopped here; every wait is bounded."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEV_SH = os.path.join(ROOT, "deploy", "dev.sh")

FAKE_CMAKE = """#!/bin/sh
echo "$@" >> "$FAKE_CMAKE_LOG"
if [ "$1" = --build ]; then
  mkdir -p "$2/gateway" && ln -sf "$HERALD_UNDER_TEST" "$2/gateway/herald"
fi
"""
FAKE_DPKG_QUERY = "#!/bin/sh\nprintf 'install ok installed'\n"


class Run:
    """One `dev.sh run ARGS` with the stand-ins; the herald it execs is this process."""

    def __init__(self, tools, binary, args, env=None):
        self.build = tempfile.mkdtemp(prefix="herald-devsh-build-")
        self.cmake_log = os.path.join(self.build, "cmake.log")
        self.log = tempfile.NamedTemporaryFile(prefix="herald-devsh-", suffix=".log", delete=False)
        full = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        full.update({"PATH": tools + os.pathsep + os.environ.get("PATH", ""), "BUILD_DIR": self.build,
                     "FAKE_CMAKE_LOG": self.cmake_log, "HERALD_UNDER_TEST": binary, "JOBS": "1"})
        full.update(env or {})
        self.proc = subprocess.Popen(["bash", DEV_SH, "run", "--threads", "1", "--drain-grace", "0", "--drain-spread", "0", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full)

    def healthy_on(self, port, timeout=hh.WAIT):
        return hh.wait_healthy(self.proc, port, timeout)

    def output(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def cmake_calls(self):
        try:
            with open(self.cmake_log) as f:
                return [line.split() for line in f]
        except OSError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def allowed(port, path, topic):
    """(client publish status, presence status) for `topic`: 403 means the pattern is not set."""
    pub = hh.http(port, "POST", "/api/v1/client-publish", json.dumps({"token": "u", "topic": topic, "data": 1}))[0]
    pres = hh.http(port, "GET", f"/api/v1/presence?topic={topic}")[0]
    return pub, pres


def body(binary, c):
    tools = tempfile.mkdtemp(prefix="herald-devsh-tools-")
    for name, text in (("cmake", FAKE_CMAKE), ("dpkg-query", FAKE_DPKG_QUERY)):
        path = os.path.join(tools, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    runs = []
    try:
        # The case: a --listen of the user's own.
        port = hh.free_port()
        r = Run(tools, binary, ["--listen", f"127.0.0.1:{port}", "--presence", "lobby:*"])
        runs.append(r)
        ok = r.healthy_on(port)
        c.check("dev.sh run --listen ADDR serves on the user's address", ok, r.output()[-600:])
        if ok:
            c.eq("the script's --client-publish default stays, its --presence gives way to the user's",
                 (allowed(port, "", "room:a"), allowed(port, "", "lobby:a")), ((200, 403), (403, 404)))
            c.eq("the script's --status-page default is on", hh.http(port, "GET", "/api/v1/status")[0], 200)
        calls = r.cmake_calls()
        builds = [a for a in calls if a and a[0] == "--build"]
        c.check("run builds the herald target only (not the tests, not the bench)",
                len(builds) == 1 and builds[0][-2:] == ["--target", "herald"], str(calls))
        configure = [a for a in calls if a and a[0] == "-S"]
        c.check("run configures without the tests", bool(configure) and "-DHERALD_BUILD_TESTS=OFF" in configure[0],
                str(configure))
        r.stop()

        # The same option from the environment, and --opt=value spelling.
        port = hh.free_port()
        r = Run(tools, binary, [f"--client-publish=chat:*"], {"HERALD_LISTEN": f"127.0.0.1:{port}"})
        runs.append(r)
        ok = r.healthy_on(port)
        c.check("HERALD_LISTEN wins over the script's --listen", ok, r.output()[-600:])
        if ok:
            c.eq("--client-publish=PATTERN replaces the script's room:*",
                 (allowed(port, "", "chat:a")[0], allowed(port, "", "room:a")[0]), (200, 403))
        r.stop()

        # Keys of a --config file count too (a commented-out key does not).
        port = hh.free_port()
        config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        config.write(f'# presence = ["room:*"]\nlisten = "127.0.0.1:{port}"\nclient_publish = ["team:*"]\n')
        config.close()
        r = Run(tools, binary, ["--config", config.name])
        runs.append(r)
        ok = r.healthy_on(port)
        c.check("a --config file's listen wins over the script's", ok, r.output()[-600:])
        if ok:
            c.eq("... its client_publish too, while the commented presence leaves the default",
                 (allowed(port, "", "team:a")[0], allowed(port, "", "room:a")), (200, (403, 404)))
        r.stop()
    finally:
        for r in runs:
            r.stop()


if __name__ == "__main__":
    hh.main(body)
