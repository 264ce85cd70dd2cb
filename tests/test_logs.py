"""Logs never contain the token, phone numbers or e-mail addresses; JSON lines on request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.logs import RedactingFormatter, redact, setup_logging

TOKEN = "123456:AAE-secret_token_value"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def logged(stream: io.StringIO, log_format: str, *records: tuple[str, tuple[object, ...]]) -> str:
    setup_logging("INFO", [TOKEN], log_format)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    log = logging.getLogger("imbot.test")
    for message, args in records:
        log.info(message, *args)
    try:
        raise RuntimeError(f"request to /bot{TOKEN}/sendMessage for olena@unicef.org failed")
    except RuntimeError:
        log.exception("while calling +380 50 123 45 67")
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_token_phone_or_email_in_messages_or_tracebacks(
    captured: io.StringIO, log_format: str
) -> None:
    out = logged(
        captured,
        log_format,
        ("calling https://api.telegram.org/bot%s/getMe", (TOKEN,)),
        (
            "contact %s, phone %s, office %s",
            ("olena.p@unicef.org", "+380501234567", "044-123-45-67"),
        ),
        ("user %s in chat %s at %s", (111111111, -1001234567890, "2026-11-25 12:00")),
    )
    for secret in (TOKEN, "olena.p@unicef.org", "olena@unicef.org", "+380501234567", "123 45 67"):
        assert secret not in out
    assert "044-123-45-67" not in out
    assert "[redacted]" in out and "[email]" in out and "[phone]" in out
    # Ids and dates stay: operators need them.
    assert "111111111" in out and "-1001234567890" in out and "2026-11-25 12:00" in out
    assert "Traceback" in out


def test_json_lines_have_level_logger_message_and_exception(captured: io.StringIO) -> None:
    out = logged(captured, "json", ("hello %s", ("world",)))
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "imbot.test"
    assert lines[0]["message"] == "hello world" and lines[0]["time"].endswith("+00:00")
    assert lines[-1]["level"] == "ERROR" and "RuntimeError" in lines[-1]["exception"]
    assert "[email]" in lines[-1]["exception"]


def test_text_format_keeps_the_timestamp() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "at %s", ("2026-01-02",), None)
    line = RedactingFormatter(["secret"]).format(record)
    stamp = logging.Formatter().formatTime(record)
    assert line == f"{stamp} INFO x: at 2026-01-02"  # time and date untouched


phones = st.builds(
    lambda country, digits, sep: "+" + country + sep + sep.join(digits),
    st.sampled_from(["380", "1", "44", "93", "963"]),
    st.lists(st.text("0123456789", min_size=2, max_size=4), min_size=2, max_size=4),
    st.sampled_from([" ", "-", "", "."]),
).filter(lambda p: 7 <= sum(c.isdigit() for c in p) <= 15)
emails = st.emails()


@given(phone=phones, email=emails, before=st.text(" abcxyz:,;", max_size=8))
def test_property_phones_and_emails_never_survive(phone: str, email: str, before: str) -> None:
    text = f"{before}{phone} {email}{before}"
    out = redact(text, [])
    assert phone not in out
    assert email not in out
