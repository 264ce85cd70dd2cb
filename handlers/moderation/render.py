"""The moderation texts that are more than a line, composed from typed results.

Each function returns HTML (every value a person typed is escaped here) in the locale that is
active when it is called; the handlers choose the reader's locale around the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from config.schema import GroupConfig
from handlers.moderation.common import Outcome, Right, missing_right_reply, penalty_text
from handlers.render import esc, esc_attr, mention
from i18n import _, duration_text, ngettext
from moderation.conduct import Offence, SponsorNews, WarningPlan
from storage.reports import DISMISS


@dataclass(frozen=True)
class Notice:
    """A note to a member: privately, or ``public`` in the group if they never started the bot."""

    private: str
    public: str


def sponsor_text(news: SponsorNews, name: str, group: str, reason: str, window: timedelta) -> str:
    """What the sponsor of a warned, removed or banned member is told (one message)."""
    values = {"name": esc(name), "group": esc(group), "reason": esc(reason)}
    if news.kind == "warn":
        return _(
            "{name}, whom you sponsored in {group}, was warned by the moderators: {reason}",
            **values,
        )
    if news.after is not None and news.kind == "ban":
        return ngettext(
            "{name}, whom you sponsored in {group}, was banned by the moderators after {n} "
            "warning within {window}; they cannot rejoin. The last warning: {reason}",
            "{name}, whom you sponsored in {group}, was banned by the moderators after {n} "
            "warnings within {window}; they cannot rejoin. The last warning: {reason}",
            news.after,
            window=duration_text(window),
            **values,
        )
    if news.after is not None:
        return ngettext(
            "{name}, whom you sponsored in {group}, was removed by the moderators after {n} "
            "warning within {window}; they may come back through a sponsor. The last "
            "warning: {reason}",
            "{name}, whom you sponsored in {group}, was removed by the moderators after {n} "
            "warnings within {window}; they may come back through a sponsor. The last "
            "warning: {reason}",
            news.after,
            window=duration_text(window),
            **values,
        )
    if news.kind == "ban":
        return _(
            "{name}, whom you sponsored in {group}, was banned by the moderators and cannot "
            "rejoin: {reason}",
            **values,
        )
    return _(
        "{name}, whom you sponsored in {group}, was removed by the moderators: {reason}",
        **values,
    )


def deletion_notice(
    offence: Offence, user_id: int, full_name: str, group: str, word: str
) -> Notice:
    """Why the watcher deleted a member's message."""
    if offence is Offence.BANNED_WORD:
        return Notice(
            _(
                "I removed your message in {group}: it contained “{word}”, which the "
                "group's politeness rules do not allow. Please write it again without it.",
                group=esc(group),
                word=esc(word),
            ),
            _(
                "{name}, I removed a message: the group's politeness rules do not allow "
                "one of its words.",
                name=mention(user_id, full_name),
            ),
        )
    return Notice(
        _(
            "I removed your message in {group}: links and files are open to members "
            "once their introduction is complete. Until then you can write text; "
            "finish your introduction (the card in the group has a button) and they "
            "open at once.",
            group=esc(group),
        ),
        _(
            "{name}, links and files open once your introduction is complete; "
            "until then, text only please.",
            name=mention(user_id, full_name),
        ),
    )


def flood_notice(user_id: int, full_name: str, count: int, per: str, duration: str) -> str:
    """The group's note that a member was muted for flooding."""
    return _(
        "🔇 {name} is muted for {duration} for sending {n} messages in {per}. "
        "Please gather your thoughts into fewer messages.",
        name=mention(user_id, full_name),
        duration=duration,
        n=count,
        per=per,
    )


def warned_public(
    plan: WarningPlan,
    outcome: Outcome | None,
    user_id: int,
    name: str,
    reason: str,
    window: timedelta,
    group: GroupConfig,
) -> str:
    """Where /warn was given: the warning, the count, and the ladder's step if one was reached."""
    lines = [
        _("⚠️ {name} was warned: {reason}", name=mention(user_id, name), reason=esc(reason)),
        _("Warnings in the last {window}: {n}.", n=plan.count, window=duration_text(window)),
    ]
    step = plan.step
    if step is not None and outcome is Outcome.DONE:
        lines.append(_("By the group's rules they are now {penalty}.", penalty=penalty_text(step)))
    elif step is not None and outcome is Outcome.NO_RIGHT:
        lines.append(missing_right_reply(group, Right.RESTRICT))
    elif step is not None and outcome is not None:
        lines.append(
            _(
                "The rules call for them to be {penalty}, but Telegram refused it.",
                penalty=penalty_text(step),
            )
        )
    return "\n".join(lines)


def warned_private(
    plan: WarningPlan, penalty_done: bool, group: str, reason: str, window: timedelta
) -> str:
    """The warned member's private note: why, how many count, and what the next ones lead to."""
    lines = [
        _(
            "You received a warning from the moderators of {group}: {reason}",
            group=esc(group),
            reason=esc(reason),
        ),
        _("Your warnings in the last {window}: {n}.", n=plan.count, window=duration_text(window)),
    ]
    if plan.step is not None and penalty_done:
        lines.append(
            _("Under the group's rules you are now {penalty}.", penalty=penalty_text(plan.step))
        )
    if plan.upcoming is not None:
        lines.append(
            _(
                "At {n} warnings within {window} you would be {penalty}.",
                n=plan.upcoming.warnings,
                window=duration_text(window),
                penalty=penalty_text(plan.upcoming),
            )
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Muted:
    """A moderator's /mute, carried out."""

    user_id: int
    name: str
    group: str
    duration: timedelta
    reason: str


def muted_public(muted: Muted, until: str) -> str:
    text = _(
        "🔇 {name} is muted for {duration}, until {until}.",
        name=mention(muted.user_id, muted.name),
        duration=duration_text(muted.duration),
        until=esc(until),
    )
    if muted.reason:
        text += "\n" + _("Reason: {reason}", reason=esc(muted.reason))
    return text


def muted_private(muted: Muted, until: str) -> str:
    text = _(
        "The moderators of {group} muted you for {duration}, until {until}. You can read "
        "the group meanwhile.",
        group=esc(muted.group),
        duration=duration_text(muted.duration),
        until=esc(until),
    )
    if muted.reason:
        text += "\n" + _("Reason: {reason}", reason=esc(muted.reason))
    return text


def removed_public(ban: bool, name: str, reason: str) -> str:
    if ban:
        return _("⛔ {name} was banned: {reason}", name=esc(name), reason=esc(reason))
    return _(
        "{name} was removed: {reason}. They are welcome back through a sponsor.",
        name=esc(name),
        reason=esc(reason),
    )


def removed_private(ban: bool, group: str, reason: str) -> str:
    if ban:
        return _(
            "The moderators removed you from {group} and you cannot rejoin: {reason}",
            group=esc(group),
            reason=esc(reason),
        )
    return _(
        "The moderators removed you from {group}: {reason}\nYou are welcome back later "
        "through a sponsor (a member who invites you).",
        group=esc(group),
        reason=esc(reason),
    )


@dataclass(frozen=True)
class Purged:
    """What /purge did: of ``asked`` messages, ``known`` were on record, ``deleted`` went."""

    name: str
    asked: int
    known: int
    deleted: int
    too_old: int


def purge_summary(purged: Purged) -> str:
    lines = [
        ngettext(
            "Deleted {n} message of {name}.",
            "Deleted {n} messages of {name}.",
            purged.deleted,
            name=esc(purged.name),
        )
    ]
    if purged.known < purged.asked:
        lines.append(
            ngettext(
                "I only knew of {n} recent message.",
                "I only knew of {n} recent messages.",
                purged.known,
            )
        )
    if purged.too_old:
        lines.append(
            ngettext(
                "{n} was too old to delete (Telegram allows 48 h).",
                "{n} were too old to delete (Telegram allows 48 h).",
                purged.too_old,
            )
        )
    return " ".join(lines)


# --------------------------------------------------------------------------- /report's entry
@dataclass(frozen=True)
class ReportReporter:
    name: str
    dismissed: int  # how many of their earlier reports the moderators dismissed


@dataclass(frozen=True)
class ReportDecision:
    decision: str  # del | warn | mute | dismiss
    name: str  # the moderator who took it
    at: str  # when, in the group's time zone ("" when the group is not configured)


@dataclass(frozen=True)
class ReportEntry:
    """One reported message as the moderators' entry shows it."""

    group: str
    author: str
    link: str | None  # the message in the group (supergroups only)
    excerpt: str
    reporters: tuple[ReportReporter, ...]
    hidden: bool  # deleted pending review after report_hide_after reporters
    decisions: tuple[ReportDecision, ...]


def _done_words(decision: str) -> str:
    return {
        "del": _("Deleted"),
        "warn": _("Warned"),
        "mute": _("Muted"),
        DISMISS: _("Dismissed"),
    }[decision]


def report_text(entry: ReportEntry) -> str:
    """The moderators' entry about a reported message (HTML)."""
    heading = _(
        "🚩 Reported in {group}: a message by {author}",
        group=esc(entry.group),
        author=esc(entry.author),
    )
    if entry.link:
        heading += ' (<a href="' + esc_attr(entry.link) + '">' + _("open") + "</a>)"
    lines = [heading, "“" + esc(entry.excerpt) + "”" if entry.excerpt else _("(no text)")]
    who = []
    for reporter in entry.reporters:
        name = esc(reporter.name)
        if reporter.dismissed:
            name += " " + ngettext(
                "({n} report dismissed before)",
                "({n} reports dismissed before)",
                reporter.dismissed,
            )
        who.append(name)
    lines.append(
        ngettext(
            "Reported by {n} member: {names}",
            "Reported by {n} members: {names}",
            len(entry.reporters),
            names=", ".join(who),
        )
    )
    if entry.hidden:
        lines.append(_("Hidden pending review: the message was deleted after the reports."))
    for decision in entry.decisions:
        lines.append(
            _(
                "{done} by {name}, {at}",
                done=_done_words(decision.decision),
                name=esc(decision.name),
                at=esc(decision.at),
            )
        )
    return "\n".join(lines)
