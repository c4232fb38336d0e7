"""A local Bitrix24 portal's REST API, as an inbound webhook answers it:
``POST /rest/<user id>/<webhook code>/<method>.json`` with a JSON body.

- ``crm.contact.get`` {ID}: ``{"result": {...}, "time": {...}}``; an unknown ID answers 400
  ``{"error": "", "error_description": "Not found"}``.
- ``crm.contact.list`` {order, filter, select, start}: 50 a page, ``next`` while there are more, ``total``; the
  multi-fields PHONE and EMAIL only when ``select`` names them (``*`` does not include them); ``>DATE_MODIFY``.
- ``crm.deal.list`` {filter: {CONTACT_ID}}.
- A wrong webhook code answers 401 ``INVALID_CREDENTIALS``; ``limit_next(n)`` makes the next n calls answer 503
  ``QUERY_LIMIT_EXCEEDED`` as a portal over its request rate does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http_server import QuietHandler, serve

USER_ID = "1"
WEBHOOK_CODE = "k3x9w2q7m1z8b5v4"
PAGE = 50
MULTI_FIELDS = ("PHONE", "EMAIL", "WEB", "IM")


def _time() -> dict[str, Any]:
    return {"start": 1733560000.1, "finish": 1733560000.2, "duration": 0.1, "processing": 0.05}


@dataclass
class FakeBitrix24:
    url: str = ""
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    deals: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    _limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/rest/{USER_ID}/{WEBHOOK_CODE}/"

    def add_contact(self, contact_id: str, **fields: Any) -> None:
        self.contacts[contact_id] = {"ID": contact_id, "DATE_MODIFY": "2026-12-01T10:00:00+03:00", **fields}

    def limit_next(self, times: int = 1) -> None:
        with self._lock:
            self._limited += times

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "rest" or parts[1] != USER_ID or parts[2] != WEBHOOK_CODE:
            return 401, {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"}
        method = parts[3].removesuffix(".json")
        with self._lock:
            self.calls.append(method)
            if self._limited:
                self._limited -= 1
                return 503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
        if method == "crm.contact.get":
            contact = self.contacts.get(str(body.get("ID")))
            if contact is None:
                return 400, {"error": "", "error_description": "Not found"}
            return 200, {"result": contact, "time": _time()}
        if method == "crm.contact.list":
            return 200, self._list(body)
        if method == "crm.deal.list":
            wanted = str((body.get("filter") or {}).get("CONTACT_ID"))
            found = [d for d in self.deals if str(d.get("CONTACT_ID")) == wanted]
            return 200, {"result": found, "total": len(found), "time": _time()}
        return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}

    def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        select = body.get("select") or ["*"]
        since = (body.get("filter") or {}).get(">DATE_MODIFY")
        rows = [c for _, c in sorted(self.contacts.items(), key=lambda kv: int(kv[0]))]
        if since:
            rows = [c for c in rows if c["DATE_MODIFY"] > since]
        start = int(body.get("start") or 0)
        page = []
        for contact in rows[start : start + PAGE]:
            shown = {
                k: v
                for k, v in contact.items()
                if (k in select) or ("*" in select and k not in MULTI_FIELDS) or k == "ID"
            }
            page.append(shown)
        answer: dict[str, Any] = {"result": page, "total": len(rows), "time": _time()}
        if start + PAGE < len(rows):
            answer["next"] = start + PAGE
        return answer


@contextmanager
def serve_fake_bitrix24() -> Iterator[FakeBitrix24]:
    fake = FakeBitrix24()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.read_body()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                self.send_json(400, {"error": "INVALID_REQUEST", "error_description": "Bad JSON"})
                return
            status, payload = fake.answer(self.path, body if isinstance(body, dict) else {})
            self.send_json(status, payload)

    with serve(Handler) as url:
        fake.url = url
        yield fake
