"""Sponsorship of out-of-country members, as plain rules: who counts as a sponsor in the
country, who may be named, who may answer or extend, and what the audit trail says.

The lifecycle handlers and ``storage.lifecycle`` ask these; neither decides on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from i18n import _
from moderation.introductions import Category, IntroStatus, may_sponsor
from moderation.lifecycle import Answer, Outcome


def counts_in_country(is_bot: bool, category: Category | None) -> bool:
    """A present member counts as working in the country unless a bot or recorded outside it.

    Members from before the bot (no introduction: ``category`` None) count as in the country.
    """
    return not is_bot and category in (None, Category.IN_COUNTRY)


def sponsor_ok(
    sponsor_id: int | None, trusted: frozenset[int], in_country: Callable[[int], bool]
) -> bool:
    """An out-of-country member's sponsor still counts: a configured moderator (``trusted``,
    a member or not), or a present member who counts as in the country."""
    return sponsor_id is not None and (sponsor_id in trusted or in_country(sponsor_id))


@dataclass(frozen=True)
class Candidate:
    """What is known about someone a member names as their sponsor in the country."""

    user_id: int
    is_bot: bool = False
    present: bool = False  # a present member of the group
    category: Category | None = None  # None: no introduction (a member from before the bot)
    intro_status: IntroStatus | None = None
    trusted: bool = False  # a configured moderator


def sponsor_problem(candidate: Candidate, member_id: int) -> str | None:
    """None when ``candidate`` may sponsor ``member_id`` outside the country, else why not."""
    if candidate.user_id == member_id:
        return _("you cannot sponsor yourself")
    if candidate.is_bot:
        return _("a bot cannot sponsor anyone")
    if candidate.trusted:
        return None  # configured moderators count as sponsors in the country, members or not
    return may_sponsor(
        candidate.present, candidate.category, Category.OUT_OF_COUNTRY, candidate.intro_status
    )


def confirmation_problem(candidate: Candidate, member_id: int, member_present: bool) -> str | None:
    """None when the named sponsor's "yes" takes effect now, else why it cannot."""
    problem = sponsor_problem(candidate, member_id)
    if problem is None and not member_present:
        return _("they are no longer in the group")
    return problem


def may_answer_request(pending_sponsor_id: int | None, presser_id: int) -> bool:
    """Only the sponsor the member named answers their request, and only while it is open."""
    return pending_sponsor_id is not None and pending_sponsor_id == presser_id


def may_extend(actor_id: int, actor_is_moderator: bool, sponsor_id: int | None) -> bool:
    """A membership is extended by its sponsor or by a moderator."""
    return actor_is_moderator or (sponsor_id is not None and sponsor_id == actor_id)


def records_stay(current: Answer | None) -> bool:
    """Pressing "yes" again (to restart the sponsor questions) records nothing new."""
    return current is not Answer.STAY


def may_name_new_sponsor(
    sponsor_lost: bool,
    departure_answer: Answer | None,
    removal_outcome: Outcome | None,
    end: date | None,
) -> bool:
    """The "Name a new sponsor" button is open after the sponsor left or after "yes" to the
    departure question, while no removal was attempted and the end date is known."""
    return (
        end is not None
        and (sponsor_lost or departure_answer is Answer.STAY)
        and removal_outcome is None
    )


def sponsorship_cause(lost: bool, before: Category | None, sponsor_id: int, end: date) -> str:
    """The audit line when a named sponsor confirms (a replacement, or after a departure)."""
    if lost:
        return (
            f"sponsor: new sponsor {sponsor_id} confirmed, out_of_country until {end.isoformat()}"
        )
    was = (before or Category.IN_COUNTRY).value
    return (
        f"departure: {was} -> out_of_country until {end.isoformat()}, "
        f"sponsor {sponsor_id} confirmed"
    )


def extension_cause(by_moderator: bool, before: date | None, end: date) -> str:
    """The audit line of an extension."""
    who = "moderator" if by_moderator else "sponsor"
    return f"{who}: extended from {before.isoformat() if before else '?'} to {end.isoformat()}"
