#!/usr/bin/env bash
# Installs what tests/browser needs: Debian's chromium (the tests never let
# Playwright download a browser of its own) and playwright-core from
# package-lock.json. Idempotent and non-interactive; run as root on Debian.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine has empty package lists; install straight away otherwise.
  apt-get install -y --no-install-recommends chromium \
    || { apt-get update && apt-get install -y --no-install-recommends chromium; }
fi

if [ ! -d "$here/node_modules/playwright-core" ]; then
  # The browser comes from apt, so skip any download hook a package may have.
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
