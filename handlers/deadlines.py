"""Deadline reminders: partners, the outbox dispatcher, buttons, /deadlines, /submitted, /missing.

The dispatcher is a sweep. Each run (1) turns the configured deadlines into rows, (2) plans
outbox rows for occurrences whose reminders may be due (idempotent: a unique constraint on
(deadline, occurrence, recipient, kind)), (3) claims due rows, (4) sends them, a few at a time
in due order (``reminders.in_flight``), and marks each sent. A restart or a second process
therefore neither loses nor repeats a reminder.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from handlers.common import in_group, moderators_only, personal_language, reply
from handlers.render import chunk_lines, esc, mention
from i18n import _, comma_join, duration_text, list_text, ngettext, use_locale
from moderation import deadlines as rules
from moderation.calendar import build_calendar
from moderation.deadlines import DIGEST, OVERDUE, Deadline, DueRow
from moderation.permissions import CommandSpec, Role, Where
from runtime.context import App, BotContext, Services, Sweep, services_of
from storage import deadlines as store
from storage import retry
from storage.deadlines import DeadlineRepository
from storage.models import Partner, User
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

COMMANDS = [
    CommandSpec("deadlines", "Upcoming deadlines and whether you have submitted"),
    CommandSpec(
        "subscribe", "Get deadline reminders for your cluster/organisation", where=Where.PRIVATE
    ),
    CommandSpec("unsubscribe", "Stop deadline reminders", where=Where.PRIVATE),
    CommandSpec("submitted", "Record that you submitted for a deadline", usage="ID"),
    CommandSpec("calendar", "All deadlines as a calendar file (.ics)"),
    CommandSpec("missing", "Who has not submitted for a deadline", Role.MODERATOR, usage="ID"),
    CommandSpec(
        "assign",
        "Make someone a partner for a cluster or organisation",
        Role.MODERATOR,
        usage="@username|user-id CLUSTER-or-ORGANISATION",
    ),
]

Callback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]
CB_REMINDER = "dl"  # dl:<s|z|n>:<outbox id>
CB_SUBSCRIBE = "dlsub"  # dlsub:c:<cluster index> / dlsub:o:<cluster index>:<org index>
ACTIONS = {"s": "submitted", "n": "not_applicable", "z": "snooze"}


def now_of(services: Services) -> datetime:
    return services.clock.now()


# --------------------------------------------------------------------------- rendering
def due_line(deadline: Deadline, occurrence: datetime) -> str:
    return f"{rules.format_local(occurrence, deadline.tz)} {rules.zone_label(deadline.tz)}"


def reminder_text(deadline: Deadline, row: DueRow, now: datetime, catch_up: bool) -> str:
    due = esc(due_line(deadline, row.occurrence_at))
    title = _("<b>{title}</b> (<code>{id}</code>)", title=esc(deadline.title), id=esc(deadline.id))
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


async def answer_lines(
    update: Update, context: BotContext, render: Callable[[], list[str]]
) -> None:
    """Answer a command with lines, in the group's language(s) there (side by side in a
    bilingual group), privately in the person's; long answers in several messages."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    text = in_group(context.services, chat.id, lambda: "\n".join(render()))
    for chunk in chunk_lines(text.split("\n")):
        await message.reply_text(chunk)


# --------------------------------------------------------------------------- the dispatcher
async def dispatch(app: App) -> None:
    """The outbox dispatcher: plan, claim, send, mark. Safe to run in several processes.

    Claims ``batch_size`` rows at a time and keeps claiming while batches come back full, so a
    large fan-out goes out at Telegram's pace instead of one batch per run.
    """
    services = services_of(app)
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), now)
        plan_outbox(services, repo, now)
    unreachable: dict[tuple[str, datetime], list[int]] = {}
    while await _dispatch_batch(app, unreachable):
        pass
    if unreachable and services.settings.reminders.group_digest:
        await group_digest(app, unreachable)


async def _dispatch_batch(app: App, unreachable: dict[tuple[str, datetime], list[int]]) -> bool:
    """Claim and send one batch; True when it was full and nothing halted it (more may wait).

    Up to ``reminders.in_flight`` sends are under way at once, started in due order. A 429,
    SIGTERM or the database failing stops further starts: the sends under way finish (and are
    marked), the rows not started go back untouched.
    """
    services = services_of(app)
    policy = services.settings.reminders
    now = now_of(services)
    with services.db.transaction() as session:
        claimed = DeadlineRepository(session).claim(now, policy.batch_size, policy.lease)
    if not claimed:
        return False
    decision = rules.triage(claimed, now, policy.catch_up_window)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        for row in decision.merged:
            repo.finish(row.id, store.MERGED, now, note="superseded by a newer reminder")
        for row in decision.skipped:
            repo.finish(row.id, store.SKIPPED, now, note="missed by more than the catch-up window")
        for row, older in decision.catch_up:
            for old in older:
                repo.finish(old.id, store.MERGED, now, note=f"merged into catch-up #{row.id}")
    work = [(row, False) for row in decision.send] + [(row, True) for row, _ in decision.catch_up]
    work.sort(key=lambda item: (item[0].due_at, item[0].id))
    flight = _Flight(app, policy.in_flight)
    for row, catch_up in work:
        if not await flight.room():  # SIGTERM, a 429, the database in trouble, a failure
            break
        flight.start(row, catch_up)
        # Let it run up to its send (its database reads, the request under way), so that a
        # failure there is seen before the next one starts.
        await asyncio.sleep(0)
    outcomes = await flight.landed()
    for row, _catch_up in work:
        if outcomes.get(row.id) == "unreachable" and row.kind != DIGEST:
            unreachable.setdefault((row.deadline_id, row.occurrence_at), []).append(row.user_id)
    rest = [row.id for row, _ in work if row.id not in flight.began]  # untouched
    if flight.failures:
        # The database went away mid-batch (or a send failed unexpectedly): once it is back,
        # put back what was not sent, so it goes out at the next run instead of after the
        # lease. Not sent: the rows never begun and those that failed before Telegram had
        # them (OperationalError). A row Telegram accepted but that could not be marked
        # (retry.SentButNotMarked) keeps its claim (see the README), as does one that failed for an
        # unknown reason (it is tried again after the lease).
        first = flight.failures[0]
        outage = isinstance(first, (OperationalError, retry.SentButNotMarked))
        note = "database outage" if outage else f"not sent: {type(first).__name__} in the batch"
        unsent = [row.id for row, _ in work if row.id in flight.unsent]
        await _put_back(services, unsent + rest, now, note)
        raise first
    if flight.halted and rest:
        await _put_back(services, rest, now, flight.halted)
    # A halt ends the run: after SIGTERM, a 429 (the next run respects retry_after) or a
    # database hiccup, the next run takes the rest.
    return not flight.halted and len(claimed) >= policy.batch_size


class _Flight:
    """The reminders of one batch under way: at most ``limit`` at once, begun in due order.

    Once one of them throttles, fails or cannot be marked yet, or SIGTERM came, no more begin
    (``room`` says False and ``halted`` says why); the ones under way finish and are marked.
    """

    def __init__(self, app: App, limit: int) -> None:
        self.app, self.services = app, services_of(app)
        self.slots = asyncio.Semaphore(limit)
        self.tasks: list[asyncio.Task[str | None]] = []  # in due order
        self.rows: dict[asyncio.Task[str | None], int] = {}  # task → outbox row id
        self.halted = ""  # why no more begin: the note for the rows put back
        self.began: set[int] = set()  # rows handed to ``deliver``
        self.failures: list[BaseException] = []  # in due order
        self.unsent: set[int] = set()  # failed before Telegram had them: to put back

    def _stopping(self) -> bool:
        if self.services.stopping and not self.halted:
            self.halted = "released at shutdown"
        return bool(self.halted)

    async def room(self) -> bool:
        """Wait for a free slot; False (and no slot taken) once nothing more may begin."""
        if self._stopping():
            return False
        await self.slots.acquire()
        if self._stopping():
            self.slots.release()
            return False
        return True

    def start(self, row: DueRow, catch_up: bool) -> None:
        """Hand the row to a task holding the slot ``room`` took."""
        task = asyncio.create_task(self._send(row, catch_up))
        self.tasks.append(task)
        self.rows[task] = row.id

    async def _send(self, row: DueRow, catch_up: bool) -> str | None:
        # Every change of state below happens in this task before it yields to the loop, so
        # the dispatcher sees it before it starts another send.
        try:
            if self._stopping():  # halted between its start and its first turn: not begun
                return None
            self.began.add(row.id)
            try:
                outcome = await deliver(self.app, row, catch_up, self._trouble)
            except BaseException as exc:
                if isinstance(exc, OperationalError):
                    self.unsent.add(row.id)
                self.halted = self.halted or "a reminder of the batch failed"
                raise
            if outcome == "throttled":
                # Telegram asked us to slow down: the rest goes back, untouched, for the next
                # run.
                self.halted = self.halted or "waiting for the flood limit"
            return outcome
        finally:
            self.slots.release()

    def _trouble(self) -> None:
        """A sent reminder could not be marked yet: begin no more until the database is back."""
        self.halted = self.halted or "database outage"

    async def landed(self) -> dict[int, str]:
        """Wait for every send under way; the outcomes of those that did not fail, by row."""
        if self.tasks:
            await asyncio.wait(self.tasks)
        outcomes: dict[int, str] = {}
        for task in self.tasks:
            error = asyncio.CancelledError() if task.cancelled() else task.exception()
            if error is not None:
                if self.failures:
                    log.error("another reminder failed in the same batch: %r", error)
                self.failures.append(error)
                continue
            outcome = task.result()
            if outcome is not None:
                outcomes[self.rows[task]] = outcome
        return outcomes


def digest_recipients(services: Services) -> list[int]:
    settings = services.settings
    return list(settings.moderators) if settings.reminders.moderator_digest else []


async def _put_back(
    services: Services, row_ids: list[int], now: datetime, note: str = "database outage"
) -> None:
    """Put claimed rows back for the next run, retrying while the database is unreachable."""
    if not row_ids:
        return

    def release() -> None:
        with services.db.transaction() as session:
            repo = DeadlineRepository(session)
            for row_id in row_ids:
                repo.release(row_id, now, note)

    lease = services.settings.reminders.lease
    await retry.retry_database(release, min(lease / 2, retry.MARK_RETRY), "putting reminders back")


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


async def deliver(
    app: App, row: DueRow, catch_up: bool, trouble: Callable[[], None] | None = None
) -> str:
    """Send one claimed row and record the outcome: sent, done, unreachable, retry, throttled.

    ``trouble`` is called when Telegram has the message but the database cannot record it yet
    (the dispatcher then starts no more sends while it retries).
    """
    services = services_of(app)
    policy = services.settings.reminders
    now = now_of(services)
    # Each recipient reads their own language: their /language choice, else Telegram's.
    language = personal_language(services, row.user_id)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        deadline = repo.deadline(row.deadline_id)
        user = RosterRepository(session).user(row.user_id)
        if deadline is None:
            repo.finish(row.id, store.CANCELLED, now, note="deadline removed")
            return "done"
        if deadline.paused:  # paused after the claim: the row waits for the resume
            repo.release(row.id, now, "deadline paused")
            return "done"
        if row.kind == DIGEST:
            report = missing_report(services, repo, deadline)
            if not report.missing:
                repo.finish(row.id, store.CANCELLED, now, note="nobody missing")
                return "done"
            with use_locale(language):
                head = _("<b>Overdue</b> — not submitted yet:")
                text = "\n".join([head, *report.lines()[:60]])
            markup = None
        else:
            unit = unit_for(deadline, row.user_id, repo.partner(row.user_id))
            if unit is None:
                repo.finish(row.id, store.CANCELLED, now, note="no longer a partner")
                return "done"
            if repo.submission(deadline.id, row.occurrence_at, unit) is not None:
                repo.finish(row.id, store.CANCELLED, now, note="already submitted")
                return "done"
            with use_locale(language):
                text = reminder_text(deadline, row, now, catch_up)
                markup = reminder_buttons(row.id, policy.snooze)
        if user is not None and not user.reachable:  # unknown users: Telegram will tell us
            repo.finish(row.id, store.UNREACHABLE, now, note="has not started the bot")
            return "unreachable"
    try:
        message = await app.bot.send_message(row.user_id, text, reply_markup=markup)
    except RetryAfter as exc:
        with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
            warnings.simplefilter("ignore")
            wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        with services.db.transaction() as session:
            DeadlineRepository(session).release(
                row.id, now + rules.retry_delay(0, seconds), f"flood limit: retry after {seconds}s"
            )
        return "throttled"
    except Forbidden:
        with services.db.transaction() as session:
            RosterRepository(session).set_reachable(row.user_id, False)
            DeadlineRepository(session).finish(
                row.id, store.UNREACHABLE, now, note="blocked the bot"
            )
        return "unreachable"
    except BadRequest as exc:
        gone = "chat not found" in str(exc).lower()
        with services.db.transaction() as session:
            status = store.UNREACHABLE if gone else "failed"
            DeadlineRepository(session).finish(row.id, status, now, note=str(exc))
        if not gone:
            log.error("reminder %s refused by Telegram: %s", row.id, exc)
        return "unreachable" if gone else "done"
    except (NetworkError, TelegramError) as exc:  # NetworkError covers TimedOut
        with services.db.transaction() as session:
            attempts = (DeadlineRepository(session).outbox_row(row.id) or _NoRow).attempts
            DeadlineRepository(session).release(
                row.id, now + rules.retry_delay(attempts), f"network: {exc}"
            )
        log.warning("reminder %s not sent (%s); will retry", row.id, exc)
        return "retry"

    def mark_sent() -> None:
        try:
            with services.db.transaction() as session:
                DeadlineRepository(session).finish(
                    row.id,
                    store.SENT,
                    now,
                    message_id=message.message_id,
                    note="catch-up" if catch_up else None,
                )
        except OperationalError:
            if trouble is not None:
                trouble()
            raise

    # Telegram has the message: if the database is away, keep trying (within the lease) so
    # the reminder is not sent again.
    try:
        await retry.retry_database(
            mark_sent, min(policy.lease / 2, retry.MARK_RETRY), f"reminder {row.id}"
        )
    except OperationalError as exc:
        raise retry.SentButNotMarked(row.id) from exc
    return "sent"


class _NoRow:
    attempts = 1


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
                bot=esc(app.bot.username),
            )
        )
        return "\n".join(lines)

    text = in_group(services, chat_id, render)
    for chunk in chunk_lines(text.split("\n")):
        try:
            await app.bot.send_message(chat_id, chunk)
        except TelegramError as exc:
            log.warning("group reminder digest not sent: %s", exc)


# --------------------------------------------------------------------------- buttons
async def on_reminder_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    parts = (query.data or "").split(":")
    if len(parts) != 3 or parts[1] not in ACTIONS or not parts[2].isdigit():
        await query.answer(_("This button is not valid any more."))
        return
    action, row_id = ACTIONS[parts[1]], int(parts[2])
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        row = repo.outbox_row(row_id)
        answer: str
        done: str | None = None
        if row is None or row.user_id != query.from_user.id:
            answer = _("This reminder is not yours.")
        else:
            deadline = repo.deadline(row.deadline_id)
            unit = (
                unit_for(deadline, row.user_id, repo.partner(row.user_id))
                if deadline is not None
                else None
            )
            if deadline is None or unit is None:
                answer = _("This deadline or your subscription no longer exists.")
            else:
                answer, done = _act(
                    services, repo, deadline, unit, row.user_id, row.occurrence_at, action, now
                )
    await query.answer(answer)
    if done is not None and query.message is not None:
        try:
            await context.bot.edit_message_reply_markup(
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=None,
            )
            await context.bot.send_message(query.message.chat.id, done)
        except TelegramError as exc:
            log.info("could not update reminder message: %s", exc)


def _act(
    services: Services,
    repo: DeadlineRepository,
    deadline: Deadline,
    unit: str,
    user_id: int,
    occurrence: datetime,
    action: str,
    now: datetime,
) -> tuple[str, str | None]:
    due = esc(due_line(deadline, occurrence))
    title = esc(deadline.title)
    if action == "snooze":
        if repo.submission(deadline.id, occurrence, unit) is not None:
            return _("Already answered for this deadline."), None
        snooze = services.settings.reminders.snooze
        at = now + snooze
        repo.enqueue(
            deadline.id,
            occurrence,
            [user_id],
            [rules.PlannedReminder(rules.kind_snooze(at), at)],
        )
        return _("Snoozed."), _(
            "I will remind you about <b>{title}</b> again in {length}. The deadline stays {due}.",
            title=title,
            length=esc(duration_text(snooze)),
            due=due,
        )
    saved = repo.submit(deadline.id, occurrence, unit, action, user_id, now)
    if saved is None:
        return _("Already recorded for this deadline."), None
    user = repo.user(user_id)
    who = unit_name(unit, {user_id: user.display_name if user is not None else None})
    return _("Recorded."), submitted_text(deadline, occurrence, who, action)


def submitted_text(deadline: Deadline, occurrence: datetime, who: str, action: str) -> str:
    """The confirmation of an answer, in the current language."""
    values = {
        "title": esc(deadline.title),
        "due": esc(due_line(deadline, occurrence)),
        "unit": esc(who),
    }
    if action == "submitted":
        return _(
            "Recorded: <b>{title}</b> ({due}) is submitted for {unit}. No more reminders for it.",
            **values,
        )
    return _(
        "Recorded: <b>{title}</b> ({due}) is not applicable this time for {unit}. No more "
        "reminders for it.",
        **values,
    )


# --------------------------------------------------------------------------- commands
def _argument(context: BotContext) -> str | None:
    return " ".join(context.args) if context.args else None


def _id_problem(text: str) -> str:
    """What is wrong with a typed deadline id (in the current language), or ""."""
    try:
        rules.check_id(text)
    except rules.DeadlineError as exc:
        return str(exc)
    return ""


async def _find_deadline(update: Update, context: BotContext, usage: str) -> Deadline | None:
    text = _argument(context)
    if text is None:
        await reply(
            update,
            context,
            lambda: _("Usage: {usage}. /deadlines lists the ids.", usage=esc(usage)),
        )
        return None
    if _id_problem(text):
        await reply(update, context, lambda: esc(_id_problem(text)))
        return None
    with context.services.db.transaction() as session:
        deadline = DeadlineRepository(session).deadline(text)
    if deadline is None:
        await reply(
            update,
            context,
            lambda: _("There is no deadline {id}. /deadlines lists the ids.", id=esc(text)),
        )
    return deadline


async def deadlines_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    now = now_of(services)
    # (deadline, concerns the reader, occurrence to show, answered)
    rows: list[tuple[Deadline, bool, datetime | None, bool]] = []
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), now)
        partner = repo.partner(user.id)
        named = False
        for deadline in repo.definitions():
            unit = unit_for(deadline, user.id, partner)
            named = named or deadline.audience.named(user.id)
            occurrence = rules.current_occurrence(deadline, now) if unit is not None else None
            answered = (
                occurrence is not None
                and unit is not None
                and (repo.submission(deadline.id, occurrence, unit) is not None)
            )
            rows.append((deadline, unit is not None, occurrence, answered))
    if not rows:
        await reply(update, context, lambda: _("No deadlines are set up."))
        return
    subscribed = partner is not None or named

    def render() -> list[str]:
        lines = [
            _("<b>Deadlines</b> (• concern you)")
            if subscribed
            else _("<b>Deadlines</b> (send /subscribe to me privately to get reminders)")
        ]
        for deadline, mine, occurrence, answered in rows:
            state = ""
            if occurrence is not None:
                due = esc(due_line(deadline, occurrence))
                state = (
                    _(" — {due}: ✅ answered", due=due)
                    if answered
                    else _(" — {due}: not submitted yet", due=due)
                )
            lines.append(
                _(
                    "{marker} <code>{id}</code> <b>{title}</b>: {summary}{state}",
                    marker="•" if mine else "◦",
                    id=esc(deadline.id),
                    title=esc(deadline.title),
                    summary=esc(rules.summary(deadline, now)),
                    state=state,
                )
            )
        return lines

    await answer_lines(update, context, render)


async def submitted_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    deadline = await _find_deadline(update, context, "/submitted ID")
    if deadline is None:
        return
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        unit = unit_for(deadline, user.id, repo.partner(user.id))
        occurrence = rules.current_occurrence(deadline, now)
        done: str | None = None
        names: dict[int, str | None] = {}
        if unit is not None and occurrence is not None:
            # Stored here; the answer is rendered again below in the chat's language(s).
            _answer, done = _act(
                services, repo, deadline, unit, user.id, occurrence, "submitted", now
            )
            user_row = repo.user(user.id)
            names = {user.id: user_row.display_name if user_row is not None else None}

    def render() -> str:
        title = esc(deadline.title)
        if unit is None:
            return _(
                "<b>{title}</b> is not one of your deadlines. Send /subscribe to me privately "
                "to choose your cluster or organisation.",
                title=title,
            )
        if occurrence is None:
            return _("<b>{title}</b> has no occurrence any more.", title=title)
        if done is None:
            return _(
                "{answer} Nothing changed.", answer=esc(_("Already recorded for this deadline."))
            )
        return submitted_text(deadline, occurrence, unit_name(unit, names), "submitted")

    await reply(update, context, render)


@moderators_only
async def missing_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    deadline = await _find_deadline(update, context, "/missing ID")
    if deadline is None:
        return
    with context.services.db.transaction() as session:
        report = missing_report(context.services, DeadlineRepository(session), deadline)
    await answer_lines(update, context, report.lines)


def _choices(labels: list[str], prefix: str, none_label: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(label[:60], callback_data=f"{prefix}:{index}")
        for index, label in enumerate(labels)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(none_label, callback_data=f"{prefix}:-1")])
    return InlineKeyboardMarkup(rows)


async def subscribe_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    settings = context.services.settings
    await message.reply_text(
        _("Which <b>cluster</b> do you answer for?"),
        reply_markup=_choices(list(settings.clusters), f"{CB_SUBSCRIBE}:c", _("No cluster")),
    )


async def on_subscribe_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None or query.message is None:
        return
    settings = context.services.settings
    parts = (query.data or "").split(":")
    try:
        numbers = [int(p) for p in parts[2:]]
    except ValueError:
        numbers = []
    valid = (
        len(parts) >= 3
        and parts[1] in ("c", "o")
        and len(numbers) == (1 if parts[1] == "c" else 2)
        and -1 <= numbers[0] < len(settings.clusters)
        and (parts[1] == "c" or -1 <= numbers[1] < len(settings.organisations))
    )
    if not valid or query.message.chat.id != query.from_user.id:
        await query.answer(_("This button is not valid any more."))
        return
    cluster_index = numbers[0]
    if parts[1] == "c":
        await query.answer()
        await query.edit_message_text(
            _("And which <b>organisation</b>?"),
            reply_markup=_choices(
                list(settings.organisations),
                f"{CB_SUBSCRIBE}:o:{cluster_index}",
                _("No organisation"),
            ),
        )
        return
    cluster = settings.clusters[cluster_index] if cluster_index >= 0 else None
    organisation = settings.organisations[numbers[1]] if numbers[1] >= 0 else None
    if cluster is None and organisation is None:
        await query.answer()
        await query.edit_message_text(
            _(
                "You chose neither a cluster nor an organisation, so nothing changed. "
                "Send /subscribe to try again."
            )
        )
        return
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.set_partner(query.from_user.id, cluster, organisation, now)
        mine = [
            d
            for d in repo.definitions()
            if d.audience.includes(cluster, organisation, query.from_user.id)
        ]
    answering = list_text([esc(x) for x in (cluster, organisation) if x])
    lines = [_("You are now a partner for {units}.", units=answering)]
    if mine:
        lines.append(_("You will get reminders for:"))
        lines += [
            _("• <b>{title}</b>: {summary}", title=esc(d.title), summary=esc(rules.summary(d, now)))
            for d in mine
        ]
    else:
        lines.append(_("No deadline concerns you at the moment."))
    await query.answer(_("Saved."))
    await query.edit_message_text("\n".join(lines))


async def unsubscribe_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    with context.services.db.transaction() as session:
        removed = DeadlineRepository(session).remove_partner(user.id)
    await message.reply_text(
        _("You will get no more deadline reminders.") if removed else _("You were not subscribed.")
    )


@moderators_only
async def assign_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    settings = context.services.settings
    args = context.args or []
    usage = _(
        "Usage: /assign @username|user-id CLUSTER-or-ORGANISATION, e.g. /assign @olena WASH. "
        "The person must have written in the group or to me before."
    )
    if len(args) < 2:
        await message.reply_text(esc(usage))
        return
    who, name = args[0], " ".join(args[1:]).strip()
    cluster = next((c for c in settings.clusters if c.lower() == name.lower()), None)
    organisation = next((o for o in settings.organisations if o.lower() == name.lower()), None)
    if cluster is None and organisation is None:
        await message.reply_text(
            _(
                "{name} is neither a configured cluster nor an organisation. Clusters: "
                "{clusters}. Organisations: {organisations}.",
                name=esc(name[:60]),
                clusters=esc(", ".join(settings.clusters)),
                organisations=esc(", ".join(settings.organisations)),
            )
        )
        return
    now = now_of(context.services)
    with context.services.db.transaction() as session:
        roster = RosterRepository(session)
        user = roster.user(int(who)) if who.isdigit() else roster.user_by_username(who)
        if user is None:
            reply = _("I don't know {who}. {usage}", who=esc(who[:40]), usage=esc(usage))
        else:
            repo = DeadlineRepository(session)
            current = repo.partner(user.id)
            new_cluster = cluster or (current.cluster if current else None)
            new_org = organisation or (current.organisation if current else None)
            repo.set_partner(
                user.id,
                new_cluster,
                new_org,
                now,
                assigned_by=update.effective_user.id if update.effective_user else None,
            )
            answering = list_text([esc(x) for x in (new_cluster, new_org) if x])
            who_now = mention(user.id, user.display_name)
            reply = (
                _("{name} is now a partner for {units}.", name=who_now, units=answering)
                if user.reachable
                else _(
                    "{name} is now a partner for {units}. They have not started me, so I will "
                    "mention them in the group until they do.",
                    name=who_now,
                    units=answering,
                )
            )
    await message.reply_text(reply)


# Every 30 s: reminders are at most that late, and a run with nothing due is two small queries.
async def calendar_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), now)
        definitions = repo.definitions()
    title = services.settings.groups[0].title if services.settings.groups else "imbot"
    data = build_calendar(definitions, now, f"{title} deadlines")
    count = len(definitions)

    def caption() -> str:
        return ngettext(
            "{n} deadline with its recurrence. Open the file to import it into your calendar; "
            "send /calendar again after the deadlines change.",
            "{n} deadlines with their recurrence. Open the file to import it into your "
            "calendar; send /calendar again after the deadlines change.",
            count,
        )

    chat_id = update.effective_chat.id if update.effective_chat else message.chat_id
    await message.reply_document(
        InputFile(data, filename="deadlines.ics"), caption=in_group(services, chat_id, caption)
    )


SWEEPS = [Sweep("deadline-dispatch", timedelta(seconds=30), dispatch)]


def register(app: App) -> None:
    app.add_handler(CommandHandler("deadlines", deadlines_command))
    app.add_handler(
        CommandHandler("subscribe", subscribe_command, filters=filters.ChatType.PRIVATE)
    )
    app.add_handler(
        CommandHandler("unsubscribe", unsubscribe_command, filters=filters.ChatType.PRIVATE)
    )
    app.add_handler(CommandHandler("submitted", submitted_command))
    app.add_handler(CommandHandler("calendar", calendar_command))
    app.add_handler(CommandHandler("missing", missing_command))
    app.add_handler(CommandHandler("assign", assign_command))
    app.add_handler(CallbackQueryHandler(on_reminder_button, pattern=rf"^{CB_REMINDER}:"))
    app.add_handler(CallbackQueryHandler(on_subscribe_button, pattern=rf"^{CB_SUBSCRIBE}:"))
