"""Telegram Mini App identity: the signed ``initData`` string, verified as Telegram documents.

https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app:

    secret_key = HMAC_SHA256(key="WebAppData", message=bot_token)
    hash       = hex(HMAC_SHA256(key=secret_key, message=data_check_string))

where ``data_check_string`` is every received ``key=value`` pair except ``hash``, sorted by key
and joined with line feeds. On top of the signature: ``auth_date`` must be no older than the
configured window (``miniapp.max_age``) and not in the future beyond a small clock skew, and a
``user`` must be present. Pure: the time comes from the caller (the injected clock).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

# Telegram's clock and ours may differ by a little; more than this ahead is refused.
SKEW = timedelta(seconds=60)
# A real initData is well under a kilobyte or two; anything much longer is not one.
MAX_LENGTH = 8192


class Problem(enum.StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    SIGNATURE = "signature"
    EXPIRED = "expired"
    FUTURE = "future"
    NO_USER = "no-user"


class InitDataError(Exception):
    """Why an initData was refused (never echoes what was sent)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class WebAppUser:
    id: int
    first_name: str
    last_name: str = ""
    username: str = ""
    language_code: str = ""


@dataclass(frozen=True)
class InitData:
    user: WebAppUser
    auth_date: datetime
    # The signature (hex): unique per launch, so it identifies one initData.
    hash: str


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(pairs: dict[str, str]) -> str:
    return "\n".join(f"{k}={pairs[k]}" for k in sorted(pairs) if k != "hash")


def _pairs(raw: str) -> dict[str, str]:
    try:
        items = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError(Problem.MALFORMED) from None
    pairs: dict[str, str] = {}
    for key, value in items:
        if key in pairs:  # a repeated key makes the check string ambiguous
            raise InitDataError(Problem.MALFORMED)
        pairs[key] = value
    return pairs


def _user(raw: str | None) -> WebAppUser:
    if raw is None:
        raise InitDataError(Problem.NO_USER)
    try:
        data = json.loads(raw)
    except ValueError:
        raise InitDataError(Problem.MALFORMED) from None
    if not isinstance(data, dict):
        raise InitDataError(Problem.MALFORMED)
    user_id = data.get("id")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        raise InitDataError(Problem.NO_USER)

    def text(name: str) -> str:
        value = data.get(name, "")
        return value if isinstance(value, str) else ""

    return WebAppUser(
        id=user_id,
        first_name=text("first_name"),
        last_name=text("last_name"),
        username=text("username"),
        language_code=text("language_code"),
    )


def verify(
    raw: str | None, bot_token: str, now: datetime, max_age: timedelta, skew: timedelta = SKEW
) -> InitData:
    """The verified initData, or :class:`InitDataError` saying why not."""
    if not raw:
        raise InitDataError(Problem.MISSING)
    if len(raw) > MAX_LENGTH:
        raise InitDataError(Problem.MALFORMED)
    pairs = _pairs(raw)
    given = pairs.get("hash", "")
    if len(given) != 64 or any(c not in "0123456789abcdef" for c in given):
        raise InitDataError(Problem.SIGNATURE)
    expected = hmac.new(
        secret_key(bot_token), data_check_string(pairs).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise InitDataError(Problem.SIGNATURE)
    auth = pairs.get("auth_date", "")
    if not auth.isascii() or not auth.isdigit() or len(auth) > 12:
        raise InitDataError(Problem.MALFORMED)
    auth_date = datetime.fromtimestamp(int(auth), UTC)
    if auth_date > now + skew:
        raise InitDataError(Problem.FUTURE)
    if now - auth_date > max_age:
        raise InitDataError(Problem.EXPIRED)
    return InitData(user=_user(pairs.get("user")), auth_date=auth_date, hash=given)


def write_key(init: InitData, path: str, body: bytes) -> str:
    """What a state-changing request is remembered by: this initData, this path, this body.
    The same write sent again with the same initData (a replay, a double tap) is refused; a
    different write with the same initData is not."""
    digest = hashlib.sha256()
    for part in (init.hash.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
