"""Posts sent as a channel (``sender_chat``): who is exempt, and what happens to the rest.

Pure rules: no Telegram and no database. A channel id is negative (a chat id), so it is kept
apart from people's ids wherever the bot records a sender.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ChannelPolicy(enum.StrEnum):
    """``moderation.channels.unlinked``: what happens to a channel not linked to a member."""

    ALLOW = "allow"
    HOLD = "hold"
    BAN = "ban"


class SenderKind(enum.Enum):
    PERSON = "person"  # no sender_chat: the watcher's usual path
    ANONYMOUS_ADMIN = "anonymous admin"  # sender_chat is the group itself: exempt
    LINKED_DISCUSSION = "automatic forward"  # the linked channel's post, forwarded: exempt
    CHANNEL = "channel"  # a post sent as a channel: moderated


@dataclass(frozen=True)
class SenderFacts:
    """What Telegram says about who sent a group message."""

    chat_id: int
    sender_chat_id: int | None
    sender_chat_is_channel: bool
    automatic_forward: bool


def sender_kind(facts: SenderFacts) -> SenderKind:
    if facts.sender_chat_id is None:
        return SenderKind.PERSON
    if facts.sender_chat_id == facts.chat_id:
        return SenderKind.ANONYMOUS_ADMIN
    if facts.automatic_forward:
        return SenderKind.LINKED_DISCUSSION
    if not facts.sender_chat_is_channel:
        return SenderKind.ANONYMOUS_ADMIN  # another kind of chat: Telegram sends none today
    return SenderKind.CHANNEL


class ChannelAction(enum.Enum):
    MODERATE = "moderate"  # flood, banned words: as a member who introduced themselves
    HOLD = "hold"  # the post is removed, with a note at most once per notice_cooldown
    BAN = "ban"  # the channel is blocked from posting (banChatSenderChat), the post removed


def channel_action(linked_member_present: bool, unlinked: ChannelPolicy) -> ChannelAction:
    """A channel linked to a member who is in the group posts like that member; any other
    channel is treated as ``moderation.channels.unlinked`` says."""
    if linked_member_present or unlinked is ChannelPolicy.ALLOW:
        return ChannelAction.MODERATE
    if unlinked is ChannelPolicy.BAN:
        return ChannelAction.BAN
    return ChannelAction.HOLD


def is_channel_id(sender_id: int) -> bool:
    """People have positive ids; chats (channels) negative ones."""
    return sender_id < 0
