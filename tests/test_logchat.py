"""The moderators' log chat, worked from: undo buttons on every entry, end to end through the
fake Bot API. Oracle: the README's "Moderation" section ("The log chat")."""

from __future__ import annotations

from config.loader import LoadedConfig
from moderation.clock import FakeClock
from simulation.faketg import FakeMember, FakeUser
from simulation.simulator import Simulator
from storage.models import LogEntry, ModerationAction
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.moderation_support import LOG_CHAT, actions, custom, member, mira, warnings_of

REFUSED = "only the group's moderators"
NOT_VALID = "that button is not valid"


def answer(sim: Simulator) -> str:
    return str(sim.telegram.calls_to("answerCallbackQuery")[-1].get("text", ""))


def buttons(sim: Simulator) -> list[str]:
    return [str(b["callback_data"]) for b in sim.last(LOG_CHAT).buttons()]


async def replay(sim: Simulator, user: FakeUser, message_id: int, data: str) -> None:
    """A press whose data is not (or no longer) on the message: a replay or a forgery."""
    await sim.feed(sim.telegram.forged_press(user.id, LOG_CHAT, message_id, data))


def undone(sim: Simulator, kind: str) -> list[ModerationAction]:
    return [a for a in actions(sim, kind) if a.detail == "log chat"]


def entries(sim: Simulator) -> list[LogEntry]:
    with sim.services.db.transaction() as session:
        return list(session.query(LogEntry).order_by(LogEntry.id))


async def test_unmute_from_the_log_chat_once_and_only_by_a_moderator(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with custom(config, clock, log_chat_id=LOG_CHAT) as sim:
        ivan = await member(sim, "Ivan")
        olga = await member(sim, "Olga")
        await sim.say(mira(sim), "/mute @ivan 2h spamming <b>links</b>")
        entry = sim.last(LOG_CHAT)
        assert "Mira Moderator muted Ivan Koval" in entry.text
        assert "<b>links</b>" in entry.text  # the typed reason is shown as text, not markup
        (data,) = buttons(sim)
        assert data.startswith("lg:") and data.endswith(":unmute")
        assert sim.group.members[ivan.id].status == "restricted"

        # A member presses: a polite refusal, nothing changes.
        await sim.press(olga, entry, "Unmute")
        assert REFUSED in answer(sim)
        assert sim.group.members[ivan.id].status == "restricted"
        assert undone(sim, "unmute") == [] and buttons(sim) == [data]

        # The moderator presses: undone, audited, the entry says who and when.
        await sim.press(mira(sim), entry, "Unmute")
        assert answer(sim) == "Done."
        assert sim.group.members[ivan.id].status == "member"
        (action,) = undone(sim, "unmute")
        assert action.actor_id == MODERATOR_ID and action.target_id == ivan.id
        edited = sim.telegram.messages[(LOG_CHAT, entry.message_id)]
        assert edited.edited and edited.buttons() == []
        assert "Unmuted by Mira Moderator" in edited.text and "Kyiv time" in edited.text
        assert "You can write in" in sim.last(ivan.id).text
        (row,) = entries(sim)
        assert row.undone_by_id == MODERATOR_ID and row.undone_at == sim.clock.now()

        # Pressed again (a stale keyboard, a replayed update): nothing more happens.
        restricts = len(sim.telegram.calls_to("restrictChatMember"))
        await replay(sim, mira(sim), entry.message_id, data)
        assert "already undone" in answer(sim)
        assert len(undone(sim, "unmute")) == 1
        assert len(sim.telegram.calls_to("restrictChatMember")) == restricts


async def test_unwarn_unban_and_readmit_buttons(config: LoadedConfig, clock: FakeClock) -> None:
    async with custom(config, clock, log_chat_id=LOG_CHAT) as sim:
        ivan = await member(sim, "Ivan")
        petro = await member(sim, "Petro")
        olena = await member(sim, "Olena")
        await sim.say(mira(sim), "/warn @ivan rude")
        warned = sim.last(LOG_CHAT)
        await sim.say(mira(sim), "/warn @ivan rude again")
        assert len(warnings_of(sim, ivan.id)) == 2
        # The first warning's button withdraws that warning, not the newest.
        await sim.press(mira(sim), warned, "Unwarn")
        (left,) = warnings_of(sim, ivan.id)
        assert left.reason == "rude again"
        assert (
            "Warning withdrawn by Mira Moderator"
            in sim.telegram.messages[(LOG_CHAT, warned.message_id)].text
        )
        await replay(sim, mira(sim), warned.message_id, buttons_of(warned))
        assert len(warnings_of(sim, ivan.id)) == 1 and len(undone(sim, "unwarn")) == 1

        await sim.say(mira(sim), "/ban @petro spam bot")
        banned = sim.last(LOG_CHAT)
        assert sim.group.members[petro.id].status == "kicked"
        await sim.press(mira(sim), banned, "Unban")
        assert sim.group.members[petro.id].status == "left"
        assert (
            "Unbanned by Mira Moderator"
            in sim.telegram.messages[(LOG_CHAT, banned.message_id)].text
        )
        assert len(undone(sim, "unban")) == 1

        await sim.say(mira(sim), "/remove @olena left the country")
        removed = sim.last(LOG_CHAT)
        await sim.press(mira(sim), removed, "Readmit")
        assert "/readmit" in answer(sim)
        assert len(undone(sim, "readmit")) == 1
        assert sim.group.members[olena.id].status != "kicked"  # may come back through a sponsor
        assert (
            "Readmitted by Mira Moderator"
            in sim.telegram.messages[(LOG_CHAT, removed.message_id)].text
        )


def buttons_of(message: object) -> str:
    from simulation.faketg import SentMessage

    assert isinstance(message, SentMessage)
    (data,) = [str(b["callback_data"]) for b in message.buttons()] or [""]
    return data


async def test_forged_callback_data_is_refused(config: LoadedConfig, clock: FakeClock) -> None:
    async with custom(config, clock, log_chat_id=LOG_CHAT) as sim:
        ivan = await member(sim, "Ivan")
        await sim.say(mira(sim), "/mute @ivan 2h noise")
        entry = sim.last(LOG_CHAT)
        (data,) = buttons(sim)
        entry_id = data.split(":")[1]
        await sim.say(mira(sim), "/warn @ivan rude")
        other = sim.last(LOG_CHAT)
        for forged in (
            "lg:999999:unmute",  # no such entry
            f"lg:{entry_id}:unban",  # another action than the entry's
            f"lg:{entry_id}:unmute:x",
            "lg:x",
        ):
            await replay(sim, mira(sim), entry.message_id, forged)
            assert NOT_VALID in answer(sim), forged
        # The right data pressed on another entry's message.
        await replay(sim, mira(sim), other.message_id, data)
        assert NOT_VALID in answer(sim)
        assert sim.group.members[ivan.id].status == "restricted"
        assert undone(sim, "unmute") == [] and entries(sim)[0].undone_at is None
        # Every press was answered exactly once.
        assert all(n == 1 for n in sim.presses.values())


async def test_group_admin_of_another_group_is_refused(
    config: LoadedConfig, clock: FakeClock
) -> None:
    """An entry about group A cannot be undone by someone who moderates nothing there."""
    async with custom(config, clock, log_chat_id=LOG_CHAT) as sim:
        ivan = await member(sim, "Ivan")
        await sim.say(mira(sim), "/mute @ivan 1h noise")
        entry = sim.last(LOG_CHAT)
        stranger = sim.user("Sam", "Stranger", "sam")
        sim.telegram.groups[LOG_CHAT].members[stranger.id] = FakeMember("administrator")
        await sim.press(stranger, entry, "Unmute")
        assert REFUSED in answer(sim)
        assert sim.group.members[ivan.id].status == "restricted"
        assert GROUP_ID in sim.telegram.groups
