"""Logging set-up: levels, text or JSON lines, and never a secret or a person's contact.

Everything a handler logs passes through ``redact``: the bot token and webhook secret, and
anything shaped like an e-mail address or a phone number (``+380 50 123 4567``,
``050-123-45-67``) become ``[redacted]``/``[email]``/``[phone]`` — in the message and in
tracebacks. Plain digit runs without ``+`` or separators are left alone: they are Telegram
user and chat ids, which operators need.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# +country…: 7–15 digits with optional separators; or 3+ digit groups joined by separators.
PHONE = re.compile(
    r"(?<![\d+])(?:\+\d[\d\s().-]{5,20}\d"
    r"|\(?\d{2,5}\)?[\s.-]\d{2,4}[\s.-]\d{2,4}(?:[\s.-]\d{2,4})?)(?![\w])"
)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = EMAIL.sub("[email]", text)
    return PHONE.sub(_phone, text)


NOT_A_PHONE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T].*)?"  # a date
    r"|\d{1,3}(?:\.\d{1,3}){3}"  # an IPv4 address
)


def _phone(found: re.Match[str]) -> str:
    value = found.group()
    digits = sum(c.isdigit() for c in value)
    if not 7 <= digits <= 15 or NOT_A_PHONE.fullmatch(value):
        return value
    return "[phone]"


class RedactSecrets(logging.Filter):
    """Redacts the message of every record (kept for handlers that format on their own)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        return True


class RedactingFormatter(logging.Formatter):
    """Formats, then redacts the whole line, tracebacks included; text or one JSON object."""

    def __init__(self, secrets: list[str], json_lines: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = [s for s in secrets if s]
        self.json_lines = json_lines

    def formatException(self, ei: object) -> str:
        return redact(super().formatException(ei), self.secrets)  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:
        return redact(super().formatStack(stack_info), self.secrets)

    def format(self, record: logging.LogRecord) -> str:
        if not self.json_lines:
            record.msg, record.args = redact(record.getMessage(), self.secrets), None
            return super().format(record)
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage(), self.secrets),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info), self.secrets)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, secrets: list[str], log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(secrets, json_lines=log_format == "json"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, which contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # PTB logs whole updates (people's messages) at DEBUG: never below INFO, whatever the level.
    logging.getLogger("telegram").setLevel(max(logging.getLevelName(level), logging.INFO))
