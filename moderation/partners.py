"""Who answers for which cluster and organisation: what a person's introduction already says."""

from __future__ import annotations

import re
from collections.abc import Sequence


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def listed_index(value: str | None, listed: Sequence[str]) -> int | None:
    """Where ``value`` (an introduction's organisation or cluster) stands in the configured
    list, ignoring case and spacing (``"unicef "`` → UNICEF's place); None when it is not
    listed, so nothing is pre-selected."""
    if not value or not value.strip():
        return None
    key = _key(value)
    return next((index for index, item in enumerate(listed) if _key(item) == key), None)
