"""Human durations such as ``72h``, ``10m``, ``90d`` or ``1w2d``: parsed and shown back."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d{1,7})\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\s*\d{1,7}\s*[smhdw])+\s*$")

DURATION_HINT = "a duration such as 30m, 24h, 7d or 2w (s, m, h, d, w)"


class DurationError(ValueError):
    """A text that is not a duration; the message says what was expected."""


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse ``"1d12h"``-style text (or a number of seconds) into a positive timedelta."""
    if isinstance(text, timedelta):
        value = text
    elif isinstance(text, bool):
        raise DurationError(f"expected {DURATION_HINT}")
    elif isinstance(text, int | float):
        value = _seconds(text)
    elif not isinstance(text, str):  # YAML null, a list, a date: not a duration
        raise DurationError(f"expected {DURATION_HINT}")
    else:
        cleaned = text.strip().lower()
        if not _WHOLE.match(cleaned):
            raise DurationError(f"expected {DURATION_HINT}")
        seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
        value = _seconds(seconds)
    if value <= timedelta(0):
        raise DurationError(f"expected a positive duration ({DURATION_HINT})")
    return value


def _seconds(seconds: float) -> timedelta:
    try:
        return timedelta(seconds=seconds)
    except (OverflowError, ValueError):  # .inf, NaN, a thousand millennia
        raise DurationError(f"too long or not a number; expected {DURATION_HINT}") from None


def format_duration(value: timedelta) -> str:
    """Show a duration compactly, largest units first (``3d 4h``)."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0m"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    if seconds and not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts)
