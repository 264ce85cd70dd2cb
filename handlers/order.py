"""The order in which handlers see an update: PTB's handler groups, named in one place.

PTB tries the groups from the lowest number up; within a group the first handler that accepts
the update runs, and the next group is tried unless a handler raised ``ApplicationHandlerStop``.
Every ``add_handler`` call in ``handlers/`` and ``bot/`` passes ``group=Stage.<member>``
(``tests/test_handler_order.py``), and the README's architecture section lists the stages.
"""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class Stage(IntEnum):
    """A PTB handler group; the values are the group numbers."""

    # Forum groups: whether the group has topics, and the names of its topics.
    TOPICS = -4
    # The language of the update, before anything that speaks.
    LANGUAGE = -3
    # Every user seen: names, whether they started the bot.
    USERS = -2
    # The roster from chat_member/my_chat_member updates and join/leave service messages; then
    # moderation's edit gate and message watcher, which stop ordinary and edited messages here.
    ROSTER_AND_WATCH = -1
    # Commands and features; the unknown-command fallback is registered last.
    FEATURES = 0
    # Follow-ups that must run after a feature: attributing an arrival, consent after /start.
    FOLLOW_UP = 1
    # After the follow-ups: the consent question to a newcomer whose arrival was attributed.
    SECOND_FOLLOW_UP = 2
    # Group messages with an @ for mentions, in a group of their own so nothing here stops
    # the others and a message handled elsewhere is still read for mentions.
    MENTIONS = 10
