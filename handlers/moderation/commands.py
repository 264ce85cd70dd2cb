"""The moderators' commands as the menu and /help list them."""

from __future__ import annotations

from moderation.permissions import CommandSpec, Role, Where

COMMANDS = [
    CommandSpec(
        "warn", "Warn a member (repeated warnings escalate)", Role.MODERATOR, usage="WHO REASON"
    ),
    CommandSpec("warns", "A member's warnings", Role.MODERATOR, usage="WHO"),
    CommandSpec("unwarn", "Withdraw a member's latest warning", Role.MODERATOR, usage="WHO"),
    CommandSpec("mute", "Mute a member for a while", Role.MODERATOR, usage="WHO DURATION [REASON]"),
    CommandSpec("unmute", "Let a muted member write again", Role.MODERATOR, usage="WHO"),
    CommandSpec(
        "remove",
        "Remove a member (they may come back through a sponsor)",
        Role.MODERATOR,
        usage="WHO REASON",
    ),
    CommandSpec("ban", "Remove a member for good", Role.MODERATOR, usage="WHO REASON"),
    CommandSpec("unban", "Lift a ban", Role.MODERATOR, usage="WHO"),
    CommandSpec(
        "offtopic",
        "Nudge a conversation that drifts off-topic",
        Role.MODERATOR,
        Where.GROUP,
        usage="(reply to a message)",
    ),
    CommandSpec(
        "purge",
        "Delete recent messages of the bot or of a member",
        Role.MODERATOR,
        Where.GROUP,
        usage="N [WHO]",
    ),
    CommandSpec(
        "report",
        "Flag a message for the moderators",
        Role.MEMBER,
        Where.GROUP,
        usage="(reply to a message)",
    ),
    CommandSpec("audit", "The moderation log", Role.MODERATOR, Where.PRIVATE, usage="[WHO]"),
]

WHO_HINT = "WHO: reply to their message, or give @username, a user id or their name."
