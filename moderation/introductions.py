"""Membership rules: who may sponsor whom, what makes an introduction, when to remind or remove.

Plain values in, decisions out; handlers and sweeps carry them out.
"""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil import parser as date_parser
from dateutil.relativedelta import relativedelta

from i18n import N_, _, date_text, month_name, ngettext
from moderation.plaintext import strip_controls

NAME_MAX = 64
ORGANISATION_MAX = 100
ROLE_MAX = 100
LOCATION_MAX = 64
REASON_MAX = 200


class Category(enum.StrEnum):
    IN_COUNTRY = "in_country"
    SURGE = "surge"  # surge or short mission in the country: has an end date
    OUT_OF_COUNTRY = "out_of_country"  # sponsored, time-limited, supports colleagues in country

    @property
    def label(self) -> str:
        """In the current language."""
        return {
            Category.IN_COUNTRY: _("in the country"),
            Category.SURGE: _("surge / short mission"),
            Category.OUT_OF_COUNTRY: _("outside the country (sponsored)"),
        }[self]

    @property
    def needs_end_date(self) -> bool:
        return self is not Category.IN_COUNTRY


class IntroStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the sponsor's introduction and/or the newcomer's confirmation
    HELD = "held"  # no attributable sponsor: the moderators decide
    COMPLETE = "complete"
    REMOVED = "removed"  # removed past the deadline or by a moderator's decision
    LEFT = "left"

    @property
    def label(self) -> str:
        """In the current language."""
        return {
            IntroStatus.PENDING: _("pending"),
            IntroStatus.HELD: _("held for the moderators"),
            IntroStatus.COMPLETE: _("complete"),
            IntroStatus.REMOVED: _("removed"),
            IntroStatus.LEFT: _("left"),
        }[self]


# What to ask for when an answer is empty (translated where the message is built).
PLEASE_TYPE = {
    "name": N_("Please type the name."),
    "organisation": N_("Please type the organisation."),
    "role": N_("Please type the role."),
    "location": N_("Please type the location."),
    "reason": N_("Please type the reason."),
    "date": N_("Please type the date."),
    "title": N_("Please type the title."),
    "description": N_("Please type the description."),
}
PLEASE_TYPE_ANYTHING = N_("Please type an answer.")


class InputError(ValueError):
    """A user's answer that cannot be used; the message says what was expected."""


def clean_text(text: str, limit: int, what: str) -> str:
    """Trim, fold whitespace, drop control characters; enforce a length limit."""
    text = strip_controls(text, keep=" ")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InputError(_(PLEASE_TYPE.get(what, PLEASE_TYPE_ANYTHING)))
    if len(text) > limit:
        raise InputError(
            ngettext(
                "Too long ({length}/{n} character): please shorten it.",
                "Too long ({length}/{n} characters): please shorten it.",
                limit,
                length=len(text),
            )
        )
    return text


def split_name(text: str) -> tuple[str, str]:
    """``"Olena Petrenko"`` → first and last name; both are required."""
    cleaned = clean_text(text, NAME_MAX * 2, "name")
    parts = cleaned.split(" ", 1)
    if len(parts) < 2:
        raise InputError(_("Please give both the first and the last name, e.g. Olena Petrenko."))
    first, last = parts
    if len(first) > NAME_MAX or len(last) > NAME_MAX:
        raise InputError(
            ngettext(
                "Each name can be at most {n} character.",
                "Each name can be at most {n} characters.",
                NAME_MAX,
            )
        )
    return first, last


@dataclass(frozen=True)
class OrganisationMatch:
    accepted: str | None  # the organisation to store, when the answer is usable as it is
    suggestion: str | None  # a close configured organisation, for "did you mean"


def match_organisation(text: str, known: list[str], allow_unlisted: bool) -> OrganisationMatch:
    answer = clean_text(text, ORGANISATION_MAX, "organisation")
    by_lower = {name.lower(): name for name in known}
    if answer.lower() in by_lower:
        return OrganisationMatch(by_lower[answer.lower()], None)
    from rapidfuzz import fuzz, process, utils  # only here: not imported to start the bot

    best = process.extractOne(
        answer, known, scorer=fuzz.WRatio, processor=utils.default_process, score_cutoff=75
    )
    suggestion = best[0] if best else None
    if suggestion is None and not allow_unlisted:
        raise InputError(
            _(
                "I don't know that organisation. Known organisations: {organisations}.",
                organisations=", ".join(known),
            )
        )
    return OrganisationMatch(answer if allow_unlisted and not suggestion else None, suggestion)


# "in 3 weeks" in each language the bot speaks (the catalogs' hints show these forms).
_RELATIVE = re.compile(
    r"^(?:in|через|dans|بعد|خلال)\s+(\d{1,3})\s+(\w+)$",
)
_UNITS = {
    "day": ("day", "days", "день", "дні", "днів", "jour", "jours", "يوم", "يومًا", "يوما", "أيام"),
    "week": (
        "week",
        "weeks",
        "тиждень",
        "тижні",
        "тижнів",
        "semaine",
        "semaines",
        "أسبوع",
        "أسبوعًا",
        "أسبوعا",
        "أسابيع",
    ),
    "month": (
        "month",
        "months",
        "місяць",
        "місяці",
        "місяців",
        "mois",
        "شهر",
        "شهرًا",
        "شهرا",
        "أشهر",
        "شهور",
    ),
}
_UNIT_OF = {word: unit for unit, words in _UNITS.items() for word in words}
_TODAY = ("today", "сьогодні", "aujourd'hui", "aujourd’hui", "اليوم")
_TOMORROW = ("tomorrow", "завтра", "demain", "غدا", "غدًا")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_date(text: str, today: date) -> date:
    """Dates as people type them: 2026-12-20, 20 Dec, 20.12.2026, "in 3 weeks" (also
    «через 3 тижні», « dans 3 semaines », «بعد 3 أسابيع»; any Unicode digits)."""
    cleaned = clean_text(text, 40, "date").lower()
    if cleaned in _TODAY or cleaned in _TOMORROW:
        return today + timedelta(days=1 if cleaned in _TOMORROW else 0)
    iso = _ISO.match(cleaned)
    if iso:  # dateutil's dayfirst would read 2026-12-01 as 12 January
        year, month, day = (int(part) for part in iso.groups())
        try:
            return date(year, month, day)
        except ValueError:
            raise _no_such_day(day, month, year) or _unreadable_date() from None
    relative = _RELATIVE.match(cleaned)
    if relative and relative.group(2) in _UNIT_OF:
        amount, unit = int(relative.group(1)), _UNIT_OF[relative.group(2)]
        delta = {
            "day": relativedelta(days=amount),
            "week": relativedelta(weeks=amount),
            "month": relativedelta(months=amount),
        }[unit]
        return today + delta
    impossible = _impossible_day_month(cleaned, today)
    if impossible is not None:  # before dateutil, which reads "32 Dec" as a year
        raise impossible
    try:
        parsed = date_parser.parse(
            cleaned,
            dayfirst=True,
            yearfirst=False,
            default=datetime(today.year, today.month, today.day),
        ).date()
    except (ValueError, OverflowError):
        raise _unreadable_date() from None
    if not re.search(r"\d{4}", cleaned) and parsed < today:
        parsed = parsed.replace(year=parsed.year + 1)  # "20 Jan" in December means next year
    return parsed


def _unreadable_date() -> InputError:
    return InputError(_("I could not read that date. Try 2026-12-20, 20 Dec or “in 3 weeks”."))


# "31 February", "31.04.2027", "Feb 30": a day and a month that read well but do not exist.
_DAY_FIRST = re.compile(r"^(\d{1,2})(?:\s+|[./-])\s*([a-z]+|\d{1,2})\.?(?:(?:\s+|[./-])(\d{4}))?$")
_MONTH_FIRST = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:,?\s+(\d{4}))?$")


def _impossible_day_month(cleaned: str, today: date) -> InputError | None:
    day_first, month_first = _DAY_FIRST.match(cleaned), _MONTH_FIRST.match(cleaned)
    if day_first:
        day_text, month_text, year_text = day_first.groups()
    elif month_first:
        month_text, day_text, year_text = month_first.groups()
    else:
        return None
    month = int(month_text) if month_text.isdigit() else date_parser.parserinfo().month(month_text)
    if month is None:
        return None
    year = int(year_text) if year_text else None
    if year is None and (month, int(day_text)) == (2, 29):
        # Without a year the next 29 February is meant; this year's if it is still ahead.
        year = today.year if (today.month, today.day) <= (2, 29) else today.year + 1
    return _no_such_day(int(day_text), month, year)


def _no_such_day(day: int, month: int, year: int | None) -> InputError | None:
    """Why a day that reads well does not exist (31 February), or None if that is not it."""
    if not 1 <= month <= 12 or day < 1:
        return None
    if (month, day) == (2, 29) and (year is None or not calendar.isleap(year)):
        return InputError(_("29 February exists only in leap years; choose another day") + ".")
    longest = calendar.monthrange(2025, month)[1]  # a common year: February has 28 days
    if day <= longest:
        return None
    return InputError(
        _(
            "{month} has no day {day} (it has {longest} days)",
            month=month_name(month),
            day=day,
            longest=longest,
        )
        + "."
    )


def check_end_date(
    category: Category, end: date, today: date, out_of_country_max: timedelta
) -> None:
    if end <= today:
        raise InputError(_("The end date must be in the future."))
    if category is Category.OUT_OF_COUNTRY and end > today + out_of_country_max:
        latest = today + out_of_country_max
        raise InputError(
            ngettext(
                "Out-of-country membership can last at most {n} day: choose a date on or "
                "before {date}.",
                "Out-of-country membership can last at most {n} days: choose a date on or "
                "before {date}.",
                out_of_country_max.days,
                date=date_text(latest),
            )
        )


def may_sponsor(
    sponsor_present: bool,
    sponsor_category: Category | None,
    newcomer_category: Category,
    sponsor_status: IntroStatus | None = None,
) -> str | None:
    """None when the sponsorship is allowed, else the reason it is not (current language)."""
    if not sponsor_present:
        return _("only current members of the group can sponsor someone")
    if sponsor_status in (IntroStatus.PENDING, IntroStatus.HELD):
        return _("please complete your own introduction before sponsoring someone")
    if newcomer_category is Category.OUT_OF_COUNTRY and sponsor_category not in (
        None,
        Category.IN_COUNTRY,
    ):
        # Members who were there before the bot (category unknown) count as in-country.
        return _("only a member working in the country can sponsor someone based outside it")
    return None


def invite_link_name(invitation_id: int, sponsor_first_name: str) -> str:
    """Telegram allows 32 characters; the prefix identifies the invitation, the rest the sponsor."""
    prefix = f"sp{invitation_id}-"
    return (prefix + sponsor_first_name)[:32]


def invitation_id_from_link_name(name: str | None) -> int | None:
    found = re.match(r"^sp(\d+)-", name or "")
    return int(found.group(1)) if found else None


class Action(enum.Enum):
    NONE = "none"
    REMIND = "remind"
    REMOVE = "remove"


@dataclass(frozen=True)
class Due:
    action: Action
    reminder_number: int = 0  # 1-based, for REMIND


def introduction_due(
    joined_at: datetime,
    reminders_sent: int,
    now: datetime,
    reminders: list[timedelta],
    deadline: timedelta,
) -> Due:
    """What a still-incomplete introduction needs now: a reminder, removal, or nothing.

    Missed reminders after downtime collapse into the latest one: people get one nudge, not three.
    """
    if now >= joined_at + deadline:
        return Due(Action.REMOVE)
    passed = sum(1 for offset in sorted(reminders) if now >= joined_at + offset)
    if passed > reminders_sent:
        return Due(Action.REMIND, passed)
    return Due(Action.NONE)


def introduction_next_at(
    joined_at: datetime, now: datetime, reminders: list[timedelta], deadline: timedelta
) -> datetime | None:
    """The next moment after ``now`` when :func:`introduction_due` may answer differently (a
    reminder's time, or the deadline); None once the deadline has passed."""
    moments = [joined_at + offset for offset in (*reminders, deadline)]
    return min((m for m in moments if m > now), default=None)


@dataclass(frozen=True)
class Arrival:
    """What the bot knows about someone who just joined, as plain facts."""

    joined_as_admin: bool = False
    via_link: bool = False
    invitation_sponsor_id: int | None = None  # the link is one of this group's /invite links
    invitation_was_unused: bool = False  # and this join was the one that used it
    via_join_request: bool = False
    request_sponsor_id: int | None = None  # a member vouched for the request
    request_moderator_id: int | None = None  # a moderator approved it directly
    adder_id: int | None = None  # someone else added them
    present_ids: frozenset[int] = frozenset()  # which of those people are members now


@dataclass(frozen=True)
class Attribution:
    status: IntroStatus
    sponsor_id: int | None
    # Why: kept on the admission (in English, marked with N_ so /whois shows it translated).
    note: str
    prefill_from_invitation: bool = False


def attribute_arrival(arrival: Arrival) -> Attribution:
    """Who sponsors a newcomer; without one they are held for the moderators, never accepted."""

    def sponsored(sponsor_id: int, note: str, prefill: bool = False) -> Attribution:
        return Attribution(IntroStatus.PENDING, sponsor_id, note, prefill)

    def held(note: str) -> Attribution:
        return Attribution(IntroStatus.HELD, None, note)

    if arrival.joined_as_admin:
        return Attribution(IntroStatus.COMPLETE, None, N_("joined as an admin of the group"))
    if arrival.via_link:
        sponsor = arrival.invitation_sponsor_id
        if sponsor is None:
            return held(N_("joined through a link that is not a sponsor's"))
        if not arrival.invitation_was_unused:
            return held(N_("joined through a sponsor's link that was already used"))
        if sponsor not in arrival.present_ids:
            return held(N_("their sponsor left the group before they joined"))
        return sponsored(sponsor, N_("sponsor's personal invite link"), prefill=True)
    if arrival.via_join_request:
        if arrival.request_sponsor_id is not None:
            return sponsored(
                arrival.request_sponsor_id,
                N_("join request vouched for by the sponsor"),
                prefill=True,
            )
        if arrival.request_moderator_id is not None:
            return sponsored(
                arrival.request_moderator_id, N_("join request approved by a moderator")
            )
        return held(N_("join request approved outside the bot"))
    if arrival.adder_id is not None:
        if arrival.adder_id in arrival.present_ids:
            return sponsored(arrival.adder_id, N_("added to the group by the sponsor"))
        return held(N_("added by someone who is not a member"))
    return held(N_("joined without a sponsor (e.g. the group's general link)"))
