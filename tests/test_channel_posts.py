"""Posts sent as a channel, through the real Application and the fake Bot API.

Oracles (issue 20 and the README's "Posts sent as a channel"): a post sent as a channel counts
toward that channel's flood window, banned words apply, moderators can /mute and /ban it
(banChatSenderChat / unbanChatSenderChat); a channel not linked to a member is held by default
(its posts removed with one polite note), or allowed, or banned, as configured; the group's
anonymous admins and the linked channel's automatic forwards stay exempt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from config.loader import LoadedConfig
from config.schema import ModerationPolicy
from moderation.channels import (
    ChannelAction,
    ChannelPolicy,
    SenderFacts,
    SenderKind,
    channel_action,
    sender_kind,
)
from moderation.clock import FakeClock
from simulation.faketg import ApiError, FakeChannel
from simulation.simulator import Simulator
from storage.models import ModerationAction
from storage.moderation import ModerationRepository
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.test_joins import veteran

CHANNEL_ID = -1002000000001  # the first channel the fake creates
MEMBER_ID = 100001  # the first user the fake creates


@asynccontextmanager
async def channels(
    config: LoadedConfig, clock: FakeClock, **changes: Any
) -> AsyncIterator[tuple[Simulator, FakeChannel]]:
    """The example configuration with ``moderation`` changed, and one channel ("UN Shelter
    news", id CHANNEL_ID)."""
    base = config.settings.moderation.model_dump()
    policy = ModerationPolicy.model_validate({**base, "banned_words": ["idiot"], **changes})
    settings = config.settings.model_copy(update={"moderation": policy})
    sim = Simulator(dataclasses.replace(config, settings=settings), clock)
    moderator = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(moderator.id)
    channel = sim.telegram.add_channel("UN Shelter news", "unshelter")
    assert channel.id == CHANNEL_ID
    await sim.start()
    try:
        yield sim, channel
    finally:
        await sim.stop()
    assert not sim.errors, f"the bot raised: {sim.errors!r}"


def deleted(sim: Simulator, update: dict[str, Any]) -> bool:
    return sim.telegram.messages[(GROUP_ID, update["message"]["message_id"])].deleted


def actions(sim: Simulator, target: int) -> list[ModerationAction]:
    """The audit log's entries about ``target``, oldest first."""
    with sim.services.db.transaction() as session:
        rows, _count = ModerationRepository(session).actions([GROUP_ID], target)
        return list(reversed(rows))


# --------------------------------------------------------------------------- exempt senders
async def test_anonymous_admins_and_the_linked_channels_forwards_are_exempt(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with channels(config, clock, channels={"unlinked": "ban"}) as (sim, channel):
        sim.telegram.groups[GROUP_ID].linked_chat_id = channel.id
        mark = sim.mark()
        anonymous = sim.telegram.anonymous_admin_post(GROUP_ID, "you idiot, read the rules")
        await sim.feed(anonymous)
        forward = await sim.post_as(channel.id, "idiot-proof guide", automatic_forward=True)
        assert not deleted(sim, anonymous) and not deleted(sim, forward)
        assert sim.since(mark, GROUP_ID) == []
        assert not sim.telegram.calls_to("banChatSenderChat")


# --------------------------------------------------------------------------- unlinked channels
async def test_an_unlinked_channel_is_held_by_default_with_one_polite_note(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with channels(config, clock) as (sim, channel):
        mark = sim.mark()
        first = await sim.post_as(channel.id, "Shelter cluster meeting at 10:00")
        assert deleted(sim, first)
        (note,) = sim.since(mark, GROUP_ID)
        assert note.text.startswith("Posts sent as UN Shelter news are held")
        assert "write it again as yourself" in note.text
        # A second post within notice_cooldown: removed too, without a second note.
        mark = sim.mark()
        second = await sim.post_as(channel.id, "Reminder: meeting at 10:00")
        assert deleted(sim, second) and sim.since(mark, GROUP_ID) == []
        assert [a.kind for a in actions(sim, channel.id)] == ["channel_held", "channel_held"]
        assert not sim.telegram.calls_to("banChatSenderChat")  # held, not banned


async def test_an_unlinked_channel_is_banned_when_configured(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with channels(config, clock, channels={"unlinked": "ban"}) as (sim, channel):
        mark = sim.mark()
        post = await sim.post_as(channel.id, "Buy our reports")
        assert deleted(sim, post)
        (note,) = sim.since(mark, GROUP_ID)
        assert note.text.startswith("UN Shelter news may not post here")
        assert channel.id in sim.telegram.groups[GROUP_ID].banned_senders
        with pytest.raises(ApiError, match="CHAT_WRITE_FORBIDDEN"):
            await sim.post_as(channel.id, "Still here?")


async def test_a_channel_linked_to_a_member_posts_until_the_member_leaves(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with channels(config, clock, channels={"linked": {CHANNEL_ID: MEMBER_ID}}) as (
        sim,
        channel,
    ):
        ivan = await veteran(sim)
        assert ivan.id == MEMBER_ID
        post = await sim.post_as(channel.id, "Shelter cluster meeting at 10:00 https://example.org")
        assert not deleted(sim, post)  # linked: links are fine, as for an introduced member
        await sim.leave(ivan)
        later = await sim.post_as(channel.id, "Next meeting on Monday")
        assert deleted(sim, later)


# --------------------------------------------------------------------------- moderated like people
async def test_banned_words_apply_to_an_allowed_channel(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with channels(config, clock, channels={"unlinked": "allow"}) as (sim, channel):
        fine = await sim.post_as(channel.id, "Shelter cluster meeting at 10:00")
        assert not deleted(sim, fine)
        mark = sim.mark()
        rude = await sim.post_as(channel.id, "only an idiot misses it")
        assert deleted(sim, rude)
        (note,) = sim.since(mark, GROUP_ID)
        assert note.text == (
            "A post sent as UN Shelter news was removed: it uses words this group does not accept."
        )
        assert [a.kind for a in actions(sim, channel.id)] == ["banned_word"]


async def test_a_channel_has_its_own_flood_window_and_is_blocked_then_let_back(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with channels(config, clock, channels={"unlinked": "allow"}) as (sim, channel):
        ivan = await veteran(sim)
        # Ivan and the channel take turns: 5 + 5 within the window, each under 8 (the limit:
        # 8 messages within 30 s, README "Moderation").
        for n in range(5):
            await sim.say(ivan, f"note {n}")
            await sim.post_as(channel.id, f"post {n}")
            sim.clock.advance(timedelta(seconds=1))
        assert not sim.telegram.calls_to("banChatSenderChat")
        assert sim.telegram.groups[GROUP_ID].members[ivan.id].status == "member"
        mark = sim.mark()
        for n in range(5, 9):
            await sim.post_as(channel.id, f"post {n}")
            sim.clock.advance(timedelta(seconds=1))
            if channel.id in sim.telegram.groups[GROUP_ID].banned_senders:
                break
        assert channel.id in sim.telegram.groups[GROUP_ID].banned_senders
        (notice,) = [m for m in sim.since(mark, GROUP_ID) if "cannot post" in m.text]
        assert notice.text == "🔇 UN Shelter news cannot post for 10m after 8 posts in 30s."
        assert sim.telegram.groups[GROUP_ID].members[ivan.id].status == "member"
        # The example's flood mute lasts 10 minutes; then the sweep lifts the block.
        await sim.advance(timedelta(minutes=11))
        assert channel.id not in sim.telegram.groups[GROUP_ID].banned_senders
        assert sim.telegram.calls_to("unbanChatSenderChat")[-1]["sender_chat_id"] == channel.id
        again = await sim.post_as(channel.id, "back")
        assert not deleted(sim, again)


async def test_moderators_mute_ban_and_lift_a_channel_by_replying_to_its_post(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with channels(config, clock, channels={"unlinked": "allow"}) as (sim, channel):
        mira = sim.telegram.users[MODERATOR_ID]
        post = await sim.post_as(channel.id, "Our new dashboard")
        post_id = post["message"]["message_id"]
        # A member cannot.
        ivan = await veteran(sim)
        mark = sim.mark()
        await sim.say(ivan, "/ban spam", reply_to=post_id)
        assert "moderators" in sim.unique_reply(mark, GROUP_ID).text
        assert not sim.telegram.calls_to("banChatSenderChat")
        # A moderator mutes it for an hour: blocked, and the answer names the channel.
        mark = sim.mark()
        await sim.say(mira, "/mute 1h off-topic adverts", reply_to=post_id)
        reply = sim.unique_reply(mark, GROUP_ID)
        assert "UN Shelter news" in reply.text
        assert channel.id in sim.telegram.groups[GROUP_ID].banned_senders
        mark = sim.mark()
        await sim.say(mira, "/unmute", reply_to=post_id)
        assert sim.unique_reply(mark, GROUP_ID).text == "🔈 UN Shelter news can write again."
        assert channel.id not in sim.telegram.groups[GROUP_ID].banned_senders
        # /ban, then /unban.
        mark = sim.mark()
        await sim.say(mira, "/ban advertising", reply_to=post_id)
        assert "UN Shelter news" in sim.unique_reply(mark, GROUP_ID).text
        assert channel.id in sim.telegram.groups[GROUP_ID].banned_senders
        mark = sim.mark()
        await sim.say(mira, "/unban", reply_to=post_id)
        assert sim.unique_reply(mark, GROUP_ID).text == "UN Shelter news may post here again."
        assert channel.id not in sim.telegram.groups[GROUP_ID].banned_senders
        kinds = [a.kind for a in actions(sim, channel.id)]
        assert kinds == ["mute", "unmute", "ban", "unban"]
        # Nothing was written privately to the channel (nobody to write to).
        assert not [c for c in sim.telegram.calls_to("sendMessage") if c["chat_id"] == channel.id]


# --------------------------------------------------------------------------- the fake, rules
def test_the_fake_bans_only_channels_as_senders(sim: Simulator) -> None:
    user = sim.user("Ivan")
    with pytest.raises(ApiError, match="not a channel"):
        sim.telegram.handle(
            "banChatSenderChat", {"chat_id": GROUP_ID, "sender_chat_id": user.id}, {}
        )
    with pytest.raises(ApiError, match="not a channel"):
        sim.telegram.handle(
            "banChatSenderChat", {"chat_id": GROUP_ID, "sender_chat_id": GROUP_ID}, {}
        )


def test_sender_kinds_and_channel_actions() -> None:
    def kind(sender: int | None, channel: bool = True, forward: bool = False) -> SenderKind:
        return sender_kind(SenderFacts(GROUP_ID, sender, channel, forward))

    assert kind(None) is SenderKind.PERSON
    assert kind(GROUP_ID, channel=False) is SenderKind.ANONYMOUS_ADMIN
    assert kind(CHANNEL_ID, forward=True) is SenderKind.LINKED_DISCUSSION
    assert kind(CHANNEL_ID) is SenderKind.CHANNEL
    assert channel_action(True, ChannelPolicy.BAN) is ChannelAction.MODERATE
    assert channel_action(False, ChannelPolicy.ALLOW) is ChannelAction.MODERATE
    assert channel_action(False, ChannelPolicy.HOLD) is ChannelAction.HOLD
    assert channel_action(False, ChannelPolicy.BAN) is ChannelAction.BAN


@pytest.mark.parametrize(
    "channels",
    [{"unlinked": "mute"}, {"linked": {"5": 100001}}, {"linked": {CHANNEL_ID: -5}}],
)
def test_channel_settings_are_checked(config: LoadedConfig, channels: dict[str, Any]) -> None:
    base = config.settings.moderation.model_dump()
    with pytest.raises(ValueError):
        ModerationPolicy.model_validate({**base, "channels": channels})
