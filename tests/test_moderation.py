"""The moderators' toolkit, end to end through the fake Bot API: who may moderate, /warn and
its escalation, bad input, /mute, /remove, /ban, missing admin rights and /audit. The
automatic noise control, /offtopic and /purge are in tests/test_moderation_noise.py."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from config.loader import LoadedConfig
from moderation.clock import FakeClock
from moderation.roster import MemberStatus
from simulation.faketg import ApiError, FakeMember, FakeUser
from simulation.simulator import Simulator
from storage.models import Mute
from storage.moderation import ModerationRepository
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import events, status
from tests.moderation_support import (
    LOG_CHAT,
    NOT_A_MODERATOR,
    actions,
    calls_since,
    custom,
    member,
    mira,
    texts,
    warnings_of,
)


# --------------------------------------------------------------------------- the guard
@pytest.mark.parametrize(
    "command",
    [
        "/warn @mira_ocha rude",
        "/mute @ivan 1h",
        "/remove @ivan x",
        "/ban @ivan x",
        "/unban @ivan",
        "/warns @ivan",
        "/unwarn @ivan",
        "/purge 3",
        "/offtopic",
    ],
)
async def test_members_cannot_moderate(sim: Simulator, command: str) -> None:
    ivan = await member(sim, "Ivan")
    petro = await member(sim, "Petro")
    start, mark = len(sim.telegram.calls), sim.mark()
    await sim.say(petro, command)
    assert NOT_A_MODERATOR in sim.unique_reply(mark, GROUP_ID).text
    assert not calls_since(sim, start, "restrictChatMember")
    assert not calls_since(sim, start, "banChatMember")
    assert not calls_since(sim, start, "deleteMessage")
    assert actions(sim) == [] and warnings_of(sim, ivan.id) == []


async def test_telegram_admins_are_moderators_checked_live_and_cached(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    olha = await member(sim, "Olha")
    sim.group.members[olha.id] = FakeMember("administrator")  # promoted; no update seen yet
    start = len(sim.telegram.calls)
    await sim.say(olha, "/warn @ivan please stay on topic")
    assert len(warnings_of(sim, ivan.id)) == 1
    assert len(calls_since(sim, start, "getChatAdministrators")) == 1
    # Still an admin: the admin list is served from the cache (5 minutes), and Telegram
    # confirms her alone (getChatMember) before she acts.
    start = len(sim.telegram.calls)
    await sim.say(olha, "/warns @ivan")
    assert "1 warning" in sim.last(GROUP_ID).text
    assert calls_since(sim, start, "getChatAdministrators") == []  # served from the cache
    assert len(calls_since(sim, start, "getChatMember")) == 1
    # Demoted in Telegram (no update seen): her very next action is refused, well within
    # the cache's time; a demoted admin keeps no rights until the lists are read again.
    sim.group.members[olha.id] = FakeMember("member")
    mark = sim.mark()
    await sim.say(olha, "/warn @ivan again")
    assert NOT_A_MODERATOR in sim.unique_reply(mark, GROUP_ID).text
    assert len(warnings_of(sim, ivan.id)) == 1


# --------------------------------------------------------------------------- /warn
async def test_warn_by_reply_tells_everyone_concerned(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    olena = sim.user("Olena", "Petrenko", "olena_p")
    sim.telegram.started.add(olena.id)
    await sim.join(olena, added_by=ivan)  # Ivan sponsors Olena
    sim.group.members[olena.id] = FakeMember("member")  # say she could write (no hold)
    said = await sim.say(olena, "buy my course")
    mark = sim.mark()
    await sim.say(
        mira(sim), "/warn Please no <b>ads</b> here", reply_to=said["message"]["message_id"]
    )
    group_note = sim.unique_reply(mark, GROUP_ID)
    assert "Olena Petrenko was warned: Please no <b>ads</b> here" in group_note.text
    assert "<b>ads</b>" not in group_note.html  # typed markup shown, not rendered
    assert olena.id in group_note.mentions
    assert "Warnings in the last 30 days: 1." in group_note.text
    private = sim.unique_reply(mark, olena.id).text
    assert "You received a warning" in private and "At 3 warnings within 30 days" in private
    assert "whom you sponsored" in sim.unique_reply(mark, ivan.id).text
    (warning,) = warnings_of(sim, olena.id)
    assert warning.by_id == MODERATOR_ID and warning.reason == "Please no <b>ads</b> here"
    (action,) = actions(sim, "warn")
    assert action.actor_id == MODERATOR_ID and action.target_id == olena.id


async def test_escalation_mutes_then_removes_and_old_warnings_expire(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    moderator = mira(sim)
    await sim.say(moderator, "/warn @ivan one")
    sim.clock.advance(timedelta(days=31))  # the first warning no longer counts
    await sim.say(moderator, "/warn @ivan two")
    start = len(sim.telegram.calls)
    await sim.say(moderator, "/warn @ivan three")
    assert calls_since(sim, start, "restrictChatMember") == []  # only 2 within 30 days
    await sim.say(moderator, "/warn @ivan four")
    (restrict,) = calls_since(sim, start, "restrictChatMember")
    now = int(sim.clock.now().timestamp())
    assert restrict["until_date"] == now + 24 * 3600
    assert restrict["permissions"]["can_send_messages"] is False
    assert "they are now muted for 1 day" in sim.last(GROUP_ID).text
    assert status(sim, ivan.id) is MemberStatus.RESTRICTED
    with pytest.raises(ApiError, match="CHAT_WRITE_FORBIDDEN"):
        await sim.say(ivan, "let me speak")
    await sim.say(moderator, "/warn @ivan five")
    assert calls_since(sim, start, "banChatMember") and calls_since(sim, start, "unbanChatMember")
    assert any(e.new_status == "removed" and "4 warnings" in e.cause for e in events(sim, ivan.id))
    assert sim.group.members[ivan.id].status == "left"  # kicked, may come back
    kinds = [a.kind for a in reversed(actions(sim))]
    assert kinds == ["warn", "warn", "warn", "warn", "mute", "warn", "remove"]


async def sponsored_pair(sim: Simulator) -> tuple[FakeUser, FakeUser]:
    """Ivan (a member) and Olena, whom he added (so he is her sponsor); both started the bot."""
    ivan = await member(sim, "Ivan")
    olena = sim.user("Olena", "Petrenko", "olena_p")
    sim.telegram.started.add(olena.id)
    await sim.join(olena, added_by=ivan)
    sim.group.members[olena.id] = FakeMember("member")  # say she could write (no hold)
    return ivan, olena


async def test_escalation_to_removal_tells_the_sponsor_once(sim: Simulator) -> None:
    ivan, olena = await sponsored_pair(sim)
    for reason in ("ads", "ads again", "more ads"):  # 3 warnings: muted, not removed
        mark = sim.mark()
        await sim.say(mira(sim), f"/warn @olena_p {reason}")
        note = sim.unique_reply(mark, ivan.id).text
        assert note == (
            f"Olena Petrenko, whom you sponsored in Ukraine IM community, was warned by the "
            f"moderators: {reason}"
        )
    mark = sim.mark()
    await sim.say(mira(sim), "/warn @olena_p <b>spam</b> again")
    assert status(sim, olena.id) is MemberStatus.REMOVED
    # One message, the removal, naming the warning that led to it (no "was warned" first).
    to_ivan = sim.unique_reply(mark, ivan.id)
    assert to_ivan.text == (
        "Olena Petrenko, whom you sponsored in Ukraine IM community, was removed by the "
        "moderators after 4 warnings within 30 days; they may come back through a sponsor. The "
        "last warning: <b>spam</b> again"
    )
    assert "<b>" not in to_ivan.html  # the typed reason is shown, not rendered
    # The person and the group are told as before; the log has the warning and the removal.
    assert "they are now removed" in sim.unique_reply(mark, GROUP_ID).text
    assert "Under the group's rules you are now removed" in sim.unique_reply(mark, olena.id).text
    assert [a.kind for a in actions(sim)][:2] == ["remove", "warn"]


async def test_escalation_to_a_ban_and_a_failed_removal(
    config: LoadedConfig, clock: FakeClock
) -> None:
    ladder = [{"warnings": 1, "action": "mute", "duration": "1h"}, {"warnings": 2, "action": "ban"}]
    async with custom(config, clock, escalation=ladder) as sim:
        ivan, olena = await sponsored_pair(sim)
        await sim.say(mira(sim), "/warn @olena_p one")
        mark = sim.mark()
        await sim.say(mira(sim), "/warn @olena_p two")
        assert sim.group.members[olena.id].status == "kicked"  # banned for good
        assert sim.unique_reply(mark, ivan.id).text == (
            "Olena Petrenko, whom you sponsored in Ukraine IM community, was banned by the "
            "moderators after 2 warnings within 30 days; they cannot rejoin. The last warning: two"
        )
        # When Telegram refuses the removal, the sponsor hears of the warning only.
        petro = sim.user("Petro", "Bondar", "petro_b")
        sim.telegram.started.add(petro.id)
        await sim.join(petro, added_by=ivan)
        sim.group.members[petro.id] = FakeMember("member")
        await sim.say(mira(sim), "/warn @petro_b one")
        sim.telegram.fail_next(
            "banChatMember", 400, "Bad Request: not enough rights to restrict/ban chat member"
        )
        mark = sim.mark()
        await sim.say(mira(sim), "/warn @petro_b two")
        assert status(sim, petro.id) is not MemberStatus.REMOVED
        assert "was warned by the moderators: two" in sim.unique_reply(mark, ivan.id).text


async def test_ban_command_tells_the_sponsor_it_is_a_ban(sim: Simulator) -> None:
    ivan, olena = await sponsored_pair(sim)
    mark = sim.mark()
    await sim.dm(mira(sim), "/ban @olena_p scam")
    assert sim.group.members[olena.id].status == "kicked"
    assert sim.unique_reply(mark, ivan.id).text == (
        "Olena Petrenko, whom you sponsored in Ukraine IM community, was banned by the "
        "moderators and cannot rejoin: scam"
    )


async def test_warns_and_unwarn(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    await sim.say(mira(sim), "/warn @ivan first")
    await sim.say(mira(sim), "/warn Ivan Koval second")  # a roster name works too
    mark = sim.mark()
    await sim.say(mira(sim), "/warns @ivan")
    listing = sim.unique_reply(mark, GROUP_ID).text
    assert "2 warnings in the last 30 days" in listing and "first" in listing
    assert "At 3 warnings: muted for 1 day" in listing
    mark = sim.mark()
    await sim.say(mira(sim), "/unwarn @ivan")
    assert "Withdrew the warning" in sim.unique_reply(mark, GROUP_ID).text
    assert "withdrew your warning" in sim.unique_reply(mark, ivan.id).text
    assert [w.reason for w in warnings_of(sim, ivan.id)] == ["first"]
    await sim.say(mira(sim), "/unwarn @ivan")
    mark = sim.mark()
    await sim.say(mira(sim), "/unwarn @ivan")
    assert "no warning that still counts" in sim.unique_reply(mark, GROUP_ID).text
    assert len(actions(sim, "unwarn")) == 2


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/warn", "Whom do you mean?"),
        ("/warn @nobody_here rude", "I don't know @nobody_here"),
        ("/warn 424242 rude", "never seen a user with id 424242"),
        ("/warn Zenobia Quux rude", "No current member is called"),
        ("/warn @mira_ocha rude", "cannot use /warn on yourself"),
        ("/warn @ivan", "Please add the reason"),
        ("/warn @ivan " + "x" * 300, "300 characters long; please keep it to 200"),
        ("/mute @ivan", "For how long?"),
        ("/mute @ivan -5m", "“-5m” is not a duration"),
        ("/mute @ivan abc", "“abc” is not a duration"),
        ("/mute @ivan 99999d", "99999d is too long: a mute lasts at most 30 days"),
        ("/mute @ivan 10s", "at least 1m"),
        ("/mute @ivan <b>1h</b>", "is not a duration"),
        ("/remove @ivan", "Please add the reason"),
        ("/ban @ivan", "Please add the reason"),
        ("/unmute @ivan", "Ivan Koval is not muted"),
        ("/unban @ivan", "Ivan Koval is not banned"),
        ("/purge", "Usage: /purge N"),
        ("/purge 0", "Usage: /purge N"),
        ("/purge 500", "Usage: /purge N"),
        ("/purge abc", "Usage: /purge N"),
        ("/offtopic", "Reply with /offtopic"),
    ],
)
async def test_bad_input_gets_one_clear_reply_and_changes_nothing(
    sim: Simulator, command: str, expected: str
) -> None:
    await member(sim, "Ivan")
    start, mark = len(sim.telegram.calls), sim.mark()
    await sim.say(mira(sim), command)
    reply = sim.unique_reply(mark, GROUP_ID)
    assert expected in reply.text
    for method in ("restrictChatMember", "banChatMember", "deleteMessage", "unbanChatMember"):
        assert calls_since(sim, start, method) == []
    assert actions(sim) == []


async def test_moderators_the_bot_and_absent_people_are_refused(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    olha = await member(sim, "Olha")
    sim.group.members[olha.id] = FakeMember("administrator")
    await sim.say(mira(sim), "/warns @ivan")
    mark = sim.mark()
    await sim.say(mira(sim), "/mute 1h", reply_to=sim.last(GROUP_ID).message_id)
    assert "I do not moderate myself" in sim.unique_reply(mark, GROUP_ID).text
    mark = sim.mark()
    await sim.say(mira(sim), "/mute @olha 1h")
    assert "Olha Koval is a moderator" in sim.unique_reply(mark, GROUP_ID).text
    await sim.leave(ivan)
    mark = sim.mark()
    await sim.say(mira(sim), "/warn @ivan rude")
    assert "Ivan Koval is not in Ukraine IM community" in sim.unique_reply(mark, GROUP_ID).text
    assert actions(sim) == []


async def test_admins_who_are_not_moderators_are_protected(
    config: LoadedConfig, clock: FakeClock
) -> None:
    settings = config.settings.model_copy(update={"group_admins_are_moderators": False})
    sim = Simulator(dataclasses.replace(config, settings=settings), clock)
    sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    await sim.start()
    try:
        olha = await member(sim, "Olha")
        sim.group.members[olha.id] = FakeMember("administrator")
        mark = sim.mark()
        await sim.say(mira(sim), "/mute @olha 1h")
        assert "Telegram does not let me act on admins" in sim.unique_reply(mark, GROUP_ID).text
    finally:
        await sim.stop()


# --------------------------------------------------------------------------- /mute /unmute
async def test_mute_ends_by_itself_and_unmute_lifts_it(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    mark = sim.mark()
    await sim.say(mira(sim), "/mute Ivan Koval 2h Too <i>many</i> memes")
    note = sim.unique_reply(mark, GROUP_ID).text
    assert "Ivan Koval is muted for 2 hours" in note and "Reason: Too <i>many</i> memes" in note
    assert "muted you for 2 hours" in sim.unique_reply(mark, ivan.id).text
    (action,) = actions(sim, "mute")
    assert action.until == sim.clock.now() + timedelta(hours=2)
    with pytest.raises(ApiError):
        await sim.say(ivan, "hello?")
    mark = sim.mark()
    await sim.advance(timedelta(hours=2, minutes=1))
    assert status(sim, ivan.id) is MemberStatus.MEMBER
    assert "has ended" in sim.unique_reply(mark, ivan.id).text
    assert actions(sim, "mute_ended")
    await sim.say(ivan, "back again")  # Telegram lifted it
    await sim.say(mira(sim), "/mute @ivan 1d")
    mark = sim.mark()
    await sim.say(mira(sim), "/unmute @ivan")
    assert "Ivan Koval can write again" in sim.unique_reply(mark, GROUP_ID).text
    assert sim.telegram.calls_to("restrictChatMember")[-1]["permissions"]["can_send_messages"]
    await sim.say(ivan, "thanks")
    with sim.services.db.transaction() as session:
        assert ModerationRepository(session).active_mute(GROUP_ID, ivan.id, sim.clock.now()) is None
        assert session.query(Mute).count() == 2


async def test_a_held_newcomer_is_not_released_by_a_mute(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    olena = sim.user("Olena", "Petrenko", "olena_p")
    await sim.join(olena, added_by=ivan)
    assert status(sim, olena.id) is MemberStatus.RESTRICTED  # held until introduced
    start, mark = len(sim.telegram.calls), sim.mark()
    await sim.say(mira(sim), "/mute @olena_p 1h")
    assert "already read-only until their introduction" in sim.unique_reply(mark, GROUP_ID).text
    await sim.say(mira(sim), "/unmute @olena_p")
    assert calls_since(sim, start, "restrictChatMember") == []


# --------------------------------------------------------------------------- /remove /ban /unban
async def test_remove_tells_the_person_and_their_sponsor(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    olena = sim.user("Olena", "Petrenko", "olena_p")
    sim.telegram.started.add(olena.id)
    await sim.join(olena, added_by=ivan)
    mark = sim.mark()
    await sim.dm(mira(sim), "/remove @olena_p Left the response in <June>")  # privately
    assert "was removed: Left the response in <June>" in sim.unique_reply(mark, MODERATOR_ID).text
    assert "welcome back later" in sim.unique_reply(mark, olena.id).text
    assert "whom you sponsored" in sim.unique_reply(mark, ivan.id).text
    assert sim.since(mark, GROUP_ID) == []  # a private command makes no group notice
    assert any(e.cause.startswith("remove by a moderator") for e in events(sim, olena.id))
    assert sim.group.members[olena.id].status == "left"  # can come back
    (action,) = actions(sim, "remove")
    assert action.reason == "Left the response in <June>"


async def test_ban_and_unban(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    mark = sim.mark()
    await sim.say(mira(sim), "/ban @ivan Spam links")
    assert "Ivan Koval was banned: Spam links" in sim.unique_reply(mark, GROUP_ID).text
    assert "cannot rejoin" in sim.unique_reply(mark, ivan.id).text
    assert sim.group.members[ivan.id].status == "kicked"
    with pytest.raises(ApiError, match="BANNED"):
        await sim.join(ivan)
    mark = sim.mark()
    await sim.say(mira(sim), "/unban @ivan")
    assert "may join Ukraine IM community again" in sim.unique_reply(mark, GROUP_ID).text
    assert sim.group.members[ivan.id].status == "left"
    await sim.join(ivan)
    # Someone already gone can be banned too, so they cannot come back.
    petro = await member(sim, "Petro")
    await sim.leave(petro)
    await sim.say(mira(sim), "/ban @petro Spammer")
    assert sim.group.members[petro.id].status == "kicked"
    assert [a.kind for a in reversed(actions(sim))] == ["ban", "unban", "ban"]


# --------------------------------------------------------------------------- missing rights
async def test_missing_rights_are_named_once_per_change(sim: Simulator) -> None:
    await member(sim, "Ivan")
    rights = sim.group.members[sim.telegram.bot.id].rights
    rights["can_restrict_members"] = False
    mark = sim.mark()
    await sim.say(mira(sim), "/mute @ivan 1h")
    assert (
        "lack the admin right to restrict and ban members" in sim.unique_reply(mark, GROUP_ID).text
    )
    assert "could not restrict and ban members" in sim.unique_reply(mark, MODERATOR_ID).text
    assert actions(sim) == []
    mark = sim.mark()
    await sim.say(mira(sim), "/ban @ivan spam")
    assert "lack the admin right" in sim.unique_reply(mark, GROUP_ID).text
    assert sim.since(mark, MODERATOR_ID) == []  # told once
    rights["can_restrict_members"] = True
    await sim.advance(timedelta(minutes=1))  # the admin check sees the right back
    rights["can_restrict_members"] = False
    mark = sim.mark()
    await sim.say(mira(sim), "/mute @ivan 1h")
    assert len(sim.since(mark, MODERATOR_ID)) == 1  # a new change: told again


# --------------------------------------------------------------------------- /audit
async def test_audit_is_private_paged_and_filtered(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    await member(sim, "Petro")
    for n in range(20):
        await sim.say(mira(sim), f"/warn @petro p{n}")
        await sim.say(mira(sim), "/unwarn @petro")
    await sim.say(mira(sim), "/warn @ivan <script>")
    mark = sim.mark()
    await sim.say(mira(sim), "/audit")
    assert "privately" in sim.unique_reply(mark, GROUP_ID).text
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit")
    first = sim.since(mark, MODERATOR_ID)
    assert "1–25 of" in first[0].text
    assert "Mira Moderator warned Ivan Koval — <script>" in first[0].text
    await sim.press(mira(sim), first[-1], "Older")
    assert "26–41 of 41" in sim.last(MODERATOR_ID).text
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit @ivan")
    only = sim.unique_reply(mark, MODERATOR_ID)
    assert "1–1 of 1" in only.text and only.buttons() == []
    # The paging button is guarded like the command (a forged press by a member).
    mark = sim.mark()
    await sim.feed(
        sim.telegram.forged_press(ivan.id, MODERATOR_ID, first[-1].message_id, "audit:0:25")
    )
    assert sim.since(mark) == []
    assert NOT_A_MODERATOR in sim.telegram.calls_to("answerCallbackQuery")[-1]["text"]


async def test_actions_are_mirrored_to_the_log_chat(config: LoadedConfig, clock: FakeClock) -> None:
    async with custom(config, clock, log_chat_id=LOG_CHAT) as sim:
        await member(sim, "Ivan")
        mark = sim.mark()
        await sim.say(mira(sim), "/warn @ivan rude")
        (note,) = texts(sim, mark, LOG_CHAT)
        assert "Mira Moderator warned Ivan Koval — rude" in note
