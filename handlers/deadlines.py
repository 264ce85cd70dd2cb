"""Deadline reminders: partners, the outbox dispatcher, buttons, /deadlines, /submitted, /missing.

The dispatcher is a sweep. Each run (1) turns the configured deadlines into rows, (2) plans
outbox rows for occurrences whose reminders may be due (idempotent: a unique constraint on
(deadline, occurrence, recipient, kind)), (3) claims due rows, (4) sends them and marks each
sent. A restart or a second process therefore neither loses nor repeats a reminder.
"""

from __future__ import annotations

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

from bot import ops
from bot.context import App, BotContext, Services, Sweep, services_of
from handlers.common import moderators_only
from handlers.render import chunk_lines, esc, mention
from moderation import deadlines as rules
from moderation.calendar import build_calendar
from moderation.deadlines import DIGEST, OVERDUE, Deadline, DueRow
from moderation.durations import format_duration
from moderation.permissions import CommandSpec, Role, Where
from storage import deadlines as store
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
    due = due_line(deadline, row.occurrence_at)
    title = f"<b>{esc(deadline.title)}</b> (<code>{esc(deadline.id)}</code>)"
    if row.kind == OVERDUE or row.occurrence_at <= now:
        head = f"⚠️ {title} was due {esc(due)} and is not marked as submitted yet."
    else:
        left = format_duration(row.occurrence_at - now)
        head = f"⏰ {title} is due {esc(due)} (in {esc(left)})."
    if catch_up:
        head = "I could not send reminders for a while; here is where things stand.\n" + head
    lines = [head]
    if deadline.description:
        lines.append(esc(deadline.description))
    lines.append("Press <b>Submitted</b> when you have sent it, or use the buttons below.")
    return "\n".join(lines)


def reminder_buttons(row_id: int, snooze: timedelta) -> InlineKeyboardMarkup:
    label = f"Snooze {format_duration(snooze).replace('h', ' h').replace('m', ' min')}"
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Submitted", callback_data=f"{CB_REMINDER}:s:{row_id}"),
                InlineKeyboardButton(f"⏰ {label}", callback_data=f"{CB_REMINDER}:z:{row_id}"),
            ],
            [
                InlineKeyboardButton(
                    "Not applicable this time", callback_data=f"{CB_REMINDER}:n:{row_id}"
                )
            ],
        ]
    )


def name_of(user: User | None, user_id: int) -> str:
    return user.display_name if user is not None else f"user {user_id}"


@dataclass
class MissingReport:
    deadline: Deadline
    occurrence: datetime | None
    missing: list[str] = field(default_factory=list)  # unit labels
    lines: list[str] = field(default_factory=list)  # rendered HTML lines


def missing_report(
    services: Services, repo: DeadlineRepository, deadline: Deadline
) -> MissingReport:
    now = now_of(services)
    occurrence = rules.current_occurrence(deadline, now)
    report = MissingReport(deadline, occurrence)
    if occurrence is None:
        report.lines.append(f"<b>{esc(deadline.title)}</b> has no occurrence any more.")
        return report
    settings = services.settings
    done = repo.submissions(deadline.id, occurrence)
    people: dict[str, list[tuple[Partner, User | None]]] = {}
    for partner, user in repo.partners():
        if deadline.audience.includes(partner.cluster, partner.organisation):
            unit = deadline.audience.unit_of(partner.user_id, partner.cluster, partner.organisation)
            people.setdefault(unit, []).append((partner, user))
    expected = deadline.audience.expected_units(settings.clusters, settings.organisations)
    units = sorted(set(expected) | set(people))
    missing = rules.units_missing(units, done)
    report.missing = missing
    report.lines.append(
        f"<b>{esc(deadline.title)}</b> due {esc(due_line(deadline, occurrence))}: "
        f"{len(units) - len(missing)} of {len(units)} answered."
    )
    if not missing:
        report.lines.append("Nobody is missing.")
    for unit in missing:
        who = []
        for partner, user in people.get(unit, []):
            label = mention(partner.user_id, name_of(user, partner.user_id))
            if user is None or not user.reachable:
                label += " (cannot be reached privately)"
            who.append(label)
        partners = ", ".join(who) if who else "no partner subscribed"
        report.lines.append(f"• {esc(rules.unit_label(unit))}: {partners}")
    return report


# --------------------------------------------------------------------------- the dispatcher
async def dispatch(app: App) -> None:
    """The outbox dispatcher: plan, claim, send, mark. Safe to run in several processes."""
    services = services_of(app)
    policy = services.settings.reminders
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), now)
        plan_outbox(services, repo, now)
    with services.db.transaction() as session:
        claimed = DeadlineRepository(session).claim(now, policy.batch_size, policy.lease)
    if not claimed:
        return
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
    unreachable: dict[tuple[str, datetime], list[int]] = {}
    for index, (row, catch_up) in enumerate(work):
        if services.stopping:
            # SIGTERM: the message in flight was finished; the rest goes back, unsent.
            with services.db.transaction() as session:
                repo = DeadlineRepository(session)
                for later, _ in work[index:]:
                    repo.release(later.id, now, "released at shutdown")
            break
        try:
            outcome = await deliver(app, row, catch_up)
        except (OperationalError, ops.SentButNotMarked) as exc:
            # The database went away mid-batch: once it is back, put back what was not sent,
            # so it goes out at the next run instead of after the lease. A row Telegram
            # accepted but that could not be marked keeps its claim (see the README).
            first = index + 1 if isinstance(exc, ops.SentButNotMarked) else index
            await _put_back(services, [later.id for later, _ in work[first:]], now)
            raise
        if outcome == "unreachable" and row.kind != DIGEST:
            unreachable.setdefault((row.deadline_id, row.occurrence_at), []).append(row.user_id)
        if outcome == "throttled":
            # Telegram asked us to slow down: put the rest back, untouched, for the next run.
            with services.db.transaction() as session:
                repo = DeadlineRepository(session)
                for later, _ in work[index + 1 :]:
                    repo.release(later.id, now, "waiting for the flood limit")
            break
    if unreachable and policy.group_digest:
        await group_digest(app, unreachable)


async def _put_back(services: Services, row_ids: list[int], now: datetime) -> None:
    def release() -> None:
        with services.db.transaction() as session:
            repo = DeadlineRepository(session)
            for row_id in row_ids:
                repo.release(row_id, now, "database outage")

    lease = services.settings.reminders.lease
    await ops.retry_database(release, min(lease / 2, ops.MARK_RETRY), "putting reminders back")


def plan_outbox(services: Services, repo: DeadlineRepository, now: datetime) -> None:
    settings = services.settings
    moderators = list(settings.moderators) if settings.reminders.moderator_digest else []
    partners = repo.partners()
    for deadline in repo.definitions():
        start, end = rules.planning_window(deadline, now, settings.reminders.catch_up_window)
        recipients = [
            p.user_id for p, _ in partners if deadline.audience.includes(p.cluster, p.organisation)
        ]
        for occurrence in rules.occurrences(deadline, start, end):
            planned = rules.plan(deadline, occurrence)
            repo.enqueue(deadline.id, occurrence, recipients, planned)
            digest = [p for p in rules.plan(deadline, occurrence, digest=True) if p.kind == DIGEST]
            repo.enqueue(deadline.id, occurrence, moderators, digest)


async def deliver(app: App, row: DueRow, catch_up: bool) -> str:
    """Send one claimed row and record the outcome: sent, done, unreachable, retry, throttled."""
    services = services_of(app)
    policy = services.settings.reminders
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        deadline = repo.deadline(row.deadline_id)
        user = RosterRepository(session).user(row.user_id)
        if deadline is None or deadline.paused:
            repo.finish(row.id, store.CANCELLED, now, note="deadline paused or removed")
            return "done"
        if row.kind == DIGEST:
            report = missing_report(services, repo, deadline)
            if not report.missing:
                repo.finish(row.id, store.CANCELLED, now, note="nobody missing")
                return "done"
            text = "\n".join(["<b>Overdue</b> — not submitted yet:", *report.lines[:60]])
            markup = None
        else:
            partner = repo.partner(row.user_id)
            if partner is None or not deadline.audience.includes(
                partner.cluster, partner.organisation
            ):
                repo.finish(row.id, store.CANCELLED, now, note="no longer a partner")
                return "done"
            unit = deadline.audience.unit_of(partner.user_id, partner.cluster, partner.organisation)
            if repo.submission(deadline.id, row.occurrence_at, unit) is not None:
                repo.finish(row.id, store.CANCELLED, now, note="already submitted")
                return "done"
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
        with services.db.transaction() as session:
            DeadlineRepository(session).finish(
                row.id,
                store.SENT,
                now,
                message_id=message.message_id,
                note="catch-up" if catch_up else None,
            )

    # Telegram has the message: if the database is away, keep trying (within the lease) so
    # the reminder is not sent again.
    try:
        await ops.retry_database(
            mark_sent, min(policy.lease / 2, ops.MARK_RETRY), f"reminder {row.id}"
        )
    except OperationalError as exc:
        raise ops.SentButNotMarked(row.id) from exc
    return "sent"


class _NoRow:
    attempts = 1


async def group_digest(app: App, unreachable: dict[tuple[str, datetime], list[int]]) -> None:
    """One group message mentioning the partners the bot cannot write to privately."""
    services = services_of(app)
    if not services.settings.groups:
        return
    chat_id = services.settings.groups[0].chat_id
    now = now_of(services)
    lines: list[str] = []
    with services.db.transaction() as session:
        repo, roster = DeadlineRepository(session), RosterRepository(session)
        for (deadline_id, occurrence), user_ids in sorted(unreachable.items()):
            deadline = repo.deadline(deadline_id)
            if deadline is None:
                continue
            when = "was due" if occurrence <= now else "is due"
            names = [mention(uid, name_of(roster.user(uid), uid)) for uid in sorted(set(user_ids))]
            for start in range(0, len(names), 40):  # Telegram ignores entities past 100
                due = esc(due_line(deadline, occurrence))
                lines.append(
                    f"⏰ <b>{esc(deadline.title)}</b> {when} {due}: "
                    + ", ".join(names[start : start + 40])
                )
    if not lines:
        return
    username = app.bot.username
    lines.append(
        "I cannot write to you privately: please open a chat with "
        f"@{esc(username)} and press Start to get reminders there."
    )
    for chunk in chunk_lines(lines):
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
        await query.answer("This button is not valid any more.")
        return
    action, row_id = ACTIONS[parts[1]], int(parts[2])
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        row = repo.outbox_row(row_id)
        if row is None or row.user_id != query.from_user.id:
            answer, done = "This reminder is not yours.", None
        else:
            deadline = repo.deadline(row.deadline_id)
            partner = repo.partner(row.user_id)
            if deadline is None or partner is None:
                answer, done = "This deadline or your subscription no longer exists.", None
            else:
                answer, done = _act(
                    services, repo, deadline, partner, row.occurrence_at, action, now
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
    partner: Partner,
    occurrence: datetime,
    action: str,
    now: datetime,
) -> tuple[str, str | None]:
    unit = deadline.audience.unit_of(partner.user_id, partner.cluster, partner.organisation)
    due = esc(due_line(deadline, occurrence))
    if action == "snooze":
        if repo.submission(deadline.id, occurrence, unit) is not None:
            return "Already answered for this deadline.", None
        snooze = services.settings.reminders.snooze
        at = now + snooze
        repo.enqueue(
            deadline.id,
            occurrence,
            [partner.user_id],
            [rules.PlannedReminder(rules.kind_snooze(at), at)],
        )
        return "Snoozed.", (
            f"I will remind you about <b>{esc(deadline.title)}</b> again in "
            f"{esc(format_duration(snooze))}. The deadline stays {due}."
        )
    saved = repo.submit(deadline.id, occurrence, unit, action, partner.user_id, now)
    if saved is None:
        return "Already recorded for this deadline.", None
    what = "submitted" if action == "submitted" else "not applicable this time"
    return "Recorded.", (
        f"Recorded: <b>{esc(deadline.title)}</b> ({due}) is {what} for "
        f"{esc(rules.unit_label(unit))}. No more reminders for it."
    )


# --------------------------------------------------------------------------- commands
def _argument(context: BotContext) -> str | None:
    return " ".join(context.args) if context.args else None


async def _find_deadline(update: Update, context: BotContext, usage: str) -> Deadline | None:
    message = update.effective_message
    assert message is not None
    text = _argument(context)
    if text is None:
        await message.reply_text(f"Usage: {esc(usage)}. /deadlines lists the ids.")
        return None
    try:
        rules.check_id(text)
    except rules.DeadlineError as exc:
        await message.reply_text(esc(str(exc)))
        return None
    with context.services.db.transaction() as session:
        deadline = DeadlineRepository(session).deadline(text)
    if deadline is None:
        await message.reply_text(f"There is no deadline {esc(text)}. /deadlines lists the ids.")
    return deadline


async def deadlines_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), now)
        partner = repo.partner(user.id)
        lines = []
        for deadline in repo.definitions():
            concerns = partner is not None and deadline.audience.includes(
                partner.cluster, partner.organisation
            )
            state = ""
            if concerns and partner is not None:
                unit = deadline.audience.unit_of(user.id, partner.cluster, partner.organisation)
                occurrence = rules.current_occurrence(deadline, now)
                if occurrence is not None:
                    done = repo.submission(deadline.id, occurrence, unit)
                    state = f" — {esc(due_line(deadline, occurrence))}: " + (
                        "✅ answered" if done else "not submitted yet"
                    )
            marker = "• " if concerns else "◦ "
            lines.append(
                f"{marker}<code>{esc(deadline.id)}</code> <b>{esc(deadline.title)}</b>: "
                f"{esc(rules.summary(deadline, now))}{state}"
            )
    if not lines:
        await message.reply_text("No deadlines are set up.")
        return
    if partner is None:
        head = "<b>Deadlines</b> (send /subscribe to me privately to get reminders)"
    else:
        head = "<b>Deadlines</b> (• concern you)"
    for chunk in chunk_lines([head, *lines]):
        await message.reply_text(chunk)


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
        partner = repo.partner(user.id)
        occurrence = rules.current_occurrence(deadline, now)
        if partner is None or not deadline.audience.includes(partner.cluster, partner.organisation):
            reply = (
                f"<b>{esc(deadline.title)}</b> is not one of your deadlines. "
                "Send /subscribe to me privately to choose your cluster or organisation."
            )
        elif occurrence is None:
            reply = f"<b>{esc(deadline.title)}</b> has no occurrence any more."
        else:
            answer, done = _act(services, repo, deadline, partner, occurrence, "submitted", now)
            reply = done or f"{esc(answer)} Nothing changed."
    await message.reply_text(reply)


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
    for chunk in chunk_lines(report.lines):
        await message.reply_text(chunk)


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
        "Which <b>cluster</b> do you answer for?",
        reply_markup=_choices(list(settings.clusters), f"{CB_SUBSCRIBE}:c", "No cluster"),
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
        await query.answer("This button is not valid any more.")
        return
    cluster_index = numbers[0]
    if parts[1] == "c":
        await query.answer()
        await query.edit_message_text(
            "And which <b>organisation</b>?",
            reply_markup=_choices(
                list(settings.organisations), f"{CB_SUBSCRIBE}:o:{cluster_index}", "No organisation"
            ),
        )
        return
    cluster = settings.clusters[cluster_index] if cluster_index >= 0 else None
    organisation = settings.organisations[numbers[1]] if numbers[1] >= 0 else None
    if cluster is None and organisation is None:
        await query.answer()
        await query.edit_message_text(
            "You chose neither a cluster nor an organisation, so nothing changed. "
            "Send /subscribe to try again."
        )
        return
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.set_partner(query.from_user.id, cluster, organisation, now)
        mine = [d for d in repo.definitions() if d.audience.includes(cluster, organisation)]
    answering = " and ".join(esc(x) for x in (cluster, organisation) if x)
    lines = [f"You are now a partner for {answering}."]
    if mine:
        lines.append("You will get reminders for:")
        lines += [f"• <b>{esc(d.title)}</b>: {esc(rules.summary(d, now))}" for d in mine]
    else:
        lines.append("No deadline concerns you at the moment.")
    await query.answer("Saved.")
    await query.edit_message_text("\n".join(lines))


async def unsubscribe_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    with context.services.db.transaction() as session:
        removed = DeadlineRepository(session).remove_partner(user.id)
    await message.reply_text(
        "You will get no more deadline reminders." if removed else "You were not subscribed."
    )


@moderators_only
async def assign_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    settings = context.services.settings
    args = context.args or []
    usage = (
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
            f"{esc(name[:60])} is neither a configured cluster nor an organisation. "
            f"Clusters: {esc(', '.join(settings.clusters))}. "
            f"Organisations: {esc(', '.join(settings.organisations))}."
        )
        return
    now = now_of(context.services)
    with context.services.db.transaction() as session:
        roster = RosterRepository(session)
        user = roster.user(int(who)) if who.isdigit() else roster.user_by_username(who)
        if user is None:
            reply = f"I don't know {esc(who[:40])}. {esc(usage)}"
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
            answering = " and ".join(esc(x) for x in (new_cluster, new_org) if x)
            reach = (
                ""
                if user.reachable
                else " They have not started me, so I will mention them in the group until they do."
            )
            reply = (
                f"{mention(user.id, user.display_name)} is now a partner for {answering}.{reach}"
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
    await message.reply_document(
        InputFile(data, filename="deadlines.ics"),
        caption=(
            f"{len(definitions)} deadlines with their recurrence. Open the file to import it "
            "into your calendar; send /calendar again after the deadlines change."
        ),
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
