"""What reminders say and whom they reach: texts, buttons, the /missing report, the outbox
plan and the group digest. The outbox engine (``delivery.reminders``) sends them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from delivery.outcome import Outcome
from delivery.reminders import Letter, Unreachable, Verdict
from handlers.common import in_group
from handlers.render import chunk_lines, esc, esc_attr, mention
from handlers.topics import send_to_group
from i18n import _, comma_join, duration_text, pick_language, use_locale
from moderation import deadlines as rules
from moderation.deadlines import DIGEST, OVERDUE, Deadline, DueRow
from moderation.topics import Purpose
from runtime.context import App, Services, services_of
from storage import deadlines as store
from storage.deadlines import BatchReads, DeadlineRepository
from storage.models import Partner, User
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

CB_REMINDER = "dl"  # dl:<s|z|n>:<outbox id>


def now_of(services: Services) -> datetime:
    return services.clock.now()


# --------------------------------------------------------------------------- rendering
def due_line(deadline: Deadline, occurrence: datetime) -> str:
    return rules.format_local(occurrence, deadline.tz)


def reminder_text(deadline: Deadline, row: DueRow, now: datetime, catch_up: bool) -> str:
    due = esc(due_line(deadline, row.occurrence_at))
    title = _(
        "<b>{title}</b> (<code>{id}</code>)", title=esc(deadline.title), id=esc_attr(deadline.id)
    )
    if row.kind == OVERDUE or row.occurrence_at <= now:
        head = _(
            "⚠️ {title} was due {due} and is not marked as submitted yet.", title=title, due=due
        )
    else:
        left = esc(duration_text(row.occurrence_at - now))
        head = _("⏰ {title} is due {due} (in {left}).", title=title, due=due, left=left)
    lines = [head]
    if catch_up:
        lines.insert(0, _("I could not send reminders for a while; here is where things stand."))
    if deadline.description:
        lines.append(esc(deadline.description))
    lines.append(_("Press <b>Submitted</b> when you have sent it, or use the buttons below."))
    return "\n".join(lines)


def reminder_buttons(row_id: int, snooze: timedelta) -> InlineKeyboardMarkup:
    length = duration_text(snooze)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("✅ Submitted"), callback_data=f"{CB_REMINDER}:s:{row_id}"),
                InlineKeyboardButton(
                    _("⏰ Snooze {length}", length=length),
                    callback_data=f"{CB_REMINDER}:z:{row_id}",
                ),
            ],
            [
                InlineKeyboardButton(
                    _("Not applicable this time"), callback_data=f"{CB_REMINDER}:n:{row_id}"
                )
            ],
        ]
    )


def name_of(user: User | None, user_id: int) -> str:
    return user.display_name if user is not None else _("user {id}", id=user_id)


def unit_name(unit: str, names: dict[int, str | None]) -> str:
    """A unit for people to read: ``WASH (cluster)``, or a named person's name."""
    kind, _sep, raw = unit.partition(":")
    if kind == "user" and raw.lstrip("-").isdigit():
        return names.get(int(raw)) or _("user {id}", id=int(raw))
    return rules.unit_label(unit)


def unit_for(deadline: Deadline, user_id: int, partner: Partner | None) -> str | None:
    """Whom ``user_id`` answers for on this deadline, or None when it does not concern them."""
    cluster = partner.cluster if partner is not None else None
    organisation = partner.organisation if partner is not None else None
    if partner is None and not deadline.audience.named(user_id):
        return None
    if not deadline.audience.includes(cluster, organisation, user_id):
        return None
    return deadline.audience.unit_of(user_id, cluster, organisation)


def recipients_of(deadline: Deadline, partners: list[tuple[Partner, User | None]]) -> list[int]:
    """Partners the audience includes, and the people it names."""
    ids = {
        p.user_id
        for p, _user in partners
        if deadline.audience.includes(p.cluster, p.organisation, p.user_id)
    }
    return sorted(ids | set(deadline.audience.users or ()))


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str | None  # None: never seen (named by id)
    reachable: bool


@dataclass
class MissingReport:
    """Who has not answered, as plain data read in one transaction; ``lines()`` renders it in
    the current language (the moderator's, or the group's)."""

    deadline: Deadline
    occurrence: datetime | None
    missing: list[str] = field(default_factory=list)  # units
    total: int = 0
    people: dict[str, list[Person]] = field(default_factory=dict)
    names: dict[int, str | None] = field(default_factory=dict)

    def lines(self) -> list[str]:
        deadline, title = self.deadline, esc(self.deadline.title)
        if self.occurrence is None:
            return [_("<b>{title}</b> has no occurrence any more.", title=title)]
        lines = [
            _(
                "<b>{title}</b> due {due}: {answered} of {total} answered.",
                title=title,
                due=esc(due_line(deadline, self.occurrence)),
                answered=self.total - len(self.missing),
                total=self.total,
            )
        ]
        if not self.missing:
            lines.append(_("Nobody is missing."))
        for unit in self.missing:
            who = []
            for person in self.people.get(unit, []):
                label = mention(person.user_id, person.name or name_of(None, person.user_id))
                if not person.reachable:
                    label = _("{name} (cannot be reached privately)", name=label)
                who.append(label)
            listed = comma_join(who) if who else _("no partner subscribed")
            lines.append(
                _("• {unit}: {partners}", unit=esc(unit_name(unit, self.names)), partners=listed)
            )
        return lines


def missing_report(
    services: Services, repo: DeadlineRepository, deadline: Deadline
) -> MissingReport:
    now = now_of(services)
    occurrence = rules.current_occurrence(deadline, now)
    report = MissingReport(deadline, occurrence)
    if occurrence is None:
        return report
    settings = services.settings
    done = repo.submissions(deadline.id, occurrence)
    partners = repo.partners()
    known = {p.user_id: (p, user) for p, user in partners}
    users: dict[int, User | None] = {p.user_id: user for p, user in partners}
    for user_id in recipients_of(deadline, partners):
        partner, user = known.get(user_id, (None, None))
        if user_id not in users:
            user = repo.user(user_id)
            users[user_id] = user
        unit = unit_for(deadline, user_id, partner)
        if unit is not None:
            report.people.setdefault(unit, []).append(
                Person(
                    user_id,
                    user.display_name if user is not None else None,
                    user is not None and user.reachable,
                )
            )
    report.names = {uid: (u.display_name if u is not None else None) for uid, u in users.items()}
    expected = deadline.audience.expected_units(settings.clusters, settings.organisations)
    units = sorted(set(expected) | set(report.people))
    report.missing = rules.units_missing(units, done)
    report.total = len(units)
    return report


def recipient_language(services: Services, reads: BatchReads, user_id: int) -> str:
    """What the recipient reads (``handlers.common.personal_language`` from a batch's reads):
    their /language choice, else Telegram's, else their group's first language."""
    user = reads.users.get(user_id)
    groups = services.settings.groups
    present = reads.present_in.get(user_id, set())
    default = next(
        (g.languages[0] for g in groups if len(groups) > 1 and g.chat_id in present),
        groups[0].languages[0] if groups else None,
    )
    chosen = user.language if user is not None else None
    return pick_language(chosen, user.language_code if user is not None else None, default)


def digest_recipients(services: Services) -> list[int]:
    settings = services.settings
    return list(settings.moderators) if settings.reminders.moderator_digest else []


def plan_outbox(services: Services, repo: DeadlineRepository, now: datetime) -> None:
    settings = services.settings
    moderators = digest_recipients(services)
    partners = repo.partners()
    for deadline in repo.definitions():
        start, end = rules.planning_window(deadline, now, settings.reminders.catch_up_window)
        recipients = recipients_of(deadline, partners)
        for occurrence in rules.occurrences(deadline, start, end):
            planned = rules.plan(deadline, occurrence)
            repo.enqueue(deadline.id, occurrence, recipients, planned)
            digest = [p for p in rules.plan(deadline, occurrence, digest=True) if p.kind == DIGEST]
            repo.enqueue(deadline.id, occurrence, moderators, digest)


def next_reminder_at(services: Services, now: datetime) -> datetime | None:
    """The next moment the dispatcher has work: a planned row falls due, or an occurrence
    enters the planning window (for stepping virtual time; the job queue runs every 30 s)."""
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        moments = [rules.next_planning_at(d, now) for d in repo.definitions()]
        moments.append(repo.next_pending_at(now))
    return min((t for t in moments if t is not None), default=None)


async def group_digest(app: App, unreachable: dict[tuple[str, datetime], list[int]]) -> None:
    """One group message mentioning the partners the bot cannot write to privately, in the
    group's language(s)."""
    services = services_of(app)
    if not services.settings.groups:
        return
    chat_id = services.settings.groups[0].chat_id
    now = now_of(services)
    entries: list[tuple[Deadline, datetime, list[str]]] = []
    with services.db.transaction() as session:
        repo, roster = DeadlineRepository(session), RosterRepository(session)
        for (deadline_id, occurrence), user_ids in sorted(unreachable.items()):
            deadline = repo.deadline(deadline_id)
            if deadline is None:
                continue
            names = [mention(uid, name_of(roster.user(uid), uid)) for uid in sorted(set(user_ids))]
            for start in range(0, len(names), 40):  # Telegram ignores entities past 100
                entries.append((deadline, occurrence, names[start : start + 40]))
    if not entries:
        return

    def render() -> str:
        lines: list[str] = []
        for deadline, occurrence, names in entries:
            values = {
                "title": esc(deadline.title),
                "due": esc(due_line(deadline, occurrence)),
                "names": comma_join(names),
            }
            lines.append(
                _("⏰ <b>{title}</b> was due {due}: {names}", **values)
                if occurrence <= now
                else _("⏰ <b>{title}</b> is due {due}: {names}", **values)
            )
        lines.append(
            _(
                "I cannot write to you privately: please open a chat with @{bot} and press "
                "Start to get reminders there.",
                bot=esc_attr(app.bot.username),
            )
        )
        return "\n".join(lines)

    text = in_group(services, chat_id, render)
    for chunk in chunk_lines(text.split("\n")):
        try:
            await send_to_group(app.bot, services, chat_id, chunk, purpose=Purpose.DEADLINES)
        except TelegramError as exc:
            log.warning("group reminder digest not sent: %s", exc)


class ReminderLetters:
    """The deadline feature's side of the reminder outbox (``delivery.reminders.Letters``)."""

    def plan(self, services: Services, repo: DeadlineRepository, now: datetime) -> None:
        plan_outbox(services, repo, now)

    def prepare(
        self, services: Services, repo: DeadlineRepository, rows: Sequence[DueRow]
    ) -> BatchReads:
        groups = services.settings.groups
        # Where each recipient is present matters only to pick a default among several groups.
        chats = [g.chat_id for g in groups] if len(groups) > 1 else []
        return repo.batch_reads(rows, chats)

    def compose(
        self,
        services: Services,
        repo: DeadlineRepository,
        reads: BatchReads,
        row: DueRow,
        catch_up: bool,
        now: datetime,
    ) -> Letter | Verdict:
        deadline = reads.deadlines.get(row.deadline_id)
        user = reads.users.get(row.user_id)
        if deadline is None:
            return Verdict(Outcome.DONE, store.CANCELLED, "deadline removed")
        if deadline.paused:  # paused after the claim: the row waits for the resume
            return Verdict(Outcome.DONE, store.PENDING, "deadline paused", release=True)
        language = recipient_language(services, reads, row.user_id)
        if row.kind == DIGEST:
            report = missing_report(services, repo, deadline)
            if not report.missing:
                return Verdict(Outcome.DONE, store.CANCELLED, "nobody missing")
            with use_locale(language):
                head = _("<b>Overdue</b> — not submitted yet:")
                letter = Letter("\n".join([head, *report.lines()[:60]]))
        else:
            unit = unit_for(deadline, row.user_id, reads.partners.get(row.user_id))
            if unit is None:
                return Verdict(Outcome.DONE, store.CANCELLED, "no longer a partner")
            if (deadline.id, row.occurrence_at, unit) in reads.submitted:
                return Verdict(Outcome.DONE, store.CANCELLED, "already submitted")
            with use_locale(language):
                text = reminder_text(deadline, row, now, catch_up)
                markup = reminder_buttons(row.id, services.settings.reminders.snooze)
            letter = Letter(text, markup)
        if user is not None and not user.reachable:  # unknown users: Telegram will tell us
            return Verdict(Outcome.UNREACHABLE, store.UNREACHABLE, "has not started the bot")
        return letter

    async def digest(self, app: App, unreachable: Unreachable) -> None:
        await group_digest(app, unreachable)


LETTERS = ReminderLetters()
