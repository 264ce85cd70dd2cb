"""Mentions end to end: @all, @moderators, tags, names and /tags, through the fake Bot API."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from config.loader import LoadedConfig
from config.schema import MentionsPolicy
from moderation.clock import FakeClock
from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus, ObservedChange, UserInfo
from simulation.faketg import FakeMember, FakeUser, SentMessage, parse_message
from simulation.simulator import Simulator
from storage.introductions import IntroductionRepository
from storage.mentions import MentionRepository
from storage.models import MentionBroadcast, MentionOutbox
from storage.roster import RosterRepository
from tests.conftest import GROUP_ID, MODERATOR_ID

# --------------------------------------------------------------------------- helpers


def with_mentions(config: LoadedConfig, **policy: Any) -> LoadedConfig:
    settings = config.settings
    groups = [g.model_copy(update={"mentions": MentionsPolicy(**policy)}) for g in settings.groups]
    return replace(config, settings=settings.model_copy(update={"groups": groups}))


@pytest.fixture
async def custom(config: LoadedConfig, clock: FakeClock) -> AsyncIterator[Any]:
    """``await custom(all="moderators")``: a simulator whose group has that mentions policy."""
    started: list[Simulator] = []

    async def make(**policy: Any) -> Simulator:
        sim = Simulator(with_mentions(config, **policy), clock)
        mira = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
        sim.telegram.started.add(mira.id)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()
        assert not sim.errors, f"the bot raised: {sim.errors!r}"


def add_member(
    sim: Simulator,
    first: str,
    last: str | None = None,
    username: str | None = None,
    organisation: str | None = None,
    cluster: str | None = None,
    location: str | None = None,
    started: bool = False,
    status: str = "member",
    is_bot: bool = False,
) -> FakeUser:
    """Someone already in the group, on the bot's roster, with an introduction if given."""
    user = sim.user(first, last, username)
    user.is_bot = is_bot
    sim.group.members[user.id] = FakeMember(status)
    if started:
        sim.telegram.started.add(user.id)
    now = sim.clock.now()
    with sim.services.db.transaction() as session:
        roster = RosterRepository(session)
        roster.ensure_group(GROUP_ID, sim.group.title)
        stored = roster.upsert_user(UserInfo(user.id, first, last, username, "en", is_bot), now)
        stored.started_bot = started
        new = MemberStatus.OWNER if status == "creator" else MemberStatus.MEMBER
        roster.apply_change(GROUP_ID, ObservedChange(user.id, None, None, new), now)
        if organisation or cluster or location:
            intro = IntroductionRepository(session).start_admission(
                GROUP_ID, user.id, now, IntroStatus.COMPLETE, None, "test"
            )
            intro.first_name, intro.last_name = first, last or "X"
            intro.organisation, intro.cluster, intro.location = organisation, cluster, location
            intro.sponsor_done_at = intro.confirmed_at = now
    return user


def mira_in_group(sim: Simulator) -> FakeUser:
    """The moderator, present in the group (as its owner)."""
    mira = sim.telegram.users[MODERATOR_ID]
    sim.group.members[mira.id] = FakeMember("creator")
    with sim.services.db.transaction() as session:
        roster = RosterRepository(session)
        roster.ensure_group(GROUP_ID, sim.group.title)
        roster.upsert_user(UserInfo(mira.id, "Mira", "Moderator", "mira_ocha"), sim.clock.now())
        roster.apply_change(
            GROUP_ID, ObservedChange(mira.id, None, None, MemberStatus.OWNER), sim.clock.now()
        )
    return mira


def notified(sim: Simulator, message: SentMessage) -> list[int]:
    """Everyone a message notifies: tg://user mentions and @usernames Telegram detected."""
    by_name = {u.username.lower(): u.id for u in sim.telegram.users.values() if u.username}
    return message.mentions + [
        by_name[n.lower()] for n in message.usernames if n.lower() in by_name
    ]


def broadcasts(sim: Simulator) -> list[MentionBroadcast]:
    from sqlalchemy import select

    with sim.services.db.transaction() as session:
        return list(session.scalars(select(MentionBroadcast).order_by(MentionBroadcast.id)))


def outbox(sim: Simulator) -> list[MentionOutbox]:
    from sqlalchemy import select

    with sim.services.db.transaction() as session:
        return list(session.scalars(select(MentionOutbox).order_by(MentionOutbox.id)))


async def drain(sim: Simulator, step: timedelta = timedelta(seconds=5), most: int = 500) -> None:
    """Let the paced dispatcher run until nothing waits."""
    for _ in range(most):
        if not any(r.status in ("pending", "sending") for r in outbox(sim)):
            return
        await sim.advance(step)
    raise AssertionError("mention messages still waiting")


# --------------------------------------------------------------------------- @all
async def test_all_notifies_every_present_member_once(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", "ivan_k", started=True)
    olena = add_member(sim, "Olena", "Petrenko", organisation="UNICEF", cluster="WASH")
    pavlo = add_member(sim, "Pavlo", None, "pavlo_s")
    gone = add_member(sim, "Marta", "Bondar")
    robot = add_member(sim, "Helper", None, "helper_bot", is_bot=True)
    await sim.leave(gone)
    mark = sim.mark()
    update = await sim.say(ivan, "@all SitRep inputs due <b>today</b> & tomorrow")
    source_id = update["message"]["message_id"]
    notice = sim.unique_reply(mark, GROUP_ID)
    assert notice.reply_to == source_id
    assert notice.text.startswith("📣 Ivan Koval → @all (2 people): “SitRep inputs due")
    assert "<b>today</b> & tomorrow" in notice.text  # typed markup shows as text
    assert f'href="https://t.me/c/1234567890/{source_id}"' in notice.html
    assert sorted(notified(sim, notice)) == sorted([olena.id, pavlo.id])
    assert "@pavlo_s" in notice.text  # people with a username are mentioned by it
    assert ivan.id not in notified(sim, notice) and gone.id not in notified(sim, notice)
    assert robot.id not in notified(sim, notice)
    [row] = broadcasts(sim)
    assert (row.author_id, row.kind, row.label, row.recipients) == (ivan.id, "all", "@all", 2)
    assert [r.status for r in outbox(sim)] == ["sent"]


async def test_all_with_500_members_is_batched_and_paced(sim: Simulator) -> None:
    policy = sim.services.settings.groups[0].mentions
    author = add_member(sim, "Ivan", "Koval", "ivan_k")
    people = [
        add_member(sim, f"P{i:03d}", "Member", f"member_{i:03d}" if i % 3 == 0 else None)
        for i in range(500)
    ]
    await sim.leave(people[7])  # left before: never mentioned
    mark = sim.mark()
    await sim.say(author, "@all the 3W template changed, please use the new one")
    # The handler sends only the notice; nothing else waits on the update.
    assert len(sim.since(mark, GROUP_ID)) == 1
    present = {p.id for p in people} - {people[7].id}
    expected_messages = math.ceil(len(present) / policy.batch_size)
    assert len(outbox(sim)) == expected_messages
    # Somebody leaves while the batches are on their way: not mentioned either.
    leaver = people[-1]
    await sim.leave(leaver)
    await drain(sim)  # the sweep's runs, 5 s apart
    sent = sim.since(mark, GROUP_ID)
    counts = Counter(uid for message in sent for uid in notified(sim, message))
    assert set(counts) == present - {leaver.id}
    assert set(counts.values()) == {1}  # each exactly once
    for message in sent:
        assert len(notified(sim, message)) <= policy.batch_size
        assert message.entities <= 100
        assert message.reply_to is not None
    # Never more than per_minute messages to the group in any minute.
    times = sorted(m.date for m in sent)
    for start in times:
        assert sum(1 for t in times if start <= t < start + 60) <= policy.per_minute
    statuses = Counter(r.status for r in outbox(sim))
    assert statuses["sent"] == len(sent) and statuses["sent"] + statuses["skipped"] == len(
        outbox(sim)
    )
    assert "(2/" in sent[1].text and f"/{expected_messages})" in sent[-1].text


async def test_after_downtime_overdue_batches_trickle_out(sim: Simulator) -> None:
    policy = sim.services.settings.groups[0].mentions
    ivan = add_member(sim, "Ivan", "Koval")
    for i in range(100):
        add_member(sim, f"D{i:03d}", "Member")
    mark = sim.mark()
    await sim.say(ivan, "@all before the outage")
    await sim.advance(timedelta(minutes=10))  # the bot was down: every batch is overdue
    assert len(sim.since(mark, GROUP_ID)) == 1 + 3  # the notice, then a few per run
    await drain(sim, step=timedelta(seconds=2))
    times = sorted(m.date for m in sim.since(mark, GROUP_ID))
    assert len(times) == math.ceil(100 / policy.batch_size)
    for start in times:
        assert sum(1 for t in times if start <= t < start + 60) <= policy.per_minute


async def test_all_cooldown_and_private_refusal(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", "ivan_k", started=True)
    add_member(sim, "Olena", "Petrenko")
    await sim.say(ivan, "@all first")
    await sim.advance(timedelta(minutes=3))
    mark = sim.mark()
    await sim.say(ivan, "@all again")
    assert sim.since(mark, GROUP_ID) == []  # no group message
    refusal = sim.unique_reply(mark, ivan.id)
    assert "again in 7 minutes" in refusal.text
    assert len(broadcasts(sim)) == 1
    await sim.advance(timedelta(minutes=7))
    mark = sim.mark()
    await sim.say(ivan, "@all again")
    assert len(sim.since(mark, GROUP_ID)) == 1
    assert len(broadcasts(sim)) == 2


async def test_cooldown_refusal_to_unreachable_author_stays_out_of_the_group(
    sim: Simulator,
) -> None:
    ivan = add_member(sim, "Ivan", "Koval")  # never started the bot
    add_member(sim, "Olena", "Petrenko")
    await sim.say(ivan, "@all first")
    mark = sim.mark()
    await sim.say(ivan, "@all second")
    assert sim.since(mark) == []


async def test_moderators_are_not_held_by_the_cooldown(sim: Simulator) -> None:
    mira = mira_in_group(sim)
    add_member(sim, "Olena", "Petrenko")
    await sim.say(mira, "@all one")
    mark = sim.mark()
    await sim.say(mira, "@all correction: two")
    assert len(sim.since(mark, GROUP_ID)) == 1


async def test_all_for_moderators_only(custom: Any) -> None:
    sim = await custom(all="moderators")
    mira = mira_in_group(sim)
    ivan = add_member(sim, "Ivan", "Koval", started=True)
    mark = sim.mark()
    await sim.say(ivan, "@all hello")
    assert sim.since(mark, GROUP_ID) == []
    assert "Only the moderators can use @all" in sim.unique_reply(mark, ivan.id).text
    await sim.say(mira, "@all hello")
    notice = sim.unique_reply(mark, GROUP_ID)
    assert notified(sim, notice) == [ivan.id]


async def test_all_off_and_anywhere(custom: Any) -> None:
    sim = await custom(all="off")
    ivan = add_member(sim, "Ivan", "Koval", started=True)
    add_member(sim, "Olena", "Petrenko")
    mark = sim.mark()
    await sim.say(ivan, "@all hello")
    assert sim.since(mark, GROUP_ID) == []
    assert "@all is turned off" in sim.unique_reply(mark, ivan.id).text

    other = await custom(anywhere=True)
    ann = add_member(other, "Ann", "A")
    add_member(other, "Bob", "B")
    mark = other.mark()
    await other.say(ann, "Meeting moved to 15:00, see you there @all")
    assert len(other.since(mark, GROUP_ID)) == 1


async def test_all_in_the_middle_is_ignored_by_default(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", started=True)
    add_member(sim, "Olena", "Petrenko")
    mark = sim.mark()
    await sim.say(ivan, "Should I use @all for this? write to support@all.org")
    await sim.say(ivan, "@all-hands tomorrow")
    assert sim.since(mark) == []


async def test_no_reaction_to_bots_commands_or_forwards(sim: Simulator) -> None:
    robot = add_member(sim, "Helper", None, "helper_bot", is_bot=True)
    ivan = add_member(sim, "Ivan", "Koval", started=True)
    add_member(sim, "Olena", "Petrenko")
    mark = sim.mark()
    await sim.say(robot, "@all I am a bot")
    assert sim.since(mark) == []
    await sim.say(ivan, "/help @all")  # a command: /help answers, no broadcast
    reply = sim.unique_reply(mark, GROUP_ID)
    assert "Commands you can use here" in reply.text
    assert broadcasts(sim) == []
    mark = sim.mark()
    update = sim.telegram.message(
        ivan.id, GROUP_ID, "@all forwarded", forward_origin={"type": "hidden_user",
        "sender_user_name": "X", "date": 1},
    )  # fmt: skip
    await sim.feed(update)
    assert sim.since(mark) == []


async def test_nobody_to_notify_is_said_privately(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", started=True)
    mark = sim.mark()
    await sim.say(ivan, "@all anyone?")
    assert sim.since(mark, GROUP_ID) == []
    assert "Nobody else is in @all" in sim.unique_reply(mark, ivan.id).text
    assert broadcasts(sim) == []


async def test_pending_batches_survive_a_restart(
    config: LoadedConfig, clock: FakeClock, sim: Simulator
) -> None:
    ivan = add_member(sim, "Ivan", "Koval")
    people = [add_member(sim, f"R{i:02d}", "Member") for i in range(30)]
    await sim.say(ivan, "@all before the restart")
    assert [r.status for r in outbox(sim)].count("pending") == 5  # 30 people, 5 a message
    # A new bot process on the same database and the same Telegram.
    second = Simulator(config, clock, telegram=sim.telegram)
    await second.start(migrate=False)
    try:
        mark = second.mark()
        await second.advance(timedelta(minutes=1))
        sent = second.since(mark, GROUP_ID)
        counts = Counter(uid for m in sent for uid in notified(second, m))
        assert len(sent) == 3 and len(counts) == 3 * 5  # one run sends at most three
        assert set(counts) <= {p.id for p in people}
    finally:
        await second.stop()


async def test_flood_wait_puts_a_batch_back(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval")
    for i in range(12):
        add_member(sim, f"S{i:02d}", "Member")
    await sim.say(ivan, "@all x")
    sim.telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 20", 20)
    await sim.advance(timedelta(seconds=5))
    [_notice, batch, *_rest] = outbox(sim)
    assert batch.status == "pending" and batch.note and "flood" in batch.note
    await sim.advance(timedelta(seconds=10))
    assert outbox(sim)[1].status == "pending"
    await sim.advance(timedelta(seconds=15))
    assert outbox(sim)[1].status == "sent"


# --------------------------------------------------------------------------- tags
async def test_tags_reach_their_members_and_respect_opt_outs(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", started=True, organisation="OCHA", cluster="Health")
    olena = add_member(sim, "Olena", "Petrenko", organisation="UNICEF", cluster="WASH")
    taras = add_member(sim, "Taras", "Melnyk", organisation="NRC", cluster="WASH", started=True)
    oksana = add_member(sim, "Oksana", "Lysenko", organisation="UNICEF", cluster="Protection")
    mark = sim.mark()
    await sim.say(ivan, "@WASH who has the latest water trucking figures?")
    notice = sim.unique_reply(mark, GROUP_ID)
    assert "→ @wash (2 people)" in notice.text
    assert sorted(notified(sim, notice)) == sorted([olena.id, taras.id])
    # Taras opts out of @wash; Ivan opts in.
    await sim.dm(taras, "/tags off wash")
    assert "You left @wash" in sim.last(taras.id).text
    await sim.dm(taras, "/tags off wash")
    assert "You are not in @wash" in sim.last(taras.id).text
    await sim.dm(ivan, "/tags on @WASH")
    assert "You are in @wash" in sim.last(ivan.id).text
    await sim.dm(olena, "/tags on wash")
    assert "You are already in @wash" in sim.last(olena.id).text
    await sim.advance(timedelta(minutes=3))
    mark = sim.mark()
    await sim.say(taras, "@wash @unicef meeting")
    notice = sim.unique_reply(mark, GROUP_ID)
    assert "@wash @unicef" in notice.text
    reached = notified(sim, notice)
    assert taras.id not in reached  # the author is never notified
    assert sorted(reached) == sorted([olena.id, ivan.id, oksana.id])
    with sim.services.db.transaction() as session:
        prefs = MentionRepository(session).preferences()
    assert prefs == {(taras.id, "wash"): False, (ivan.id, "wash"): True}


async def test_tag_cooldown_and_moderators_tag(sim: Simulator) -> None:
    mira = mira_in_group(sim)
    ivan = add_member(sim, "Ivan", "Koval", started=True, organisation="OCHA")
    add_member(sim, "Olena", "Petrenko", organisation="OCHA")
    mark = sim.mark()
    await sim.say(ivan, "@moderators someone posts spam")
    notice = sim.unique_reply(mark, GROUP_ID)
    assert notified(sim, notice) == [mira.id]
    mark = sim.mark()
    await sim.say(ivan, "@ocha lunch?")  # the tag cooldown (2m) covers every tag
    assert sim.since(mark, GROUP_ID) == []
    assert "again in 2 minutes" in sim.unique_reply(mark, ivan.id).text
    await sim.advance(timedelta(minutes=2))
    mark = sim.mark()
    await sim.say(ivan, "@ocha lunch?")
    assert len(sim.since(mark, GROUP_ID)) == 1


async def test_tags_by_moderators_and_location_tags(custom: Any) -> None:
    sim = await custom(tags=["location"], tags_by="moderators")
    mira = mira_in_group(sim)
    ivan = add_member(sim, "Ivan", "Koval", started=True, organisation="OCHA", location="Kharkiv")
    olena = add_member(sim, "Olena", "Petrenko", organisation="OCHA", location="Kharkiv")
    mark = sim.mark()
    await sim.say(ivan, "@kharkiv air alert, stay safe")
    assert sim.since(mark, GROUP_ID) == []
    assert "Only the moderators can use tags" in sim.unique_reply(mark, ivan.id).text
    await sim.say(mira, "@ocha hello")  # organisation tags are not enabled here: no broadcast
    assert sim.since(mark, GROUP_ID) == []
    await sim.say(mira, "@Kharkiv please check in")
    notice = sim.unique_reply(mark, GROUP_ID)
    assert sorted(notified(sim, notice)) == sorted([ivan.id, olena.id])


async def test_tags_command_lists_and_validates(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", organisation="UNICEF", cluster="WASH")
    await sim.dm(ivan, "/tags")
    overview = sim.last(ivan.id)
    assert "@all — everyone; each person at most once every 10 minutes" in overview.text
    assert "@wash (1)" in overview.text and "@unicef (1)" in overview.text
    assert "@shelter_nfi (0)" in overview.text  # configured clusters are tags too
    assert "You are in: @unicef, @wash." in overview.text
    labels = [b["text"] for b in overview.buttons()]
    assert "✓ @wash" in labels and "@health" in labels
    # Buttons toggle and the list is refreshed.
    await sim.press(ivan, overview, "✓ @wash")
    refreshed = sim.telegram.messages[(ivan.id, overview.message_id)]
    assert "You are in: @unicef." in refreshed.text
    assert "@wash" in [b["text"] for b in refreshed.buttons()]
    await sim.press(ivan, refreshed, "@health")
    assert (
        "You are in: @health, @unicef."
        in sim.telegram.messages[(ivan.id, overview.message_id)].text
    )
    for text, expected in [
        ("/tags off all", "you cannot leave them"),
        ("/tags off moderators", "you cannot leave them"),
        ("/tags off <b>nope</b>", "There is no tag \u2068@&lt;b&gt;nope&lt;/b&gt;\u2069"),
        ("/tags maybe wash", "Send /tags to see the tags"),
        ("/tags off", "Send /tags to see the tags"),
        ("/tags off " + "w" * 100, "Send /tags to see the tags"),
    ]:
        await sim.dm(ivan, text)
        assert expected in sim.last(ivan.id).html, text
    forged = sim.telegram.forged_press(ivan.id, ivan.id, overview.message_id, "tag:nosuchtag")
    await sim.feed(forged)
    with sim.services.db.transaction() as session:
        prefs = MentionRepository(session).preferences(ivan.id)
    assert prefs == {(ivan.id, "wash"): False, (ivan.id, "health"): True}


async def test_tags_in_the_group_and_for_strangers(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", organisation="UNICEF")
    mark = sim.mark()
    await sim.say(ivan, "/tags")
    reply = sim.unique_reply(mark, GROUP_ID)
    assert "Send me /tags privately" in reply.text and not reply.buttons()
    stranger = sim.user("Stranger")
    await sim.dm(stranger, "/tags")
    assert "Tags are for members of the group" in sim.last(stranger.id).text


# --------------------------------------------------------------------------- names
async def test_name_mentions_reach_people_without_a_username(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", "ivan_k", started=True)
    olena = add_member(sim, "Olena", "Petrenko")
    add_member(sim, "Pavlo", "Shevchenko", "pavlo_s")
    mark = sim.mark()
    update = await sim.say(ivan, "@Olena could you share the WASH figures?")
    reply = sim.unique_reply(mark, GROUP_ID)
    assert reply.mentions == [olena.id]
    assert reply.reply_to == update["message"]["message_id"]
    assert "Ivan Koval is writing to you" in reply.text
    mark = sim.mark()
    await sim.say(ivan, "@olena petrenko, thanks!")
    assert sim.unique_reply(mark, GROUP_ID).mentions == [olena.id]
    mark = sim.mark()
    await sim.say(ivan, "@Pavlo please look")  # has a username: Telegram's job
    await sim.say(ivan, "@Nobody hello")  # nothing matches: no noise
    await sim.say(ivan, "Thanks @Olena")  # not at the start
    assert sim.since(mark) == []
    assert broadcasts(sim) == []  # names are not broadcasts and have no cooldown


async def test_ambiguous_names_get_a_private_did_you_mean(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", started=True)
    add_member(sim, "Olena", "Petrenko", organisation="UNICEF")
    add_member(sim, "Olena", "Koval", "olena_k")
    mark = sim.mark()
    await sim.say(ivan, "@Olena can you check?")
    assert sim.since(mark, GROUP_ID) == []
    hint = sim.unique_reply(mark, ivan.id)
    assert "Several members are called Olena" in hint.text
    assert "Olena Petrenko (UNICEF)" in hint.text and "Olena Koval (@olena_k)" in hint.text
    # The full name settles it.
    mark = sim.mark()
    await sim.say(ivan, "@Olena Petrenko can you check?")
    assert len(sim.unique_reply(mark, GROUP_ID).mentions) == 1


async def test_names_never_reach_people_who_left_and_markup_is_text(sim: Simulator) -> None:
    ivan = add_member(sim, "Ivan", "Koval", started=True)
    marta = add_member(sim, "Marta", "Bondar")
    odd = add_member(sim, "Zoë", "<i>Q</i>")
    await sim.leave(marta)
    mark = sim.mark()
    await sim.say(ivan, "@Marta are you there?")
    assert sim.since(mark) == []
    await sim.say(ivan, "@Zoë hi")
    reply = sim.unique_reply(mark, GROUP_ID)
    assert reply.mentions == [odd.id] and "Zoë <i>Q</i>" in reply.text


async def test_names_can_be_switched_off(custom: Any) -> None:
    sim = await custom(names=False)
    ivan = add_member(sim, "Ivan", "Koval")
    add_member(sim, "Olena", "Petrenko")
    mark = sim.mark()
    await sim.say(ivan, "@Olena hi")
    assert sim.since(mark) == []


# --------------------------------------------------------------------------- the fake
def test_fake_telegram_keeps_only_the_first_100_entities() -> None:
    links = "".join(f'<a href="tg://user?id={i}">p{i}</a> ' for i in range(1, 121))
    parsed = parse_message("<b>head</b> @first_user " + links + "@late_user", "HTML")
    assert len(parsed.entities) == 100 and parsed.ignored == 23
    assert parsed.usernames == ["first_user"]  # the one after the cap is dropped
    assert parsed.mentions == list(range(1, 99))
    plain = parse_message("@someone and @shrt and mail@example.org", None)
    assert plain.usernames == ["someone"]
    coded = parse_message("<code>@someone</code> <a href='https://x.org'>@other</a>", "HTML")
    assert coded.usernames == []


# --------------------------------------------------------------------------- the console
def test_console_plays_all_tags_and_names(tmp_path: Any) -> None:
    from tests.test_console import run_console

    output = run_console(
        tmp_path,
        [
            ":crowd 0",
            ":crowd 20",
            ":user olena Petrenko",
            ":join olena",
            ":as ivan",
            ":dm",
            "/start",
            ":group",
            "@all SitRep inputs are due <b>Wednesday</b>",
            ":clock +1m",
            "@all again?",
            "@Olena can you check?",
            ":clock +1m",
            ":dm",
            "/tags off wash",
            ":quit",
        ],
    )
    assert "📣 Ivan Koval → @all (22 people): “SitRep inputs are due <b>Wednesday</b>”" in output
    assert "📣 @all from Ivan Koval (5/5)" in output
    assert "again in 9 minutes" in output
    assert "🔔 Olena Petrenko: Ivan Koval is writing to you." in output
    assert "You are not in @wash." in output
    assert "! expected a number of people from 1 to 500" in output
    assert "the bot raised" not in output
