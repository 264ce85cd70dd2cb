"""Who is told what when the lifecycle acts: after a removal attempt, and when a time-limited
membership nears its end. Pure: the handlers carry the verdict out and render the texts."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from moderation.lifecycle import Cause, Outcome

# Causes the moderators hear about after a removal went through (the others are routine).
REPORTED_WHEN_REMOVED = frozenset(
    {Cause.SPONSOR_LOST, Cause.CHECKIN_UNANSWERED, Cause.NO_SPONSOR_CONFIRMED}
)


class Report(enum.Enum):
    """What the moderators are told after a removal attempt."""

    REMOVED = "removed"
    PROTECTED = "protected"  # an admin: Telegram refuses, a moderator must act
    NOT_PRESENT = "not_present"  # Telegram says they are gone: the roster caught up


@dataclass(frozen=True)
class Told:
    """The notices one removal attempt gives."""

    group_notice: Cause | None = None  # which thank-you the group reads; None: no group message
    farewell: bool = False  # the member gets a private goodbye with the reason
    moderators: Report | None = None


def group_notice_cause(cause: Cause) -> Cause | None:
    """The group reads the same thank-you for every way a departure ends; /leave posts nothing."""
    if cause is Cause.VOLUNTARY:
        return None
    if cause in (Cause.DEPARTURE_UNANSWERED, Cause.NO_SPONSOR_CONFIRMED):
        return Cause.DEPARTURE_DECLINED
    return cause


def who_is_told(cause: Cause, outcome: Outcome) -> Told:
    """The notices after removing a member for ``cause`` ended in ``outcome``.

    /leave (voluntary) answers in its own message. A failed removal (a missing right) is
    reported by the removal itself and retried silently, so it tells nobody here.
    """
    voluntary = cause is Cause.VOLUNTARY
    if outcome is Outcome.REMOVED:
        return Told(
            group_notice=group_notice_cause(cause),
            farewell=not voluntary,
            moderators=Report.REMOVED if cause in REPORTED_WHEN_REMOVED else None,
        )
    if voluntary:
        return Told()
    if outcome is Outcome.PROTECTED:
        return Told(moderators=Report.PROTECTED)
    if outcome is Outcome.NOT_PRESENT:
        return Told(moderators=Report.NOT_PRESENT)
    return Told()


class ExpiryReader(enum.Enum):
    SPONSOR = "sponsor"
    MODERATORS = "moderators"


def expiry_readers(has_sponsor: bool) -> tuple[ExpiryReader, ...]:
    """Who is asked whether to extend, in order: the sponsor, else (or when they cannot be
    written to) every moderator."""
    if has_sponsor:
        return (ExpiryReader.SPONSOR, ExpiryReader.MODERATORS)
    return (ExpiryReader.MODERATORS,)
