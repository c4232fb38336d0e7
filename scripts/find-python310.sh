#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter for the Rasa environment (Rasa 3.6 needs Python <3.11).
# Order: $PYTHON310, pyenv's newest 3.10.x, python3.10 on PATH. Exits 1 with advice when none exists.
set -euo pipefail
is310() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }
if [ -n "${PYTHON310:-}" ] && is310 "$PYTHON310"; then echo "$PYTHON310"; exit 0; fi
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for p in $(ls -d "$root"/versions/3.10.* 2>/dev/null | sort -V -r); do
    if is310 "$p/bin/python"; then echo "$p/bin/python"; exit 0; fi
  done
fi
for c in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
  p=$(command -v "$c" 2>/dev/null || true)
  if is310 "$p"; then echo "$p"; exit 0; fi
done
echo "No Python 3.10 found: install it (e.g. 'pyenv install 3.10.13' or your OS package python3.10)," \
     "or set PYTHON310=/path/to/python3.10, or use Docker (see README)." >&2
exit 1
