"""Which topic of a forum group the bot posts in: a pure rule, no Telegram and no database.

A forum supergroup has topics; every message in one carries its ``message_thread_id`` (the
id of the service message that created the topic). General has no thread id. Telegram's Bot
API cannot list a group's topics, so a topic named in the configuration is found by its name
among the topics the bot has seen (created, renamed, or written in).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


class Purpose(Enum):
    """What a group message is for, when the configuration may name its topic."""

    INTRODUCTIONS = "introductions"
    DEADLINES = "deadlines"
    MODERATION = "moderation"


def topic_key(name: str) -> str:
    """A topic name as compared: case, width and surrounding spaces do not matter."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass
class ForumTopics:
    """What the bot has learnt of each group's topics (in memory; relearnt after a restart
    from the next message in a topic, or from Telegram's getChat for whether it is a forum)."""

    forums: dict[int, bool] = field(default_factory=dict)  # chat id → has topics
    names: dict[int, dict[str, int]] = field(default_factory=dict)  # chat id → key → thread

    def learn(self, chat_id: int, is_forum: bool) -> None:
        self.forums[chat_id] = is_forum

    def name(self, chat_id: int, name: str, thread_id: int) -> None:
        known = self.names.setdefault(chat_id, {})
        for key, thread in list(known.items()):
            if thread == thread_id:  # renamed: the old name no longer points to it
                del known[key]
        known[topic_key(name)] = thread_id

    def known(self, chat_id: int) -> Mapping[str, int]:
        return self.names.get(chat_id, {})


def pick_thread(
    forum: bool,
    configured: int | str | None,
    known: Mapping[str, int],
    trigger: int | None,
) -> int | None:
    """The ``message_thread_id`` to post with, or None for General (or a group without topics).

    ``forum``: whether the group has topics (if not, always None: Telegram refuses a thread id
    there, so a configuration written for topics changes nothing in a plain group).

    ``configured``: the topic the configuration names for this purpose (an id, or a name
    looked up in ``known``, the topic names seen → ids); ``trigger``: the topic of the message
    that caused the post, if it was in one. The configured topic wins; a name not seen yet
    falls back to the trigger's topic, as does no configuration; no trigger topic: General.
    """
    if not forum:
        return None
    if isinstance(configured, int):
        return configured
    if isinstance(configured, str):
        found = known.get(topic_key(configured))
        if found is not None:
            return found
    return trigger
