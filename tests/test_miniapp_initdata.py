"""Telegram's signed initData, checked against a signer written here from Telegram's own
documentation (core.telegram.org/bots/webapps, "Validating data received via the Mini App"):
secret_key = HMAC_SHA256(key "WebAppData", message bot_token); hash = hex HMAC_SHA256(secret_key,
the sorted "key=value" lines except hash)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web.initdata import InitDataError, Problem, verify, write_key

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def sign(fields: dict[str, str], token: str = TOKEN) -> str:
    """Telegram's side, from the documentation alone."""
    key = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    digest = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest}, quote_via=quote)


def fields(user_id: int = 42, at: datetime = NOW, **extra: str) -> dict[str, str]:
    user = {"id": user_id, "first_name": "Olena", "language_code": "uk"}
    return {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":")),
        "auth_date": str(int(at.timestamp())),
        **extra,
    }


def problem(raw: str | None, now: datetime = NOW, max_age: timedelta = HOUR) -> Problem:
    with pytest.raises(InitDataError) as caught:
        verify(raw, TOKEN, now, max_age)
    return caught.value.problem


def test_a_signed_initdata_is_accepted_with_its_user() -> None:
    init = verify(sign(fields()), TOKEN, NOW, HOUR)
    assert (init.user.id, init.user.first_name, init.user.language_code) == (42, "Olena", "uk")
    assert init.auth_date == NOW


def test_another_bots_token_or_a_tampered_field_is_refused() -> None:
    assert problem(sign(fields(), token="999:other")) is Problem.SIGNATURE
    raw = sign(fields())
    assert problem(raw.replace("%22id%22%3A42", "%22id%22%3A43")) is Problem.SIGNATURE
    assert problem(sign(fields()) + "&extra=1") is Problem.SIGNATURE
    assert problem("user=%7B%22id%22%3A42%7D&auth_date=1") is Problem.SIGNATURE  # no hash


def test_the_age_window_and_the_future() -> None:
    assert verify(sign(fields(at=NOW - HOUR)), TOKEN, NOW, HOUR).user.id == 42
    assert problem(sign(fields(at=NOW - HOUR - timedelta(seconds=1)))) is Problem.EXPIRED
    assert problem(sign(fields(at=NOW - timedelta(days=400)))) is Problem.EXPIRED
    assert verify(sign(fields(at=NOW + timedelta(seconds=30))), TOKEN, NOW, HOUR)
    assert problem(sign(fields(at=NOW + timedelta(minutes=5)))) is Problem.FUTURE


def test_missing_malformed_and_userless() -> None:
    assert problem(None) is Problem.MISSING
    assert problem("") is Problem.MISSING
    assert problem("a" * 9000) is Problem.MALFORMED
    assert problem("no-equals-sign") is Problem.MALFORMED
    duplicated = sign(fields()) + "&auth_date=1"
    assert problem(duplicated) is Problem.MALFORMED
    userless = {k: v for k, v in fields().items() if k != "user"}
    assert problem(sign(userless)) is Problem.NO_USER
    assert problem(sign(fields(auth_date="soon"))) is Problem.MALFORMED
    bad_user = {**fields(), "user": json.dumps({"id": "42"})}
    assert problem(sign(bad_user)) is Problem.NO_USER


texts = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40
)


@given(
    user_id=st.integers(1, 2**52),
    name=texts,
    extra=st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
            lambda k: k not in {"hash", "user", "auth_date"}
        ),
        texts,
        max_size=4,
    ),
    age=st.integers(0, 3600),
)
def test_whatever_telegram_signs_within_the_window_verifies(
    user_id: int, name: str, extra: dict[str, str], age: int
) -> None:
    user = json.dumps({"id": user_id, "first_name": name})
    signed = {"user": user, "auth_date": str(int(NOW.timestamp()) - age), **extra}
    init = verify(sign(signed), TOKEN, NOW, HOUR)
    assert (init.user.id, init.user.first_name) == (user_id, name)


@given(position=st.integers(0, 10_000), replacement=st.sampled_from("0123456789abcdef"))
def test_any_change_to_the_hash_is_refused(position: int, replacement: str) -> None:
    raw = sign(fields())
    head, digest = raw.rsplit("hash=", 1)
    index = position % len(digest)
    if digest[index] == replacement:
        replacement = "0" if replacement != "0" else "1"
    forged = head + "hash=" + digest[:index] + replacement + digest[index + 1 :]
    assert problem(forged) is Problem.SIGNATURE


@given(first=st.binary(max_size=40), second=st.binary(max_size=40))
def test_a_write_is_remembered_by_initdata_path_and_body(first: bytes, second: bytes) -> None:
    one = verify(sign(fields()), TOKEN, NOW, HOUR)
    other = verify(sign(fields(user_id=43)), TOKEN, NOW, HOUR)
    assert write_key(one, "/app/api/ask", first) == write_key(one, "/app/api/ask", first)
    assert write_key(one, "/app/api/ask", first) != write_key(other, "/app/api/ask", first)
    assert write_key(one, "/app/api/ask", first) != write_key(one, "/app/api/x", first)
    if first != second:
        assert write_key(one, "/app/api/ask", first) != write_key(one, "/app/api/ask", second)
