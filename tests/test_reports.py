"""/report end to end through the fake Bot API: one entry per reported message, reporters counted
and unseen by the reported member, a member's reports rate-limited, the hide threshold, the
moderators' buttons taken once each. Oracle: the README's "Reports" section."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from config.loader import LoadedConfig
from moderation.clock import FakeClock
from simulation.faketg import FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.models import Report
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.moderation_support import LOG_CHAT, actions, custom, member, mira, warnings_of

REFUSED = "only the group's moderators"


def answer(sim: Simulator) -> str:
    return str(sim.telegram.calls_to("answerCallbackQuery")[-1].get("text", ""))


def entries(sim: Simulator, chat_id: int = LOG_CHAT) -> list[SentMessage]:
    """The report entries in a chat, as they are now (edits included)."""
    return [m for m in sim.telegram.sent(chat_id) if m.text.startswith("🚩")]


def reports(sim: Simulator) -> list[Report]:
    with sim.services.db.transaction() as session:
        return list(session.query(Report).order_by(Report.id))


async def report(sim: Simulator, reporter: FakeUser, said: dict[str, Any]) -> dict[str, Any]:
    return await sim.say(reporter, "/report", reply_to=said["message"]["message_id"])


def gone(sim: Simulator, sent: dict[str, Any]) -> bool:
    return sim.telegram.messages[(GROUP_ID, sent["message"]["message_id"])].deleted


async def test_many_reporters_one_entry_counted_and_unseen(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with custom(config, clock, log_chat_id=LOG_CHAT) as sim:
        ivan = await member(sim, "Ivan")
        others = [await member(sim, name) for name in ("Olga", "Petro", "Anna")]
        said = await sim.say(ivan, "buy <b>cheap</b> visas at my shop")
        mark = sim.mark()
        for n, reporter in enumerate(others, start=1):
            command = await report(sim, reporter, said)
            assert gone(sim, command)  # the command leaves the group: nobody sees who reported
            assert "the moderators of" in sim.last(reporter.id).text
            (entry,) = entries(sim)
            assert f"Reported by {n} member" in entry.text
        assert "a message by Ivan Koval" in entry.text
        assert "“buy <b>cheap</b> visas at my shop”" in entry.text  # shown as text, not markup
        assert "Olga Koval, Petro Koval, Anna Koval" in entry.text
        assert len(reports(sim)) == 1
        # The reported member was told nothing, the group saw nothing, the message stays.
        assert sim.since(mark, ivan.id) == [] and sim.since(mark, GROUP_ID) == []
        assert not gone(sim, said)
        # Reporting again is counted once.
        await report(sim, others[0], said)
        assert "already reported" in sim.last(others[0].id).text
        assert "Reported by 3 members" in entries(sim)[0].text


async def test_refusals_explain_politely(config: LoadedConfig, clock: FakeClock) -> None:
    async with custom(config, clock, log_chat_id=LOG_CHAT) as sim:
        ivan = await member(sim, "Ivan")
        olga = await member(sim, "Olga")
        mark = sim.mark()
        await sim.say(olga, "/report")
        assert "reply with /report" in sim.unique_reply(mark, GROUP_ID).text
        mine = await sim.say(olga, "my own words")
        mark = sim.mark()
        await report(sim, olga, mine)
        assert "your own message" in sim.unique_reply(mark, GROUP_ID).text
        boss = await sim.say(mira(sim), "Please keep on topic")
        mark = sim.mark()
        await report(sim, ivan, boss)
        assert "moderators cannot be reported" in sim.unique_reply(mark, GROUP_ID).text
        await sim.say(olga, "/report")  # the bot's own reply, reported
        bots = sim.last(GROUP_ID)
        mark = sim.mark()
        await sim.say(ivan, "/report", reply_to=bots.message_id)
        assert "my own message" in sim.unique_reply(mark, GROUP_ID).text
        assert reports(sim) == [] and entries(sim) == []


async def test_rate_limit_per_member(config: LoadedConfig, clock: FakeClock) -> None:
    async with custom(
        config, clock, log_chat_id=LOG_CHAT, report_rate={"reports": 2, "per": "1h"}
    ) as sim:
        ivan = await member(sim, "Ivan")
        olga = await member(sim, "Olga")
        said = [await sim.say(ivan, f"message {n}") for n in range(4)]
        await report(sim, olga, said[0])
        await report(sim, olga, said[1])
        await report(sim, olga, said[2])
        assert "at most 2 messages per 1 hour" in sim.last(olga.id).text
        assert len(reports(sim)) == 2
        await sim.advance(timedelta(minutes=61))
        await report(sim, olga, said[3])
        assert len(reports(sim)) == 3


async def test_hidden_after_n_distinct_reporters(config: LoadedConfig, clock: FakeClock) -> None:
    async with custom(config, clock, log_chat_id=LOG_CHAT, report_hide_after=2) as sim:
        ivan = await member(sim, "Ivan")
        olga, petro = await member(sim, "Olga"), await member(sim, "Petro")
        said = await sim.say(ivan, "something rude")
        await report(sim, olga, said)
        await report(sim, olga, said)  # the same reporter twice is one
        assert not gone(sim, said)
        await report(sim, petro, said)
        assert gone(sim, said)
        (entry,) = entries(sim)
        assert "Hidden pending review" in entry.text
        labels = [b["text"] for b in entry.buttons()]
        assert not any("Delete" in label for label in labels) and any("Warn" in x for x in labels)
        (hidden,) = actions(sim, "report_hide")
        assert hidden.target_id == ivan.id and hidden.actor_id is None


async def test_hiding_without_the_delete_right_is_not_claimed(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with custom(config, clock, log_chat_id=LOG_CHAT, report_hide_after=1) as sim:
        ivan = await member(sim, "Ivan")
        olga, petro = await member(sim, "Olga"), await member(sim, "Petro")
        said = await sim.say(ivan, "something rude")
        sim.group.members[sim.telegram.bot.id].rights["can_delete_messages"] = False
        await report(sim, olga, said)
        assert not gone(sim, said)
        (entry,) = entries(sim)
        assert "Hidden pending review" not in entry.text
        assert any("Delete" in b["text"] for b in entry.buttons())
        sim.group.members[sim.telegram.bot.id].rights["can_delete_messages"] = True
        await report(sim, petro, said)  # the next reporter tries again
        assert gone(sim, said) and "Hidden pending review" in entries(sim)[0].text


async def test_buttons_moderators_only_once_each(config: LoadedConfig, clock: FakeClock) -> None:
    async with custom(config, clock, log_chat_id=LOG_CHAT) as sim:
        ivan = await member(sim, "Ivan")
        olga = await member(sim, "Olga")
        said = await sim.say(ivan, "spam spam")
        await report(sim, olga, said)
        (entry,) = entries(sim)
        # A member presses: refused, nothing done.
        await sim.press(olga, entry, "Mute")
        assert REFUSED in answer(sim)
        assert sim.group.members[ivan.id].status == "member"
        # The moderator mutes (report_mute, 24 h by default), once.
        data = next(b["callback_data"] for b in entry.buttons() if "Mute" in b["text"])
        await sim.press(mira(sim), entry, "Mute")
        assert answer(sim) == "Done."
        assert sim.group.members[ivan.id].status == "restricted"
        (muted,) = actions(sim, "mute")
        assert muted.until == sim.clock.now() + timedelta(hours=24)
        await sim.feed(sim.telegram.forged_press(MODERATOR_ID, LOG_CHAT, entry.message_id, data))
        assert "already decided" in answer(sim)
        assert len(actions(sim, "mute")) == 1
        # Warn and Delete, each once; Dismiss is no longer offered.
        (entry,) = entries(sim)
        assert "Muted by Mira Moderator" in entry.text and "Kyiv time" in entry.text
        assert not any("Dismiss" in b["text"] for b in entry.buttons())
        await sim.press(mira(sim), entry, "Warn")
        assert len(warnings_of(sim, ivan.id)) == 1
        await sim.press(mira(sim), entries(sim)[0], "Delete")
        assert gone(sim, said)
        assert entries(sim)[0].buttons() == []
        # Forged data: no such report, a decision on another message.
        for forged in ("rp:999:del", "rp:x:del", f"rp:{reports(sim)[0].id}:ban"):
            await sim.feed(
                sim.telegram.forged_press(MODERATOR_ID, LOG_CHAT, entry.message_id, forged)
            )
            assert "not valid" in answer(sim) or REFUSED in answer(sim), forged
        assert len(warnings_of(sim, ivan.id)) == 1
        assert all(n == 1 for n in sim.presses.values())


async def test_dismissed_reports_show_per_reporter(config: LoadedConfig, clock: FakeClock) -> None:
    """False-report abuse is visible: each reporter's dismissed reports are counted."""
    async with custom(config, clock, log_chat_id=LOG_CHAT) as sim:
        ivan = await member(sim, "Ivan")
        olga = await member(sim, "Olga")
        first = await sim.say(ivan, "hello all")
        await report(sim, olga, first)
        await sim.press(mira(sim), entries(sim)[0], "Dismiss")
        assert "Dismissed by Mira Moderator" in entries(sim)[0].text
        assert "dismissed before" not in entries(sim)[0].text  # counts only other reports
        assert entries(sim)[0].buttons() == []
        assert len(actions(sim, "report_dismiss")) == 1
        second = await sim.say(ivan, "good morning")
        await report(sim, olga, second)
        assert "Olga Koval (1 report dismissed before)" in entries(sim)[1].text


async def test_without_a_log_chat_each_moderator_privately(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    olga, petro = await member(sim, "Olga"), await member(sim, "Petro")
    said = await sim.say(ivan, "off topic rant")
    await report(sim, olga, said)
    await report(sim, petro, said)
    (entry,) = entries(sim, MODERATOR_ID)
    assert "Reported by 2 members" in entry.text
    await sim.press(mira(sim), entry, "Delete")
    assert gone(sim, said)
    assert "Deleted by Mira Moderator" in entries(sim, MODERATOR_ID)[0].text
