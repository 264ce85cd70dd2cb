"""/report: which messages a member may report, how often, and when reports hide a message.

Pure rules: no Telegram and no database. The handler gathers the facts (who wrote the message,
whether they moderate the group, how many messages the reporter flagged lately) and asks here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NotReportable(enum.Enum):
    NO_AUTHOR = "no author"  # a service line or a topic's creation: nothing a person wrote
    MODERATORS = "moderators"  # an anonymous admin's or a moderator's message
    THE_BOT = "the bot"
    OWN = "own"


@dataclass(frozen=True)
class ReportedMessage:
    """Who wrote the message a member replied ``/report`` to."""

    author_id: int | None  # the person, or the channel it was sent as; None: nobody
    anonymous_admin: bool = False  # sent as the group itself
    by_the_bot: bool = False
    by_a_moderator: bool = False


def why_not_reportable(message: ReportedMessage, reporter_id: int) -> NotReportable | None:
    """None when the reporter may report the message, else why not."""
    if message.anonymous_admin or message.by_a_moderator:
        return NotReportable.MODERATORS
    if message.author_id is None:
        return NotReportable.NO_AUTHOR
    if message.by_the_bot:
        return NotReportable.THE_BOT
    if message.author_id == reporter_id:
        return NotReportable.OWN
    return None


def over_report_rate(reports_in_period: int, allowed: int) -> bool:
    """A member who already reported ``allowed`` messages in the period must wait."""
    return reports_in_period >= allowed


def hides_the_message(new_reporter: bool, reporters: int, hide_after: int) -> bool:
    """The reporter who brings the count to ``hide_after`` (0: never) hides it, once."""
    return new_reporter and hide_after > 0 and reporters >= hide_after
