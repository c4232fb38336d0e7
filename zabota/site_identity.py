"""Signed site identity: the company's website vouches for who is logged in, so the website chat knows them.

The widget alone only knows a random visitor id it made up, so a logged-in customer of the company's site is a
stranger in the chat. The website's server knows who is logged in; it signs the customer's ``external_id`` (the
company's own id, the one customers are loaded by through ``POST /api/v1/customers``) with a secret it shares
with the gateway (``WEBCHAT_IDENTITY_SECRET``), and the page hands the token to the widget. A valid token is a
verified identity in the sense of ``zabota/identity.py``: the gateway links the visitor to that customer.

The token, version 1 (everything ASCII except an external id with non-Latin letters, which is UTF-8)::

    payload = "v1." + external_id + "." + expires      # expires: Unix time in whole seconds (UTC), decimal
    mac     = HMAC-SHA256(key = the secret's UTF-8 bytes, message = the payload's UTF-8 bytes), lowercase hex
    token   = payload + "." + mac

    PHP:    $p = "v1.$id." . (time() + 3600);  $token = $p . "." . hash_hmac("sha256", $p, $secret);
    Node:   const p = `v1.${id}.${Math.floor(Date.now() / 1000) + 3600}`;
            const token = p + "." + crypto.createHmac("sha256", secret).update(p).digest("hex");
    Python: p = f"v1.{id}.{int(time.time()) + 3600}"
            token = p + "." + hmac.new(secret.encode(), p.encode(), hashlib.sha256).hexdigest()
    Shell:  python -m zabota.site_identity sign <external_id> [--ttl 3600]   (the secret from the environment)

``external_id`` is 1-128 letters, digits or ``. : - _`` (as in the customers API). It may hold dots, so the
expiry and the MAC are read from the right. A token lives at most ``MAX_LIFETIME_SECONDS`` (24 h); one that
claims more is refused, so a leaked token cannot be made to last. ``CLOCK_SKEW_SECONDS`` of difference between
the website's clock and the gateway's is tolerated both ways.

A token is a bearer credential for the customer's chat (whoever holds it can attach a visitor id to that
customer and read the conversation): sign it per page view with a short lifetime (minutes to an hour), serve it
over HTTPS only, and never log it.

Plain: no I/O in the signing and checking functions; ``main`` is the command line.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

VERSION = "v1"
SECRET_ENV = "WEBCHAT_IDENTITY_SECRET"
MAX_LIFETIME_SECONDS = 24 * 3600
CLOCK_SKEW_SECONDS = 60
DEFAULT_TTL_SECONDS = 3600
# the customers API's rule for the company's id (gateway/customers_api.py, zabota/records/store.py)
EXTERNAL_ID = re.compile(r"^[\w.:\-]{1,128}$")
_EXPIRES = re.compile(r"^[0-9]{1,12}$")
_MAC = re.compile(r"^[0-9a-fA-F]{64}$")


class SiteIdentityError(ValueError):
    """A token the gateway does not accept; ``code`` says why, for logs and for the API's reason."""

    code: ClassVar[str] = "invalid"


class MalformedToken(SiteIdentityError):
    code = "malformed"


class BadSignature(SiteIdentityError):
    code = "bad_signature"


class TokenExpired(SiteIdentityError):
    code = "expired"


class TokenTooLongLived(SiteIdentityError):
    code = "too_far_in_future"


@dataclass(frozen=True)
class SiteIdentity:
    external_id: str
    expires_at: int


def _key(secret: str) -> bytes:
    if not secret:
        # an empty key would make every token forgeable by anyone
        raise ValueError("the site identity secret is empty")
    return secret.encode()


def _mac(secret: str, payload: str) -> str:
    return hmac.new(_key(secret), payload.encode(), hashlib.sha256).hexdigest()


def sign(external_id: str, secret: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS, now: float | None = None) -> str:
    """The token for ``external_id`` valid for ``ttl_seconds`` from ``now`` (what the website's server does)."""
    if not EXTERNAL_ID.match(external_id):
        raise ValueError("external_id: 1-128 letters, digits or . : - _")
    if not 0 < ttl_seconds <= MAX_LIFETIME_SECONDS:
        raise ValueError(f"ttl_seconds: 1 to {MAX_LIFETIME_SECONDS}")
    expires = int(time.time() if now is None else now) + ttl_seconds
    payload = f"{VERSION}.{external_id}.{expires}"
    return f"{payload}.{_mac(secret, payload)}"


def verify(token: str, secret: str, *, now: float | None = None) -> SiteIdentity:
    """The identity a token vouches for; raises a ``SiteIdentityError`` saying why it is not accepted.

    The signature is checked before the expiry, so an expired-token answer is only ever given for a token the
    website really signed (a forger learns nothing from the reason)."""
    key = _key(secret)
    version, dot, rest = token.partition(".")
    parts = rest.rsplit(".", 2)
    if version != VERSION or not dot or len(parts) != 3:
        raise MalformedToken(f"not a {VERSION} token: expected {VERSION}.<external_id>.<expires>.<hex mac>")
    external_id, expires_text, mac = parts
    if not EXTERNAL_ID.match(external_id):
        raise MalformedToken("the external id is not 1-128 letters, digits or . : - _")
    if not _EXPIRES.match(expires_text):
        raise MalformedToken("the expiry is not Unix time in whole seconds")
    if not _MAC.match(mac):
        raise MalformedToken("the MAC is not 64 hex digits (HMAC-SHA256)")
    payload = token[: -len(mac) - 1]
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac.lower()):
        raise BadSignature("the signature does not match (another secret, or the token was changed)")
    expires = int(expires_text)
    current = time.time() if now is None else now
    if expires + CLOCK_SKEW_SECONDS < current:
        raise TokenExpired("the token has expired: the website must sign a fresh one")
    if expires - current > MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
        raise TokenTooLongLived(f"the token claims to live longer than {MAX_LIFETIME_SECONDS} seconds")
    return SiteIdentity(external_id=external_id, expires_at=expires)


def main(argv: Sequence[str] | None = None) -> int:
    """``sign <external_id> [--ttl S]`` prints a token; ``verify <token>`` prints the external id and the expiry.
    The secret comes from WEBCHAT_IDENTITY_SECRET, never from the command line (it would be in the shell's
    history and the process list)."""
    parser = argparse.ArgumentParser(
        prog="python -m zabota.site_identity", description="Signed site identity tokens for the webchat"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    signing = commands.add_parser("sign", help="print a token for an external id")
    signing.add_argument("external_id")
    signing.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds the token is valid")
    checking = commands.add_parser("verify", help="check a token")
    checking.add_argument("token")
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        sys.stderr.write(f"{SECRET_ENV} is not set\n")
        return 2
    try:
        if args.command == "sign":
            sys.stdout.write(sign(args.external_id, secret, ttl_seconds=args.ttl) + "\n")
        else:
            identity = verify(args.token, secret)
            sys.stdout.write(f"{identity.external_id} expires {identity.expires_at}\n")
    except SiteIdentityError as exc:
        sys.stderr.write(f"refused ({exc.code}): {exc}\n")
        return 1
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
