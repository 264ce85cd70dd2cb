"""/start, /help, unknown commands, command menus, the error handler and log redaction."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import RedactSecrets
from handlers.errors import APOLOGY
from simulation.simulator import FAKE_TOKEN, Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID


async def test_start_greets_and_lists_member_commands(sim: Simulator) -> None:
    alice = sim.user("Alice")
    mark = sim.mark()
    await sim.dm(alice, "/start")
    reply = sim.unique_reply(mark, alice.id)
    assert reply.text.startswith("Hello Alice!")
    assert "/help — The commands you can use" in reply.text
    assert "moderator" not in reply.text


async def test_moderators_see_that_they_are_moderators(sim: Simulator) -> None:
    mira = sim.telegram.users[MODERATOR_ID]
    mark = sim.mark()
    await sim.dm(mira, "/help")
    assert "You are a moderator" in sim.unique_reply(mark, MODERATOR_ID).text


async def test_group_admins_count_as_moderators_when_configured(sim: Simulator) -> None:
    from simulation.faketg import FakeMember

    boss = sim.user("Boss")
    sim.telegram.groups[GROUP_ID].members[boss.id] = FakeMember("creator")
    await sim.run_sweeps()
    mark = sim.mark()
    await sim.dm(boss, "/help")
    assert "You are a moderator" in sim.unique_reply(mark, boss.id).text


async def test_help_in_group_points_to_private_chat(sim: Simulator) -> None:
    alice = sim.user("Alice")
    mark = sim.mark()
    await sim.say(alice, "/help")
    reply = sim.unique_reply(mark, GROUP_ID)
    assert "Write to me privately" in reply.text
    assert "/start" not in reply.text  # /start works only in private


async def test_names_are_escaped_not_rendered(sim: Simulator) -> None:
    evil = sim.user('<b>Boss</b> & <a href="x">co')
    mark = sim.mark()
    await sim.dm(evil, "/start")
    reply = sim.unique_reply(mark, evil.id)
    assert reply.text.startswith('Hello <b>Boss</b> & <a href="x">co!')
    assert "&lt;b&gt;" in reply.html


async def test_unknown_command_in_private_points_to_help(sim: Simulator) -> None:
    alice = sim.user("Alice")
    mark = sim.mark()
    await sim.dm(alice, "/frobnicate <b>now</b>")
    assert sim.unique_reply(mark, alice.id).text == (
        "I don't know the command /frobnicate. Send /help to see what I can do."
    )


async def test_unknown_command_in_group_only_when_addressed_to_this_bot(sim: Simulator) -> None:
    alice = sim.user("Alice")
    mark = sim.mark()
    await sim.say(alice, "/otherbotcommand")
    assert sim.since(mark) == []
    await sim.say(alice, "/frobnicate@imbot")
    assert "don't know the command /frobnicate" in sim.unique_reply(mark, GROUP_ID).text


async def test_plain_private_text_gets_a_pointer(sim: Simulator) -> None:
    alice = sim.user("Alice")
    mark = sim.mark()
    await sim.dm(alice, "hello?")
    assert "Send /help" in sim.unique_reply(mark, alice.id).text


async def test_command_menus_per_scope(sim: Simulator) -> None:
    menus = sim.telegram.commands
    private = json.dumps({"type": "all_private_chats"}, sort_keys=True)
    groups = json.dumps({"type": "all_group_chats"}, sort_keys=True)
    moderator = json.dumps({"chat_id": MODERATOR_ID, "type": "chat"}, sort_keys=True)
    # Features append their own commands after these.
    private_menu = [c["command"] for c in menus[private]]
    assert private_menu[:2] == ["start", "help"] and "invite" in private_menu
    assert [c["command"] for c in menus[groups]][:2] == ["help", "whois"]
    assert "start" not in [c["command"] for c in menus[groups]]
    assert moderator in menus


async def test_errors_are_logged_with_update_and_never_shown(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    from telegram.ext import CommandHandler

    async def broken(update: object, context: object) -> None:
        raise RuntimeError(f"internal detail {FAKE_TOKEN}")

    sim.app.add_handler(CommandHandler("boom", broken), group=-5)
    alice = sim.user("Alice")
    mark = sim.mark()
    with caplog.at_level(logging.ERROR):
        await sim.dm(alice, "/boom")
    replies = sim.since(mark, alice.id)
    assert APOLOGY in [m.text for m in replies]
    assert all("internal detail" not in m.text for m in replies)
    # The update is named by its ids and kind, never by what was typed in it.
    logged = [r.getMessage() for r in caplog.records]
    assert any(f"(message) chat {alice.id} user {alice.id}" in line for line in logged)
    assert not any("/boom" in line for line in logged)
    sim.errors.clear()  # this error was the point of the test


async def test_errors_in_groups_are_not_announced(sim: Simulator) -> None:
    from telegram.ext import MessageHandler, filters

    async def broken(update: object, context: object) -> None:
        raise RuntimeError("boom")

    sim.app.add_handler(MessageHandler(filters.TEXT, broken), group=-5)
    mark = sim.mark()
    await sim.say(sim.user("Alice"), "hi")
    assert sim.since(mark, GROUP_ID) == []
    sim.errors.clear()


def test_token_never_reaches_the_log() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "POST https://api.telegram.org/bot%s/getMe",
        (FAKE_TOKEN,),
        None,
    )
    RedactSecrets([FAKE_TOKEN]).filter(record)
    assert FAKE_TOKEN not in record.getMessage()
    assert "[redacted]" in record.getMessage()
