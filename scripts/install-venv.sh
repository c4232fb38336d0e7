#!/usr/bin/env bash
# Creates (or updates) a virtual environment from a lock file. Idempotent: it does nothing when the venv was
# already installed from a lock with the same content (sha256 kept in the venv).
# usage: install-venv.sh VENV_DIR PYTHON LOCK_FILE
set -euo pipefail
venv=$1; python=$2; lock=$3
want=$(sha256sum "$lock" | cut -d' ' -f1)
stamp="$venv/.lock.sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "==> installing $venv from $lock"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# --no-deps: the lock already holds every package, pinned; resolving again could drift.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$lock"
echo "$want" > "$stamp"
