"""The membership lifecycle: departures, expiring memberships, lost sponsors, check-ins, retention.

Plain values in, decisions out. ``next_step`` looks at what is known about one member and the
time, and says the one thing due now (ask, notify, remove — or nothing); the sweep in
``handlers/lifecycle/`` carries it out and records that it did, so the same step is never
due twice. Dates people give (departure, end of membership) are calendar days in the group's
time zone; the bot acts on them at ``daily_at`` local time (so a notice never arrives at 3 am,
and 09:00 stays 09:00 across daylight-saving changes).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from i18n import _, date_text
from moderation.deadlines import resolve_local
from moderation.introductions import Category, InputError, IntroStatus

# How far ahead a departure date may be declared.
DEPARTURE_HORIZON = timedelta(days=730)


class Answer(enum.StrEnum):
    STAY = "stay"  # keeps supporting colleagues in the country: becomes out-of-country
    LEAVE = "leave"  # leaves the group


class Outcome(enum.StrEnum):
    """What happened when a removal was attempted (remembered, so nothing loops)."""

    ATTEMPTING = "attempting"
    REMOVED = "removed"
    NOT_PRESENT = "not_present"
    PROTECTED = "protected"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self is not Outcome.FAILED


class Cause(enum.StrEnum):
    """Why a membership ends; the prefix of the audit line (``MembershipEvent.cause``)."""

    DEPARTURE_DECLINED = "departure: not continuing"
    DEPARTURE_UNANSWERED = "departure: no answer"
    NO_SPONSOR_CONFIRMED = "departure: no sponsor confirmed"
    EXPIRED = "expiry"
    SPONSOR_LOST = "sponsor: none left"
    CHECKIN_UNANSWERED = "check-in: no answer"
    VOLUNTARY = "voluntary"


class Kind(enum.Enum):
    NOTHING = "nothing"
    ASK_DEPARTURE = "ask departure"  # the departure-day question
    NOTIFY_EXPIRY = "notify expiry"  # the membership ends soon: member and sponsor are asked
    SPONSOR_LOST = "sponsor lost"  # an out-of-country member's sponsor is gone
    SPONSOR_BACK = "sponsor back"  # the sponsor is a present in-country member again
    ASK_CHECKIN = "ask check-in"
    REMOVE = "remove"


@dataclass(frozen=True)
class Policy:
    timezone: ZoneInfo
    daily_at: time = time(9, 0)
    out_of_country_max: timedelta = timedelta(days=90)
    expiry_notice: timedelta = timedelta(days=7)
    departure_grace: timedelta = timedelta(days=3)
    sponsor_grace: timedelta = timedelta(days=7)
    checkin_every: timedelta = timedelta(days=90)
    checkin_grace: timedelta = timedelta(days=14)
    checkin_removes: bool = False
    retention: timedelta = timedelta(days=365)
    retry_failed_after: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class Member:
    """What the bot knows about one member of one group, as plain facts."""

    user_id: int
    joined_at: datetime
    present: bool = True
    protected: bool = False  # an owner or admin: Telegram does not let a bot remove them
    intro_status: IntroStatus | None = None  # None: a member from before the bot
    category: Category | None = None  # None: a member from before the bot (counts in-country)
    end_date: date | None = None
    sponsor_id: int | None = None
    sponsor_ok: bool = False  # the sponsor is a present, in-country member
    departure_date: date | None = None
    departure_asked_at: datetime | None = None
    departure_answer: Answer | None = None
    pending_sponsor_id: int | None = None  # asked to confirm an out-of-country sponsorship
    pending_since: datetime | None = None  # when the member first named a sponsor
    sponsor_lost_at: datetime | None = None
    expiry_notice_for: date | None = None  # the end date the "ends soon" notice was sent for
    checkin_asked_at: datetime | None = None
    checked_in_at: datetime | None = None
    removal_cause: Cause | None = None
    removal_outcome: Outcome | None = None
    removal_attempted_at: datetime | None = None

    @property
    def in_country(self) -> bool:
        return self.category in (None, Category.IN_COUNTRY)

    @property
    def time_limited(self) -> bool:
        return self.category in (Category.SURGE, Category.OUT_OF_COUNTRY)

    @property
    def active(self) -> bool:
        """Present, and past the introduction (incomplete ones belong to the introductions)."""
        return self.present and self.intro_status in (None, IntroStatus.COMPLETE)

    @property
    def checkin_outstanding(self) -> bool:
        return self.checkin_asked_at is not None and (
            self.checked_in_at is None or self.checked_in_at < self.checkin_asked_at
        )


@dataclass(frozen=True)
class Step:
    kind: Kind
    cause: Cause | None = None
    due_at: datetime | None = None


NOTHING = Step(Kind.NOTHING)


# --------------------------------------------------------------------------- time
def local_day(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def act_time(day: date, policy: Policy) -> datetime:
    """The UTC instant the bot acts on ``day``: ``daily_at`` local time (DST-safe)."""
    return resolve_local(datetime.combine(day, policy.daily_at), policy.timezone)


# --------------------------------------------------------------------------- deadlines
def departure_deadline(member: Member, policy: Policy) -> datetime | None:
    """Until when the departure question (and then the sponsor's confirmation) may take."""
    if member.departure_asked_at is None or member.departure_answer is Answer.LEAVE:
        return None
    if member.departure_answer is Answer.STAY and member.pending_since is not None:
        return member.pending_since + policy.sponsor_grace
    return member.departure_asked_at + policy.departure_grace


def sponsor_deadline(member: Member, policy: Policy) -> datetime | None:
    if member.sponsor_lost_at is None:
        return None
    return member.sponsor_lost_at + policy.sponsor_grace


def expiry_at(member: Member, policy: Policy) -> datetime | None:
    """When a time-limited membership ends: ``daily_at`` on its end date."""
    if not member.time_limited or member.end_date is None:
        return None
    return act_time(member.end_date, policy)


def checkin_due_at(member: Member, policy: Policy) -> datetime | None:
    """The next check-in for an in-country member with nothing else going on."""
    if not member.in_country or member.departure_date is not None or member.checkin_outstanding:
        return None
    since = max(d for d in (member.joined_at, member.checked_in_at) if d is not None)
    return act_time(local_day(since + policy.checkin_every, policy.timezone), policy)


def stale_since(member: Member, policy: Policy, now: datetime) -> datetime | None:
    """When an unanswered check-in became stale (``checkin_grace`` after asking), if it is."""
    if not member.active or not member.checkin_outstanding or member.checkin_asked_at is None:
        return None
    due = member.checkin_asked_at + policy.checkin_grace
    return due if now >= due else None


# --------------------------------------------------------------------------- the decision
def removal_due(member: Member, policy: Policy, now: datetime) -> Step | None:
    """The removal due now, if any (before looking at whether it was already attempted)."""
    if member.departure_answer is Answer.LEAVE:
        return Step(Kind.REMOVE, Cause.DEPARTURE_DECLINED, member.departure_asked_at)
    deadline = departure_deadline(member, policy)
    if deadline is not None and now >= deadline:
        cause = (
            Cause.NO_SPONSOR_CONFIRMED
            if member.departure_answer is Answer.STAY
            else Cause.DEPARTURE_UNANSWERED
        )
        return Step(Kind.REMOVE, cause, deadline)
    ends = expiry_at(member, policy)
    if member.time_limited and (ends is None or now >= ends):
        return Step(Kind.REMOVE, Cause.EXPIRED, ends)
    if member.category is Category.OUT_OF_COUNTRY and not member.sponsor_ok:
        lost = sponsor_deadline(member, policy)
        if lost is not None and now >= lost:
            return Step(Kind.REMOVE, Cause.SPONSOR_LOST, lost)
    if policy.checkin_removes:
        stale = stale_since(member, policy, now)
        if stale is not None:
            return Step(Kind.REMOVE, Cause.CHECKIN_UNANSWERED, stale)
    return None


def attempt_blocked(member: Member, cause: Cause, policy: Policy, now: datetime) -> bool:
    """A removal already tried for this cause: final outcomes are not retried, failures daily."""
    if member.removal_cause is not cause or member.removal_outcome is None:
        return False
    if member.removal_outcome is Outcome.FAILED:
        tried = member.removal_attempted_at
        return tried is not None and now < tried + policy.retry_failed_after
    return True


def next_step(member: Member, policy: Policy, now: datetime) -> Step:
    """The one thing due for ``member`` at ``now`` (removals first, then questions)."""
    if not member.active:
        return NOTHING
    removal = removal_due(member, policy, now)
    if removal is not None:
        assert removal.cause is not None
        return NOTHING if attempt_blocked(member, removal.cause, policy, now) else removal
    if (
        member.category is Category.OUT_OF_COUNTRY
        and member.sponsor_ok
        and member.sponsor_lost_at is not None
    ):
        return Step(Kind.SPONSOR_BACK, due_at=now)
    if member.departure_date is not None and member.departure_asked_at is None:
        due = act_time(member.departure_date, policy)
        if now >= due:
            return Step(Kind.ASK_DEPARTURE, due_at=due)
    if (
        member.category is Category.OUT_OF_COUNTRY
        and not member.sponsor_ok
        and member.sponsor_lost_at is None
    ):
        return Step(Kind.SPONSOR_LOST, due_at=now)
    ends = expiry_at(member, policy)
    if (
        ends is not None
        and member.end_date is not None
        and member.expiry_notice_for != (member.end_date)
    ):
        notice = act_time(member.end_date - policy.expiry_notice, policy)
        if now >= notice:
            return Step(Kind.NOTIFY_EXPIRY, due_at=notice)
    checkin = checkin_due_at(member, policy)
    if checkin is not None and now >= checkin:
        return Step(Kind.ASK_CHECKIN, due_at=checkin)
    return NOTHING


def next_change_at(member: Member, policy: Policy, now: datetime) -> datetime | None:
    """The first moment after ``now`` at which :func:`next_step` may answer differently for
    ``member`` (a question's day, a grace period's end, an expiry, a retry); None when none."""
    if not member.active:
        return None
    moments = [
        departure_deadline(member, policy),
        sponsor_deadline(member, policy),
        expiry_at(member, policy),
        checkin_due_at(member, policy),
    ]
    if member.departure_date is not None:
        moments.append(act_time(member.departure_date, policy))
    if member.end_date is not None:
        moments.append(act_time(member.end_date - policy.expiry_notice, policy))
    if member.checkin_outstanding and member.checkin_asked_at is not None:
        moments.append(member.checkin_asked_at + policy.checkin_grace)
    if member.removal_outcome is Outcome.FAILED and member.removal_attempted_at is not None:
        moments.append(member.removal_attempted_at + policy.retry_failed_after)
    return min((m for m in moments if m is not None and m > now), default=None)


class Standing(enum.Enum):
    """Where a member stands against the rule "in the country, or sponsored and time-limited"."""

    IN_COUNTRY = "in the country"
    TIME_LIMITED = "surge or short mission, until the end date"
    SPONSORED = "outside the country, sponsored, until the end date"
    IN_GRACE = "something is missing; a grace period is running"
    DUE_FOR_REMOVAL = "due for removal"
    NOT_ACTIVE = "not an active member"


def standing(member: Member, policy: Policy, now: datetime) -> Standing:
    if not member.active:
        return Standing.NOT_ACTIVE
    if removal_due(member, policy, now) is not None:
        return Standing.DUE_FOR_REMOVAL
    if member.departure_asked_at is not None or (
        member.category is Category.OUT_OF_COUNTRY and not member.sponsor_ok
    ):
        return Standing.IN_GRACE
    if member.in_country:
        return Standing.IN_COUNTRY
    if member.category is Category.SURGE:
        return Standing.TIME_LIMITED
    return Standing.SPONSORED


class Coming(enum.Enum):
    """What /expiring lists about a member."""

    REMOVAL_REFUSED = "a removal Telegram refused: needs a moderator"
    DEPARTED = "departed; waiting for an answer or a sponsor's confirmation"
    LEAVES = "leaves the country within the window"
    NO_SPONSOR = "outside the country without a sponsor"
    ENDS = "a time-limited membership ends within the window"


def coming_up(
    member: Member, policy: Policy, now: datetime, today: date, window: timedelta
) -> list[tuple[Coming, datetime]]:
    """What is coming up for a member within ``window``, each with its moment (a refused
    removal is due now); at most one of refused removal, departure and leaving."""
    items: list[tuple[Coming, datetime]] = []
    deadline = departure_deadline(member, policy)
    if member.removal_outcome in (Outcome.PROTECTED, Outcome.FAILED):
        items.append((Coming.REMOVAL_REFUSED, now))
    elif deadline is not None:
        items.append((Coming.DEPARTED, deadline))
    elif member.departure_date is not None and member.departure_date <= today + timedelta(
        days=window.days
    ):
        items.append((Coming.LEAVES, act_time(member.departure_date, policy)))
    if member.category is Category.OUT_OF_COUNTRY and not member.sponsor_ok:
        items.append((Coming.NO_SPONSOR, sponsor_deadline(member, policy) or now))
    ends = expiry_at(member, policy)
    if ends is not None and member.end_date is not None and ends <= now + window:
        items.append((Coming.ENDS, ends))
    return items


# --------------------------------------------------------------------------- commands
def check_departure(day: date, today: date) -> date:
    if day < today:
        raise InputError(_("That date has passed; please give today or a later date."))
    if day > today + DEPARTURE_HORIZON:
        raise InputError(_("That date is more than two years away; please give a nearer date."))
    return day


def extended_end(
    category: Category | None,
    current_end: date | None,
    today: date,
    maximum: timedelta,
    by: timedelta | None = None,
    until: date | None = None,
) -> date:
    """The new end date of a time-limited membership, or ``InputError`` saying why not.

    ``by`` extends from the current end (or today, if that has passed); ``until`` names the
    date. Either way the result lies after today and at most ``maximum`` from today.
    """
    if category not in (Category.SURGE, Category.OUT_OF_COUNTRY):
        raise InputError(_("That is a membership in the country; it does not expire."))
    if (by is None) == (until is None):
        raise InputError(_("Please give either a duration such as 30d or a date."))
    start = max(current_end or today, today)
    new_end = until if until is not None else start + timedelta(days=by.days if by else 0)
    latest = today + maximum
    if new_end <= today:
        raise InputError(_("The new end date must be in the future."))
    if current_end is not None and new_end <= current_end:
        raise InputError(
            _("The membership already runs until {date}.", date=date_text(current_end))
        )
    if new_end > latest:
        raise InputError(
            _(
                "A membership can be extended to at most {days} days from today: choose a date "
                "on or before {date}.",
                days=maximum.days,
                date=date_text(latest),
            )
        )
    return new_end


def ooc_end_problem(end: date, today: date, maximum: timedelta) -> str | None:
    """Why ``end`` cannot end an out-of-country membership starting today, or None."""
    if end <= today:
        return _("The end date must be in the future.")
    latest = today + maximum
    if end > latest:
        return _(
            "Out-of-country membership can last at most {days} days: choose a date on or "
            "before {date}.",
            days=maximum.days,
            date=date_text(latest),
        )
    return None


# --------------------------------------------------------------------------- retention
def erase_due(
    left_at: list[datetime | None], present_anywhere: bool, retention: timedelta, now: datetime
) -> bool:
    """A former member's personal data is erased ``retention`` after they left every group."""
    if present_anywhere or not left_at or any(at is None for at in left_at):
        return False
    return now >= max(at for at in left_at if at is not None) + retention
