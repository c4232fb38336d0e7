"""Operators and their tokens: the ZABOTA_OPERATORS list, authentication by token, the Bearer header."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gateway_testkit import LEAD_TOKEN, OPERATOR_TOKEN, OPERATORS_JSON, OTHER_OPERATOR_TOKEN, make_settings

from gateway.app import create_app
from gateway.errors import ApiError
from gateway.operator_auth import Operator, OperatorDirectory, bearer_token, require_operator_from, token_digest

DIGEST = token_digest("some-token")


def entry(**fields: Any) -> dict[str, Any]:
    return {"id": "anna", "name": "Анна", "role": "operator", "token_sha256": DIGEST, **fields}


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("not json", "Expecting value"),
        ("{", "Expecting"),
        ('{"id": "anna"}', "list"),
        (json.dumps([entry(), entry(name="Другая Анна", token_sha256=token_digest("x"))]), "operator id twice"),
        (json.dumps([entry(token_sha256="abc")]), "token_sha256"),
        (json.dumps([entry(token_sha256=DIGEST.upper())]), "token_sha256"),  # hexdigest() is lower case
        (json.dumps([entry(token_sha256="some-token")]), "token_sha256"),  # a token where its digest belongs
        (json.dumps([entry(role="admin")]), "role"),
        (json.dumps([entry(id="anna petrova")]), "id"),
        (json.dumps([entry(name="")]), "name"),
        (json.dumps([entry(token="some-token")]), "token"),  # extra fields are refused, tokens above all
        (json.dumps([{"id": "anna", "name": "Анна"}]), "token_sha256"),
    ],
)
def test_a_broken_operator_list_is_refused_with_a_reason(raw: str, why: str) -> None:
    with pytest.raises(ValueError, match="ZABOTA_OPERATORS is not a valid operator list") as error:
        OperatorDirectory.from_json(raw)
    assert why in str(error.value)


def test_the_gateway_refuses_to_start_with_a_broken_list() -> None:
    with pytest.raises(ValueError, match="ZABOTA_OPERATORS"):
        create_app(make_settings(zabota_operators='[{"id": "x"}]'))


@pytest.mark.parametrize("raw", ["", "[]"])
def test_an_empty_list_lets_nobody_in(raw: str) -> None:
    directory = OperatorDirectory.from_json(raw)
    assert len(directory) == 0
    assert directory.authenticate("") is None
    assert directory.authenticate(OPERATOR_TOKEN) is None


def test_tokens_authenticate_their_operator() -> None:
    directory = OperatorDirectory.from_json(OPERATORS_JSON)
    assert len(directory) == 3
    assert directory.authenticate(OPERATOR_TOKEN) == Operator("anna", "Анна", "operator")
    assert directory.authenticate(OTHER_OPERATOR_TOKEN) == Operator("boris", "Борис", "operator")
    lead = directory.authenticate(LEAD_TOKEN)
    assert lead == Operator("lena", "Елена", "lead") and lead.is_lead
    assert not Operator("anna", "Анна", "operator").is_lead


@pytest.mark.parametrize(
    "token",
    ["", "wrong", OPERATOR_TOKEN + " ", OPERATOR_TOKEN.upper(), token_digest(OPERATOR_TOKEN)],
)
def test_anything_but_the_exact_token_is_refused(token: str) -> None:
    assert OperatorDirectory.from_json(OPERATORS_JSON).authenticate(token) is None


def test_names_by_id() -> None:
    directory = OperatorDirectory.from_json(OPERATORS_JSON)
    assert directory.name_of("lena") == "Елена"
    assert directory.name_of("nobody") is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Bearer    ", None),
        ("Basic dXNlcjpwYXNz", None),
        ("Token abc", None),
        ("Bearerabc", None),
        ("abc", None),
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer   abc  ", "abc"),
    ],
)
def test_bearer_token_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_require_operator_refuses_with_401() -> None:
    directory = OperatorDirectory.from_json(OPERATORS_JSON)
    assert require_operator_from(directory, f"Bearer {LEAD_TOKEN}").id == "lena"
    with pytest.raises(ApiError) as missing:
        require_operator_from(directory, None)
    with pytest.raises(ApiError) as wrong:
        require_operator_from(directory, "Bearer nope")
    assert (missing.value.status_code, missing.value.error) == (401, "unauthorized")
    assert (wrong.value.status_code, wrong.value.detail) == (401, "the operator token is not valid")
