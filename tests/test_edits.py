"""Edited messages, end to end through the fake Bot API (issue: "an edited command does not act
again").

The README's promise: an edit never runs a command of any feature, never answers a form, never
counts toward the flood limit or a warning a second time, and never sends mentions; an edit that
adds a banned word, or a link before the introduction, is still moderated as content.

Each command below is sent once and then edited three times (typo fixes, a changed person, a
changed date): exactly one effect, in the database and in the Bot API calls.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update

from config.loader import LoadedConfig
from handlers.moderation.watcher import edit_gate
from handlers.order import Stage
from moderation.clock import FakeClock
from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from storage.models import MemberWarning, ModerationAction, Mute, Submission
from tests.conftest import GROUP_ID
from tests.lifecycle import member as introduced_member
from tests.lifecycle import row_of
from tests.moderation_support import actions, custom, member, mira, warnings_of
from tests.test_deadlines import SITREP, partner, run_until
from tests.test_joins import veteran

JSON = dict[str, Any]


def rows(sim: Simulator, model: type[Any]) -> int:
    with sim.services.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def api_calls(sim: Simulator) -> list[str]:
    return [c.method for c in sim.telegram.calls]


async def edited_three_times(sim: Simulator, sent: JSON, *texts: str) -> None:
    """The author edits ``sent`` three times; not one Bot API call or database row follows."""
    assert len(texts) == 3
    before = len(sim.telegram.calls)
    tables = {m: rows(sim, m) for m in (MemberWarning, ModerationAction, Mute, Submission)}
    for text in texts:
        await sim.edit(sent, text)
    assert api_calls(sim)[before:] == []
    assert {m: rows(sim, m) for m in tables} == tables
    assert not sim.errors


# --------------------------------------------------------------------------- moderators' commands
async def test_an_edited_warn_warns_once(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    sent = await sim.say(mira(sim), "/warn @ivan stay on topc")
    assert len(warnings_of(sim, ivan.id)) == 1
    await edited_three_times(
        sim,
        sent,
        "/warn @ivan stay on topic",
        "/warn @ivan stay on topic please",
        "/warn @ivan Stay on topic please.",
    )
    # One warning: no escalation to a mute or a removal from typo fixes.
    assert len(warnings_of(sim, ivan.id)) == 1
    assert [a.kind for a in actions(sim)] == ["warn"]
    assert sim.telegram.calls_to("restrictChatMember") == []
    assert sim.telegram.calls_to("banChatMember") == []


async def test_an_edited_mute_restricts_once(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    sent = await sim.say(mira(sim), "/mute @ivan 1h noisy")
    await edited_three_times(
        sim, sent, "/mute @ivan 2h noisy", "/mute @ivan 1d noisy", "/unmute @ivan"
    )
    assert len(sim.telegram.calls_to("restrictChatMember")) == 1
    assert rows(sim, Mute) == 1
    assert [a.kind for a in actions(sim)] == ["mute"]
    assert sim.group.members[ivan.id].status == "restricted"  # the edit to /unmute did nothing


@pytest.mark.parametrize("command", ["ban", "remove"])
async def test_an_edited_ban_or_removal_acts_once(sim: Simulator, command: str) -> None:
    await member(sim, "Ivan")
    petro = await member(sim, "Petro")
    sent = await sim.say(mira(sim), f"/{command} @ivan spam")
    bans = len(sim.telegram.calls_to("banChatMember"))
    assert bans == 1
    await edited_three_times(
        sim,
        sent,
        f"/{command} @ivan spam links",
        f"/{command} @petro spam links",  # even another person: an edit is not a new order
        f"/{command} @ivan spam, links",
    )
    assert [a.kind for a in actions(sim)] == [command]
    assert sim.group.members[petro.id].status == "member"


# --------------------------------------------------------------------------- other features
async def test_an_edited_submitted_records_once(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await run_until(sim, SITREP - timedelta(days=1))
    mark = sim.mark()
    sent = await sim.dm(alice, "/submitted sitrep")
    assert "is submitted for WASH (cluster)" in sim.unique_reply(mark, alice.id).text
    assert rows(sim, Submission) == 1
    await edited_three_times(
        sim, sent, "/submitted sitrep ", "/submitted nope", "/submitted displacement"
    )
    assert rows(sim, Submission) == 1


async def test_an_edited_leaving_keeps_the_first_date(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await introduced_member(sim, ivan, "Olena", "Petrenko")
    sent = await sim.dm(olena, "/leaving 20 Dec")
    row = row_of(sim, olena.id)
    assert row is not None and row.departure_date == date(2026, 12, 20)
    await edited_three_times(sim, sent, "/leaving 21 Dec", "/leaving 22 Dec", "/leaving soonish")
    row = row_of(sim, olena.id)
    assert row is not None and row.departure_date == date(2026, 12, 20)


async def test_an_edit_that_adds_a_mention_notifies_nobody(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    sent = await sim.say(ivan, "the meeting moved to 3pm")
    await edited_three_times(
        sim,
        sent,
        "@all the meeting moved to 3pm",
        "@petro the meeting moved to 3pm",
        "/help @all the meeting moved to 3pm",
    )


async def test_an_edited_form_answer_is_not_a_new_answer(sim: Simulator) -> None:
    """A private text (which a form or the private fallback would answer) edited: silence."""
    ivan = await member(sim, "Ivan")
    mark = sim.mark()
    sent = await sim.dm(ivan, "hello")
    answered = len(sim.since(mark, ivan.id))
    assert answered >= 1  # the private fallback answers a new message
    await edited_three_times(sim, sent, "hello!", "/start", "/cancel")


# --------------------------------------------------------------------------- content still checked
async def test_an_edit_adding_a_banned_word_is_moderated_once(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with custom(config, clock, banned_words=["idiot"]) as sim:
        ivan = await member(sim, "Ivan")
        sent = await sim.say(ivan, "you are a genius")
        start = len(sim.telegram.calls)
        await sim.edit(sent, "you are a genius, said no idiot ever")
        key = (GROUP_ID, sent["message"]["message_id"])
        assert sim.telegram.messages[key].deleted
        assert api_calls(sim)[start:].count("deleteMessage") == 1
        (action,) = actions(sim, "banned_word")
        assert action.target_id == ivan.id and action.detail == "idiot"
        assert "“idiot”" in sim.last(ivan.id).text
        # The message is gone: Telegram lets nobody edit it again, so nothing more can happen.
        with pytest.raises(Exception, match="not found"):
            await sim.edit(sent, "you are an idiot")
        assert len(actions(sim, "banned_word")) == 1
        # A clean edit of another message is left alone.
        other = await sim.say(ivan, "see you at 3")
        await edited_three_times(sim, other, "see you at 4", "see you at 5", "see you at 6")


async def test_an_edit_adding_a_link_before_the_introduction_is_deleted(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    olena = sim.user("Olena", "Petrenko", "olena_p")
    sim.telegram.started.add(olena.id)
    await sim.join(olena, added_by=ivan)
    sim.group.members[olena.id] = FakeMember("member")  # e.g. the hold could not be applied
    sent = await sim.say(olena, "my offer follows")
    assert not sim.telegram.messages[(GROUP_ID, sent["message"]["message_id"])].deleted
    await sim.edit(sent, "my offer: https://example.org/deal")
    assert sim.telegram.messages[(GROUP_ID, sent["message"]["message_id"])].deleted
    assert [a.kind for a in actions(sim, "link_blocked")] == ["link_blocked"]


async def test_edits_do_not_count_toward_the_flood_window(sim: Simulator) -> None:
    """The README's flood limit: ``messages`` new messages within ``per``; edits are not new."""
    flood = sim.services.settings.moderation.flood
    assert flood is not None
    ivan = await member(sim, "Ivan")  # says one message
    sim.clock.advance(flood.per + timedelta(seconds=1))  # that one no longer counts
    said = [await sim.say(ivan, f"point {n}") for n in range(flood.messages - 1)]
    for n in range(3 * flood.messages):  # many edits within the same window
        await sim.edit(said[n % len(said)], f"point {n}, corrected")
    assert actions(sim, "flood") == []
    assert sim.telegram.calls_to("restrictChatMember") == []
    await sim.say(ivan, "one more point")  # the limit's own message: a flood now
    assert len(actions(sim, "flood")) == 1


async def test_an_edit_by_a_muted_flooder_does_not_mute_again(sim: Simulator) -> None:
    flood = sim.services.settings.moderation.flood
    assert flood is not None
    ivan = await member(sim, "Ivan")  # says one message
    said = [await sim.say(ivan, f"msg {n}") for n in range(flood.messages - 1)]
    assert len(actions(sim, "flood")) == 1
    await edited_three_times(sim, said[-1], "msg a", "msg b", "msg c")


# --------------------------------------------------------------------------- where edits stop
async def test_the_edit_gate_comes_before_every_handler_that_takes_an_edit(
    sim: Simulator,
) -> None:
    """No handler that would accept an edited message sits before the gate, in any chat."""
    ivan = await member(sim, "Ivan")
    edits = [
        sim.telegram.edit(await sim.say(ivan, "hi"), "/help"),
        sim.telegram.edit(await sim.dm(ivan, "hi"), "/leaving 20 Dec"),
    ]
    for data in edits:
        update = Update.de_json(data, sim.app.bot)
        assert update.edited_message is not None
        accepting = [
            (group, handler)
            for group in sorted(sim.app.handlers)
            for handler in sim.app.handlers[group]
            if handler.check_update(update) not in (None, False)
        ]
        gate = next(i for i, (_g, h) in enumerate(accepting) if h.callback is edit_gate)
        assert accepting[gate][0] == Stage.ROSTER_AND_WATCH
        # Before the gate only the language choice and user tracking (TypeHandlers, no reply).
        assert all(group < Stage.ROSTER_AND_WATCH for group, _h in accepting[:gate])
        assert len(accepting) > gate + 1  # without the gate, commands would take it
