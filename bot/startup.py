"""Why ``imbot run`` could not start, in one line that says what to check.

Each kind of failure has its own exit code (documented in the README), so that systemd or an
orchestrator can tell a wrong token (do not retry) from an unreachable Telegram (retry).
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass

from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

TOKEN_REJECTED = 4
TELEGRAM_UNREACHABLE = 5
CANNOT_LISTEN = 6
TELEGRAM_REFUSED = 7


@dataclass(frozen=True)
class StartupFailure:
    message: str
    code: int


def explain(exc: BaseException, api_url: str, listen: str, port: int) -> StartupFailure | None:
    """The failure behind ``exc``, or None for an unexpected error (a bug: keep the traceback).

    Messages never quote the exception's own text where it may carry the token (PTB puts the
    token in InvalidToken's message).
    """
    if isinstance(exc, InvalidToken):
        return StartupFailure(
            f"Telegram ({api_url}) rejected BOT_TOKEN. Check the token BotFather gave you "
            "(and BOT_API_URL if you run your own Bot API server).",
            TOKEN_REJECTED,
        )
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):  # BadRequest is one
        return StartupFailure(
            f"cannot reach Telegram at {api_url} ({type(exc).__name__}). Check the network, "
            "a proxy or firewall, and BOT_API_URL.",
            TELEGRAM_UNREACHABLE,
        )
    if isinstance(exc, TelegramError):
        return StartupFailure(
            f"Telegram refused a start-up request: {exc.message}. Check --webhook-url "
            "(a public HTTPS URL Telegram can reach) and WEBHOOK_SECRET.",
            TELEGRAM_REFUSED,
        )
    if isinstance(exc, OSError) and exc.errno in {
        errno.EADDRINUSE,
        errno.EADDRNOTAVAIL,
        errno.EACCES,
    }:
        return StartupFailure(
            f"cannot listen on {listen}:{port} ({exc.strerror}). Check --listen and --port: "
            "another process may use the port, or the address is not this machine's.",
            CANNOT_LISTEN,
        )
    return None


class QuietBootstrap(logging.Filter):
    """Drop PTB's own traceback for a failed bootstrap call: ``explain`` reports it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Network Retry Loop (Bootstrap")
