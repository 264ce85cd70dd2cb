"""The reminder outbox: plan, claim, triage, send (fenced), mark. Safe in several processes.

Each run (1) turns the configured deadlines into rows and plans outbox rows for occurrences
whose reminders may be due (idempotent: a unique constraint on (deadline, occurrence,
recipient, kind)), (2) claims due rows with a fresh token, (3) triages them (merge, skip,
catch up), (4) reads what the batch's letters need in one go (``Letters.prepare``: deadlines,
recipients, languages, partners, submissions), (5) sends them a few at a time in due order
(``reminders.in_flight``), each only after checking that the claim still holds (one short
transaction, one UPDATE), and marks each with that token.

Database work stays on the event loop, kept short: per batch two statements to claim and a few
to read; per reminder one UPDATE to begin (the fence) and one to mark.

What a reminder says and whom it concerns is the handlers' business (``Letters``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import OperationalError
from telegram import InlineKeyboardMarkup
from telegram.error import Forbidden, TelegramError

from delivery import engine
from delivery.outcome import Outcome, outcome_of, retry_after
from moderation import deadlines as rules
from moderation.deadlines import DIGEST, DueRow
from runtime.context import App, Services, services_of
from storage import deadlines as store
from storage import retry
from storage.deadlines import BatchReads, DeadlineRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

Unreachable = dict[tuple[str, datetime], list[int]]


@dataclass(frozen=True)
class Letter:
    """A reminder ready to send."""

    text: str
    markup: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Verdict:
    """No send: the row ends (``status``) or, with ``release``, waits (e.g. a paused deadline)."""

    outcome: Outcome
    status: str
    note: str
    release: bool = False


class Letters(Protocol):
    """What the reminders say: supplied by the deadline handlers."""

    def plan(self, services: Services, repo: DeadlineRepository, now: datetime) -> None: ...

    def prepare(
        self, services: Services, repo: DeadlineRepository, rows: Sequence[DueRow]
    ) -> BatchReads:
        """Everything ``compose`` needs for these rows, read in a constant number of queries."""
        ...

    def compose(
        self,
        services: Services,
        repo: DeadlineRepository,
        reads: BatchReads,
        row: DueRow,
        catch_up: bool,
        now: datetime,
    ) -> Letter | Verdict:
        """The letter from ``reads`` (``repo`` only for rare rows, such as the digest)."""
        ...

    def digest(self, app: App, unreachable: Unreachable) -> Awaitable[None]: ...


async def dispatch(app: App, letters: Letters) -> None:
    """Plan, then claim and send batch after batch while they come back full, so a large
    fan-out goes out at Telegram's pace instead of one batch per run."""
    services = services_of(app)
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), now)
        letters.plan(services, repo, now)
    unreachable: Unreachable = {}
    while await _dispatch_batch(app, letters, unreachable):
        pass
    if unreachable and services.settings.reminders.group_digest:
        await letters.digest(app, unreachable)


async def _dispatch_batch(app: App, letters: Letters, unreachable: Unreachable) -> bool:
    """Claim and send one batch; True when it was full and nothing halted it (more may wait).

    Up to ``reminders.in_flight`` sends are under way at once, started in due order. A 429,
    SIGTERM, a lost claim or the database failing stops further starts: the sends under way
    finish (and are marked), the rows not started go back untouched (if still ours).
    """
    services = services_of(app)
    policy = services.settings.reminders
    now = services.clock.now()
    token = engine.new_token(services)
    with services.db.transaction() as session:
        claimed = DeadlineRepository(session).claim(
            now, policy.batch_size, policy.lease, token, policy.stall_limit
        )
    if not claimed:
        return False
    decision = rules.triage(claimed, now, policy.catch_up_window)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        for row in decision.merged:
            repo.finish(row.id, token, store.MERGED, now, note="superseded by a newer reminder")
        for row in decision.skipped:
            note = "missed by more than the catch-up window"
            repo.finish(row.id, token, store.SKIPPED, now, note=note)
        for row, older in decision.catch_up:
            for old in older:
                repo.finish(
                    old.id, token, store.MERGED, now, note=f"merged into catch-up #{row.id}"
                )
    work = [(row, False) for row in decision.send] + [(row, True) for row, _ in decision.catch_up]
    work.sort(key=lambda item: (item[0].due_at, item[0].id))
    try:
        with services.db.transaction() as session:
            reads = letters.prepare(services, DeadlineRepository(session), [r for r, _ in work])
    except OperationalError:
        await put_back(services, [row.id for row, _ in work], token, now, engine.OUTAGE_NOTE)
        raise

    async def send(item: tuple[DueRow, bool], trouble: Callable[[], None]) -> Outcome:
        return await deliver(app, letters, item[0], item[1], token, trouble, reads)

    flight = engine.Flight(services, policy.in_flight, lambda item: item[0].id, send)
    outcomes = await flight.run(work)
    for row, _catch_up in work:
        if outcomes.get(row.id) is Outcome.UNREACHABLE and row.kind != DIGEST:
            unreachable.setdefault((row.deadline_id, row.occurrence_at), []).append(row.user_id)
    rest = flight.not_begun(work)
    if flight.failures:
        # The database went away mid-batch (or a send failed unexpectedly): once it is back,
        # put back what was not sent, so it goes out at the next run instead of after the
        # lease. Not sent: the rows never begun and those that failed before Telegram had
        # them (OperationalError). A row Telegram accepted but that could not be marked
        # (retry.SentButNotMarked) keeps its claim (see the README), as does one that failed
        # for an unknown reason.
        first = flight.failures[0]
        outage = isinstance(first, (OperationalError, retry.SentButNotMarked))
        note = engine.OUTAGE_NOTE if outage else f"not sent: {type(first).__name__} in the batch"
        unsent = [row.id for row, _ in work if row.id in flight.unsent]
        await put_back(services, unsent + rest, token, now, note)
        raise first
    if flight.halted and rest:
        await put_back(services, rest, token, now, flight.halted)
    # A halt ends the run: after SIGTERM, a 429 (the next run respects retry_after), a lost
    # claim or a database hiccup, the next run takes the rest.
    return not flight.halted and len(claimed) >= policy.batch_size


async def put_back(
    services: Services, row_ids: list[int], token: str, now: datetime, note: str
) -> None:
    """Put claimed rows back for the next run (those still ours), retrying while the database
    is unreachable."""
    if not row_ids:
        return

    def release() -> None:
        with services.db.transaction() as session:
            repo = DeadlineRepository(session)
            for row_id in row_ids:
                repo.release(row_id, token, now, note)

    lease = services.settings.reminders.lease
    await retry.retry_database(release, min(lease / 2, retry.MARK_RETRY), "putting reminders back")


async def deliver(
    app: App,
    letters: Letters,
    row: DueRow,
    catch_up: bool,
    token: str,
    trouble: Callable[[], None] | None = None,
    reads: BatchReads | None = None,
) -> Outcome:
    """Send one claimed row, if the claim still holds, and record the outcome.

    ``trouble`` is called when Telegram has the message but the database cannot record it yet
    (the dispatcher then starts no more sends while it retries). ``reads``: what its batch
    read for it (``Letters.prepare``); read here when not given.
    """
    services = services_of(app)
    policy = services.settings.reminders
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        if reads is None:
            reads = letters.prepare(services, repo, [row])
        composed = letters.compose(services, repo, reads, row, catch_up, now)
        if isinstance(composed, Verdict):
            if composed.release:
                kept = repo.release(row.id, token, now, composed.note)
            else:
                kept = repo.finish(row.id, token, composed.status, now, note=composed.note)
            return composed.outcome if kept else Outcome.LOST
        # The fence: the send starts only while this claim holds. From here on the row is
        # ours until marked, or until the stall limit says we are gone.
        if not repo.begin(row.id, token, now):
            log.info("reminder %s: claim lost to another process; not sending it", row.id)
            return Outcome.LOST
    try:
        message = await app.bot.send_message(
            row.user_id, composed.text, reply_markup=composed.markup
        )
    except TelegramError as exc:
        return await _failed(services, row, token, exc, now)

    def mark_sent() -> None:
        try:
            with services.db.transaction() as session:
                DeadlineRepository(session).finish(
                    row.id,
                    token,
                    store.SENT,
                    now,
                    message_id=message.message_id,
                    note="catch-up" if catch_up else None,
                )
        except OperationalError:
            if trouble is not None:
                trouble()
            raise

    # Telegram has the message: if the database is away, keep trying. Nobody else sends the
    # row meanwhile (its send began: it is not taken over before the stall limit).
    within = min(policy.stall_limit / 2, retry.MARK_RETRY)
    try:
        await retry.retry_database(mark_sent, within, f"reminder {row.id}")
    except OperationalError as exc:
        raise retry.SentButNotMarked(row.id) from exc
    return Outcome.SENT


async def _failed(
    services: Services, row: DueRow, token: str, error: TelegramError, now: datetime
) -> Outcome:
    """Record what Telegram's refusal means for the row (still under this claim)."""
    outcome = outcome_of(error)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        if outcome is Outcome.THROTTLED:
            seconds = retry_after(error)
            note = f"flood limit: retry after {seconds}s"
            repo.release(row.id, token, now + rules.retry_delay(0, seconds), note)
        elif outcome is Outcome.UNREACHABLE:
            if isinstance(error, Forbidden):  # blocked: not worth trying again
                RosterRepository(session).set_reachable(row.user_id, False)
            note = "blocked the bot" if isinstance(error, Forbidden) else str(error)
            repo.finish(row.id, token, store.UNREACHABLE, now, note=note)
        elif outcome is Outcome.REFUSED:
            repo.finish(row.id, token, "failed", now, note=str(error))
            log.error("reminder %s refused by Telegram: %s", row.id, error)
        else:
            stored = repo.outbox_row(row.id)
            attempts = stored.attempts if stored is not None else 1
            repo.release(row.id, token, now + rules.retry_delay(attempts), f"network: {error}")
            log.warning("reminder %s not sent (%s); will retry", row.id, error)
    return outcome
