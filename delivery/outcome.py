"""The one mapping from what Telegram answered to what the bot does about a message."""

from __future__ import annotations

import warnings
from datetime import timedelta
from enum import Enum

from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError


class Outcome(Enum):
    SENT = "sent"  # Telegram has it
    DONE = "done"  # nothing to send any more (answered, cancelled, merged)
    THROTTLED = "throttled"  # 429: wait ``retry_after``, start nothing more now
    UNREACHABLE = "unreachable"  # blocked the bot, never started it, chat gone
    REFUSED = "refused"  # any other 400: the same message will never go through
    RETRY = "retry"  # network trouble or a server error: try again later
    LOST = "lost"  # the claim no longer holds: another process has the row


def outcome_of(error: TelegramError) -> Outcome:
    if isinstance(error, RetryAfter):
        return Outcome.THROTTLED
    if isinstance(error, Forbidden):
        return Outcome.UNREACHABLE
    if isinstance(error, BadRequest):
        gone = "chat not found" in str(error).lower()
        return Outcome.UNREACHABLE if gone else Outcome.REFUSED
    return Outcome.RETRY  # NetworkError, TimedOut, 5xx


def retry_after(error: TelegramError) -> float:
    """Seconds Telegram asked to wait (0 for anything but a 429)."""
    if not isinstance(error, RetryAfter):
        return 0.0
    with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
        warnings.simplefilter("ignore")
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
