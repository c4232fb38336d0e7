#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests (Playwright drives /usr/bin/chromium;
# `playwright install` downloads its own browser, which does not work offline). Idempotent.
set -euo pipefail
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then exit 0; fi
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo -n); else
  echo "Chromium is missing and this user cannot install it: run 'apt-get install chromium' as root" >&2; exit 1
fi
echo "==> installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends chromium >/tmp/zabota-chromium.log 2>&1; then
  # stale package lists on a fresh machine: refresh once and retry
  "${sudo[@]}" apt-get update >>/tmp/zabota-chromium.log 2>&1
  "${sudo[@]}" apt-get install -y --no-install-recommends chromium >>/tmp/zabota-chromium.log 2>&1 || {
    echo "apt-get install chromium failed; see /tmp/zabota-chromium.log" >&2; exit 1; }
fi
"$chromium" --version
