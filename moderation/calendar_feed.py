"""Calendar feeds: a person's secret address for their deadlines, and the HTTP cache rules.

The secret is shown once, to its owner; the database keeps only its SHA-256 digest, so a copy
of the database does not reveal anyone's feed address.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

# Calendar apps poll on their own schedule, often hours apart. A quarter of an hour lets a cache
# in between answer repeated polls without delaying a change for long.
MAX_AGE_S = 15 * 60
SECRET_BYTES = 32  # token_urlsafe(32): 43 characters, 256 bits


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_digest(secret: str) -> str:
    """What the database keeps of a secret (64 hex characters)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def may_have_feed(is_member: bool, is_moderator: bool) -> bool:
    """A feed is for people of the operation: a member of a configured group, or a moderator."""
    return is_member or is_moderator


def feed_url(public_url: str, secret: str) -> str:
    """The address a calendar app subscribes to, under the bot's public base address."""
    return f"{public_url.rstrip('/')}/calendar/{secret}.ics"


def etag_of(body: bytes) -> str:
    """A strong entity tag: the same bytes, the same tag."""
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def parse_http_date(text: str) -> datetime | None:
    """An HTTP date (RFC 9110: IMF-fixdate and the two obsolete forms); None if unreadable."""
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000" and the obsolete forms: GMT by definition
        moment = moment.replace(tzinfo=UTC)
    return moment


def _tags(header: str) -> set[str]:
    tags = {t.strip() for t in header.split(",")}
    # A weak comparison is what If-None-Match uses (RFC 9110 13.1.2): W/"x" matches "x".
    return {t.removeprefix("W/") for t in tags if t}


def not_modified(
    if_none_match: str | None,
    if_modified_since: str | None,
    etag: str,
    last_modified: datetime,
) -> bool:
    """Whether a GET may answer 304 (RFC 9110 13.2.2): If-None-Match decides when present;
    otherwise If-Modified-Since, at whole seconds (an HTTP date has no fractions)."""
    if if_none_match is not None:
        tags = _tags(if_none_match)
        return "*" in tags or etag in tags
    if if_modified_since is not None:
        since = parse_http_date(if_modified_since)
        if since is None:
            return False
        return last_modified.astimezone(UTC).replace(microsecond=0) <= since
    return False
