"""What the bot does about one group message, and what one more warning leads to.

Two decisions, each a plain function of typed facts (no Telegram, no database):

- ``judge(facts, standing, policy) -> Verdict``: the watcher's whole decision tree. "When is a
  member muted for flooding?" is answered here: when they are not trusted (a configured
  moderator or a group admin), the message is new (an edit never counts again), it brings their
  messages within ``policy.flood.per`` to ``policy.flood.messages`` or more (an album counts
  once), they are not muted already and not held read-only until their introduction.
- ``plan_warning(earlier, ladder, held) -> WarningPlan``: what the warning that brings a member's
  count to ``earlier + 1`` leads to on the escalation ladder, and what the sponsor is told.

The handlers gather the facts, ask, carry out the answer and render it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from moderation.discipline import (
    BannedMatcher,
    FloodRule,
    Penalty,
    Step,
    escalation,
    has_link,
    is_flood,
    next_step,
)


# --------------------------------------------------------------------------- the watcher
@dataclass(frozen=True)
class WatchPolicy:
    """The group's noise-control settings (``moderation`` in the configuration)."""

    flood: FloodRule | None
    banned: BannedMatcher
    block_links_until_introduced: bool
    block_media_until_introduced: bool


@dataclass(frozen=True)
class MessageFacts:
    """One message as the watcher sees it.

    ``recent`` holds the send times of the sender's messages in this group within the flood
    window, this one included (an album noted once); it is empty for an edit, which was
    counted when it was first sent.
    """

    sent_at: datetime
    text: str | None
    entity_types: tuple[str, ...] = ()
    has_media: bool = False
    edited: bool = False
    recent: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Standing:
    """Who sent it, as far as the rules care."""

    trusted: bool = False  # a configured moderator or a group admin by the live list
    admin: bool = False  # an admin or the owner by the roster: Telegram protects them
    muted: bool = False  # a mute is running already
    held: bool = False  # read-only until their introduction is complete
    introduction_incomplete: bool = False


class Offence(enum.StrEnum):
    """Why a message is deleted; the values are the audit log's kinds."""

    BANNED_WORD = "banned_word"
    LINK = "link_blocked"
    MEDIA = "media_blocked"


@dataclass(frozen=True)
class Findings:
    """What the content and the pace of a message show, before anyone's standing is known."""

    flooding: bool = False
    banned: str | None = None  # the matched text of the first banned word or pattern
    link: bool = False
    media: bool = False

    @property
    def clean(self) -> bool:
        return not (self.flooding or self.banned is not None or self.link or self.media)


@dataclass(frozen=True)
class Verdict:
    """What to do: mute for flooding (``flood_count`` messages), delete for ``delete``."""

    mute_for_flood: bool = False
    flood_count: int = 0
    delete: Offence | None = None
    banned: str | None = None

    @property
    def nothing(self) -> bool:
        return not self.mute_for_flood and self.delete is None


NOTHING = Verdict()


def screen(facts: MessageFacts, policy: WatchPolicy) -> Findings:
    """The cheap part, run on every message: nothing here needs the sender's standing.

    A clean result means ``judge`` answers NOTHING whoever sent it, so the watcher reads no
    standing from the database for an ordinary message.
    """
    flooding = (
        not facts.edited
        and policy.flood is not None
        and is_flood(facts.recent, facts.sent_at, policy.flood)
    )
    return Findings(
        flooding=flooding,
        banned=policy.banned.find(facts.text),
        link=policy.block_links_until_introduced and has_link(facts.text, facts.entity_types),
        media=policy.block_media_until_introduced and facts.has_media,
    )


def judge(facts: MessageFacts, standing: Standing, policy: WatchPolicy) -> Verdict:
    """The watcher's decision for one message (new or edited) in a configured group."""
    if standing.trusted:
        return NOTHING
    findings = screen(facts, policy)
    if findings.clean or standing.admin:
        return NOTHING  # Telegram lets nobody restrict admins; they are the group's to trust
    mute = findings.flooding and not standing.muted and not standing.held
    if findings.banned is not None:
        offence: Offence | None = Offence.BANNED_WORD
    elif (findings.link or findings.media) and standing.introduction_incomplete:
        offence = Offence.LINK if findings.link else Offence.MEDIA
    else:
        offence = None
    return Verdict(
        mute_for_flood=mute,
        flood_count=len(facts.recent) if mute else 0,
        delete=offence,
        banned=findings.banned if offence is Offence.BANNED_WORD else None,
    )


# --------------------------------------------------------------------------- warnings
class WarningAction(enum.Enum):
    NONE = "none"  # below the ladder's first step
    MUTE = "mute"
    ALREADY_HELD = "already held"  # a mute step, but they are read-only until introduced
    REMOVE = "remove"
    BAN = "ban"


@dataclass(frozen=True)
class WarningPlan:
    """The warning that brings the count to ``count``: the step reached and what follows."""

    count: int
    step: Step | None
    action: WarningAction
    upcoming: Step | None  # what further warnings would lead to (told to the member)

    @property
    def mute_for(self) -> timedelta | None:
        return self.step.duration if self.action is WarningAction.MUTE and self.step else None


@dataclass(frozen=True)
class SponsorNews:
    """What the sponsor hears: ``kind`` is warn, remove or ban; ``after`` the warning count
    when the removal or ban was the ladder's answer to this warning (one message names both)."""

    kind: str
    after: int | None = None


def plan_warning(earlier: int, ladder: Sequence[Step], held: bool) -> WarningPlan:
    """``earlier`` warnings still count; this one makes ``earlier + 1``."""
    count = max(earlier, 0) + 1
    step = escalation(ladder, count)
    if step is None:
        action = WarningAction.NONE
    elif step.penalty is Penalty.MUTE:
        action = WarningAction.ALREADY_HELD if held else WarningAction.MUTE
    elif step.penalty is Penalty.BAN:
        action = WarningAction.BAN
    else:
        action = WarningAction.REMOVE
    return WarningPlan(count, step, action, next_step(ladder, count))


def sponsor_news(plan: WarningPlan, penalty_done: bool) -> SponsorNews:
    """One message to the sponsor: the warning, or the removal or ban it led to."""
    if penalty_done and plan.action is WarningAction.BAN:
        return SponsorNews("ban", plan.count)
    if penalty_done and plan.action is WarningAction.REMOVE:
        return SponsorNews("remove", plan.count)
    return SponsorNews("warn")
