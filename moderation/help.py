"""What /help shows a person: a few topics, each with only the commands that person can use.

A moderator's full list is about 40 commands, a wall on a phone; /help names the topics and
/help TOPIC (or its button) lists that topic's commands. Commands that only make sense for a
member of the group (inviting, leaving, extending a sponsored membership, tags) are not offered
to someone who is not in it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from moderation.permissions import CommandSpec, Role, Where, commands_for


class Topic(enum.StrEnum):
    JOINING = "joining"
    MENTIONS = "mentions"
    DEADLINES = "deadlines"
    DIRECTORY = "directory"
    MODERATION = "moderation"


# The commands everyone sees first, outside any topic.
BASICS = ("start", "help", "language", "cancel")

TOPIC_OF: dict[str, Topic] = {
    **dict.fromkeys(("invite", "whois", "leaving", "leave", "extend"), Topic.JOINING),
    "tags": Topic.MENTIONS,
    **dict.fromkeys(
        (
            "deadlines",
            "subscribe",
            "unsubscribe",
            "submitted",
            "calendar",
            "missing",
            "assign",
            "deadline",
        ),
        Topic.DEADLINES,
    ),
    **dict.fromkeys(
        (
            "profile",
            "contact",
            "ask",
            "mydata",
            "forgetme",
            "override",
            "export",
            "link",
            "clusters",
        ),
        Topic.DIRECTORY,
    ),
    **dict.fromkeys(
        (
            "warn",
            "warns",
            "unwarn",
            "mute",
            "unmute",
            "remove",
            "ban",
            "unban",
            "offtopic",
            "purge",
            "audit",
            "report",
            "members",
            "pending",
            "expiring",
            "stale",
            "readmit",
            "status",
        ),
        Topic.MODERATION,
    ),
}

# Only for people in the group: everyone else would be refused.
MEMBERS_ONLY = frozenset({"invite", "leaving", "leave", "extend", "tags", "report"})


@dataclass(frozen=True)
class HelpPlan:
    basics: list[CommandSpec]
    topics: dict[Topic, list[CommandSpec]]  # in Topic order, only topics with a usable command


def usable(
    specs: Iterable[CommandSpec], role: Role, where: Where, is_member: bool
) -> list[CommandSpec]:
    """The commands this person can use here: by role and chat, and membership where needed."""
    member_or_moderator = is_member or role is Role.MODERATOR
    return [
        spec
        for spec in commands_for(role, specs, where)
        if member_or_moderator or spec.name not in MEMBERS_ONLY
    ]


def plan_help(specs: Iterable[CommandSpec], role: Role, where: Where, is_member: bool) -> HelpPlan:
    commands = usable(specs, role, where, is_member)
    basics = [spec for spec in commands if spec.name in BASICS]
    topics: dict[Topic, list[CommandSpec]] = {}
    for topic in Topic:
        inside = [spec for spec in commands if TOPIC_OF.get(spec.name) is topic]
        if inside:
            topics[topic] = inside
    return HelpPlan(basics=basics, topics=topics)


def unplaced(specs: Iterable[CommandSpec]) -> list[str]:
    """Commands that belong to no topic and are not basics (a new command must be placed)."""
    return [s.name for s in specs if s.name not in BASICS and s.name not in TOPIC_OF]


def parse_topic(text: str) -> Topic | None:
    """A topic from what a person typed after /help: its name, or a command inside it."""
    word = text.strip().lower().lstrip("/")
    if not word:
        return None
    for topic in Topic:
        if topic.value.startswith(word) and len(word) >= 3:
            return topic
    return TOPIC_OF.get(word)
