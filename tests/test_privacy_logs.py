"""Logs hold ids, never what people wrote: a failing update full of personal data, through the
real bot with the database away, leaves none of it in the captured log."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logs import setup_logging
from simulation.faketg import FakeMember
from simulation.simulator import FAKE_TOKEN, Simulator
from tests.helpers import database_unreachable

# Every value is unusual enough that finding it anywhere in the log can only be a leak.
FIRST, LAST, USERNAME = "Zoryana", "Quillfeather", "zoryana_q_private"
PHONE, PHONE_DIGITS = "+380 44 987 6543", "380449876543"
EMAIL = "zoryana.quill@unicef.org"
SECRET_WORDS = "shelter-for-my-brother-in-Izium"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    telegram_level = logging.getLogger("telegram").level
    stream = io.StringIO()
    # DEBUG on purpose: even the most talkative level must not carry an update's content.
    setup_logging("DEBUG", [FAKE_TOKEN], "text")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("telegram").setLevel(telegram_level)


def assert_nothing_personal(text: str) -> None:
    for value in (FIRST, LAST, USERNAME, PHONE, PHONE_DIGITS, EMAIL, SECRET_WORDS, "987 6543"):
        assert value.lower() not in text.lower(), f"{value!r} reached the log"


async def test_a_failing_profile_save_logs_ids_and_handler_not_the_person(
    sim: Simulator, log_stream: io.StringIO
) -> None:
    person = sim.user(FIRST, LAST, USERNAME)
    sim.group.members[person.id] = FakeMember("member")
    await sim.say(person, "hello")
    await sim.dm(person, "/start")
    await sim.dm(person, "/profile")
    for answer in (f"{FIRST} {LAST}", "UNICEF", SECRET_WORDS, "WASH", "Kharkiv", PHONE, EMAIL):
        await sim.dm(person, answer)
    await sim.dm(person, "/skip")
    await sim.dm(person, "yes")
    form = sim.last(person.id)
    with database_unreachable(sim):
        await sim.press(person, form, "Save")
        # A group message full of personal data while the database is away.
        await sim.say(person, f"{FIRST} {LAST} here, call {PHONE} or {EMAIL}: {SECRET_WORDS}")
    assert sim.errors, "the database failure should have reached the error handler"
    sim.errors.clear()
    out = log_stream.getvalue()
    assert_nothing_personal(out)
    # What an operator needs is there: ids, the kind of update, the handler, the traceback.
    assert f"user {person.id}" in out and f"chat {person.id}" in out
    assert f"chat {sim.group.id}" in out
    assert "(callback_query)" in out and "(message)" in out
    assert "in handlers.forms.route" in out  # /profile is a stored form: its answers' handler
    assert "Traceback (most recent call last)" in out
    assert "the database failed" in out
    assert "apology" not in out  # the private apology went out


async def test_a_failing_update_never_logs_exception_messages_that_quote_data(
    sim: Simulator, log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception quoting what it could not handle (as ValueError often does) is logged by
    its type; a programming error keeps its message, which describes the code."""
    import handlers.start as start

    person = sim.user(FIRST, LAST, USERNAME)

    def quoting(*args: object) -> str:
        raise ValueError(f"cannot parse {FIRST} {LAST} {EMAIL} {SECRET_WORDS}")

    monkeypatch.setattr(start, "unknown_topic_text", quoting)  # /help WORDS: an unknown topic
    await sim.dm(person, f"/help {SECRET_WORDS}")
    assert sim.errors
    sim.errors.clear()
    out = log_stream.getvalue()
    assert_nothing_personal(out)
    assert "ValueError (message not logged" in out
    assert "in handlers.start.help_command" in out
