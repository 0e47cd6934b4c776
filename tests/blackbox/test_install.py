"""What the README tells a newcomer about the binary holds: where the build
puts it, that it runs directly, and that `cmake --install` gives a herald
that serves the demo, the status page and herald.js from
<prefix>/share/herald/www with no --www-dir.

The install goes to a temporary prefix; every herald started here listens on
a free loopback port and is stopped here; every wait is bounded."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_harness as hh  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def body(binary, c):
    readme = open(os.path.join(ROOT, "README.md")).read()
    c.check("the README says where the binary is", "build-release/gateway/herald" in readme)
    c.check("the README says how to install it", re.search(r"cmake --install build-release --prefix \S+", readme)
            is not None)
    build_dir = os.path.dirname(os.path.dirname(binary))  # <build>/gateway/herald
    prefix = tempfile.mkdtemp(prefix="herald-install-")
    try:
        run = subprocess.run([shutil.which("cmake") or "cmake", "--install", build_dir, "--prefix", prefix],
                             capture_output=True, text=True, timeout=120)
        installed = os.path.join(prefix, "bin", "herald")
        c.check("cmake --install puts bin/herald under the prefix", run.returncode == 0 and os.access(installed, os.X_OK),
                run.stdout[-300:] + run.stderr[-300:])
        if not os.access(installed, os.X_OK):
            return
        version = subprocess.run([installed, "--version"], capture_output=True, text=True, timeout=10).stdout
        c.check("the installed herald says its version and commit", version.startswith("herald ") and "commit" in version,
                version)
        # A file only the installed copy has proves where the pages come from
        # (the source tree it was built from is still here).
        with open(os.path.join(prefix, "share", "herald", "www", "installed.json"), "w") as f:
            f.write('{"installed":true}')
        h = hh.Herald(installed, "--status-page").start()
        for path, marker in (("/", b"Herald chat"), ("/herald.js", b"window.Herald"), ("/status", b"Herald status"),
                             ("/authcode.html", b"Auth code"), ("/installed.json", b'"installed":true')):
            status, _, page = h.http("GET", path)
            c.check(f"the installed herald serves {path} from <prefix>/share/herald/www", status == 200 and marker in page,
                    f"{status} {page[:120]!r}")
        h.stop()
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    hh.main(body)
