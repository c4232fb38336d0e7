"""The web pages the gateway serves: the webchat widget (one script tag), its demo page, and the operator
console. Static files from gateway/static; every piece of data on them comes from the APIs and is rendered as
text (never as HTML), so a `<script>` in a message stays text."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).with_name("static")
# The pages load only the gateway's own scripts and styles and talk only to the gateway.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _file(relative: str, media_type: str | None = None) -> FileResponse:
    return FileResponse(STATIC / relative, media_type=media_type, headers=HEADERS)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/webchat/demo")


@router.get("/webchat/widget.js")
async def widget_js() -> FileResponse:
    # No CSP header on the script itself: it runs inside the customer's site, under that site's policy.
    return FileResponse(
        STATIC / "webchat" / "widget.js",
        media_type="text/javascript",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


@router.get("/webchat/demo")
async def webchat_demo() -> FileResponse:
    return _file("webchat/demo.html", "text/html; charset=utf-8")


@router.get("/operator")
async def operator_console() -> FileResponse:
    return _file("operator/index.html", "text/html; charset=utf-8")
