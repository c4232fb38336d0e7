"""``python -m zabota.records upgrade|current``: the system of record's migrations on ``DATABASE_URL``."""

from __future__ import annotations

import argparse
import json
import sys

from zabota.records.migrate import current_revision, head_revision, upgrade
from zabota.records.settings import RecordsSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=("upgrade", "current"))
    args = parser.parse_args(argv)
    settings = RecordsSettings.from_env()
    if args.command == "upgrade":
        upgrade(settings)
    current = current_revision(settings)
    sys.stdout.write(json.dumps({"database": settings.redacted(), "revision": current, "head": head_revision()}) + "\n")
    return 0 if current == head_revision() or args.command == "current" else 1


if __name__ == "__main__":
    sys.exit(main())
