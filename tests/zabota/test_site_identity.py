"""Signed site identity tokens (zabota/site_identity.py): the recipe as documented, and every way a token is
refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from zabota import site_identity
from zabota.site_identity import (
    BadSignature,
    MalformedToken,
    SiteIdentity,
    TokenExpired,
    TokenTooLongLived,
    main,
    sign,
    verify,
)

SECRET = "s" * 40
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def test_a_signed_token_verifies_to_its_external_id_and_expiry() -> None:
    token = sign("crm-1001", SECRET, ttl_seconds=600, now=NOW)
    assert token.startswith("v1.crm-1001.1767226200.")
    assert verify(token, SECRET, now=NOW + 599) == SiteIdentity(external_id="crm-1001", expires_at=1767226200)


def test_the_documented_recipe_is_what_verify_accepts() -> None:
    # what a website writes in three lines, without this module
    payload = f"v1.crm-7.{int(NOW) + 3600}"
    token = payload + "." + hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    assert token == sign("crm-7", SECRET, ttl_seconds=3600, now=NOW)
    assert verify(token, SECRET, now=NOW).external_id == "crm-7"
    # an upper-case hex digest (some languages' default) is the same MAC
    upper = payload + "." + hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest().upper()
    assert verify(upper, SECRET, now=NOW).external_id == "crm-7"


@pytest.mark.parametrize("external_id", ["crm.eu.1001", "a:b-c_d", "клиент-42", "x" * 128])
def test_external_ids_with_dots_colons_and_letters_of_any_alphabet_survive(external_id: str) -> None:
    token = sign(external_id, SECRET, now=NOW)
    assert verify(token, SECRET, now=NOW).external_id == external_id


def test_a_changed_token_is_a_bad_signature() -> None:
    token = sign("crm-1001", SECRET, ttl_seconds=600, now=NOW)
    _, external_id, expires, mac = token.split(".")
    other_customer = f"v1.crm-1002.{expires}.{mac}"
    longer_life = f"v1.{external_id}.{int(expires) + 60}.{mac}"
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    for forged in (other_customer, longer_life, flipped):
        with pytest.raises(BadSignature):
            verify(forged, SECRET, now=NOW)


def test_another_secret_is_a_bad_signature() -> None:
    token = sign("crm-1001", SECRET, now=NOW)
    with pytest.raises(BadSignature) as refused:
        verify(token, "t" * 40, now=NOW)
    assert refused.value.code == "bad_signature"


def test_an_expired_token_is_refused_after_the_clock_skew_allowance() -> None:
    token = sign("crm-1001", SECRET, ttl_seconds=60, now=NOW)
    expires = NOW + 60
    assert verify(token, SECRET, now=expires + site_identity.CLOCK_SKEW_SECONDS).external_id == "crm-1001"
    with pytest.raises(TokenExpired) as refused:
        verify(token, SECRET, now=expires + site_identity.CLOCK_SKEW_SECONDS + 1)
    assert refused.value.code == "expired"


def test_a_token_that_claims_to_live_too_long_is_refused() -> None:
    payload = f"v1.crm-1001.{int(NOW) + 7 * 24 * 3600}"
    token = payload + "." + hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    with pytest.raises(TokenTooLongLived):
        verify(token, SECRET, now=NOW)
    # the longest lifetime is accepted
    assert verify(sign("crm-1001", SECRET, ttl_seconds=site_identity.MAX_LIFETIME_SECONDS, now=NOW), SECRET, now=NOW)


def test_an_expired_forgery_is_a_bad_signature_not_expired() -> None:
    # the reason is given only for tokens the website signed: a forger learns nothing from it
    with pytest.raises(BadSignature):
        verify(f"v1.crm-1001.{int(NOW) - 3600}.{'a' * 64}", SECRET, now=NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1.crm-1001",
        "v1.crm-1001.1767226200",
        "v2.crm-1001.1767226200." + "a" * 64,
        "v1..1767226200." + "a" * 64,
        "v1.crm 1001.1767226200." + "a" * 64,
        "v1.crm-1001.-5." + "a" * 64,
        "v1.crm-1001.soon." + "a" * 64,
        "v1.crm-1001.1767226200." + "a" * 63,
        "v1.crm-1001.1767226200." + "g" * 64,
        "v1.crm-1001.1767226200." + "a" * 64 + ".",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    ],
)
def test_malformed_tokens_say_so(token: str) -> None:
    with pytest.raises(MalformedToken) as refused:
        verify(token, SECRET, now=NOW)
    assert refused.value.code == "malformed"


def test_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(site_identity.hmac, "compare_digest", spy)
    verify(sign("crm-1001", SECRET, now=NOW), SECRET, now=NOW)
    assert len(calls) == 1


def test_an_empty_secret_or_a_bad_external_id_cannot_sign() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign("crm-1001", "", now=NOW)
    with pytest.raises(ValueError, match="secret"):
        verify(sign("crm-1001", SECRET, now=NOW), "", now=NOW)
    with pytest.raises(ValueError, match="external_id"):
        sign("crm 1001", SECRET, now=NOW)
    with pytest.raises(ValueError, match="ttl"):
        sign("crm-1001", SECRET, ttl_seconds=site_identity.MAX_LIFETIME_SECONDS + 1, now=NOW)


def test_the_command_line_signs_with_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(site_identity.SECRET_ENV, SECRET)
    assert main(["sign", "crm-1001", "--ttl", "120"]) == 0
    token = capsys.readouterr().out.strip()
    assert verify(token, SECRET).external_id == "crm-1001"
    assert main(["verify", token]) == 0
    assert capsys.readouterr().out.startswith("crm-1001 expires ")
    assert main(["verify", token[:-1] + ("0" if token[-1] != "0" else "1")]) == 1
    assert "bad_signature" in capsys.readouterr().err


def test_the_command_line_needs_the_secret(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(site_identity.SECRET_ENV, raising=False)
    assert main(["sign", "crm-1001"]) == 2
    assert site_identity.SECRET_ENV in capsys.readouterr().err
