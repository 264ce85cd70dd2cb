"""The mention outbox: a broadcast's paced messages, claimed with a token, sent one at a time
(the group's pace is the limit, not the round trip), each only while its claim holds.

What a message says is the mention handlers' business (``Compose``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session
from telegram import ReplyParameters
from telegram.error import TelegramError

from config.schema import GroupConfig
from delivery import engine
from delivery.outcome import Outcome, outcome_of, retry_after
from moderation import mentions as rules
from runtime.context import App, services_of
from storage import retry
from storage.mentions import MentionRepository
from storage.models import MentionOutbox

log = logging.getLogger(__name__)

NETWORK_RETRY = timedelta(seconds=30)
WINDOW_ROWS = 500  # due messages one run looks at to choose fairly among broadcasts


@dataclass(frozen=True)
class Outgoing:
    row_id: int
    text: str | None  # None: nobody left to mention (everyone in the batch left)
    reply_to: int
    recipient_id: int | None = None  # sent to this person's private chat, not to the group


# The text of one claimed message, read in the claim's unit of work (None: drop the row).
Compose = Callable[[Session, GroupConfig, MentionOutbox], Outgoing | None]


async def dispatch(
    app: App,
    group: GroupConfig,
    compose: Compose,
    limit: int | None = None,
    private_limit: int = 0,
) -> int:
    """Send the group's due mention messages, never more than ``per_minute`` in a minute, and
    up to ``private_limit`` due private ones (they do not count toward the group's pace).

    Returns how many were sent.
    """
    services = services_of(app)
    policy = group.mentions
    stall_limit = services.settings.reminders.stall_limit
    now = services.clock.now()
    token = engine.new_token(services)
    outgoing: list[Outgoing] = []
    with services.db.transaction() as session:
        repo = MentionRepository(session)
        sent = repo.sent_times(group.chat_id, now - rules.WINDOW)
        allowed = rules.budget(now, sent, policy.per_minute)
        if limit is not None:
            allowed = min(allowed, limit)
        # Notices first, then the broadcasts' batches round-robin (moderation.mentions).
        rows = {row.id: row for row in repo.due(group.chat_id, now, WINDOW_ROWS, stall_limit)}
        waiting = [rules.Waiting(r.id, r.broadcast_id, r.seq) for r in rows.values()]
        served = repo.last_served({w.broadcast_id for w in waiting})
        ordered = rules.fair_order(waiting, served)
        recent = sum(1 for at in sent if now - rules.WINDOW < at <= now)
        for chosen in rules.pick(ordered, allowed, policy.per_minute, recent):
            row = rows[chosen.row_id]
            if not repo.claim(row, token, now, stall_limit):
                continue  # another process took it
            item = compose(session, group, row)
            if item is not None:
                outgoing.append(item)
        for row in repo.due(group.chat_id, now, private_limit, stall_limit, private=True):
            if not repo.claim(row, token, now, stall_limit):
                continue
            item = compose(session, group, row)
            if item is not None:
                outgoing.append(item)

    async def send(item: Outgoing, trouble: Callable[[], None]) -> Outcome:
        return await _send(app, group, item, token, trouble)

    flight = engine.Flight(services, 1, lambda item: item.row_id, send)
    outcomes = await flight.run(outgoing)
    rest = flight.not_begun(outgoing)
    if rest:

        def put_back() -> None:
            with services.db.transaction() as session:
                repo = MentionRepository(session)
                for row_id in rest:
                    repo.put_back(row_id, token, flight.halted or "not begun")

        await retry.retry_database(put_back, retry.MARK_RETRY, "putting mention messages back")
    if flight.failures:
        raise flight.failures[0]
    return sum(1 for outcome in outcomes.values() if outcome is Outcome.SENT)


async def _send(
    app: App, group: GroupConfig, item: Outgoing, token: str, trouble: Callable[[], None]
) -> Outcome:
    services = services_of(app)
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = MentionRepository(session)
        if item.text is None:
            kept = repo.finish(item.row_id, token, "skipped", now, note="everyone in it left")
            return Outcome.DONE if kept else Outcome.LOST
        if not repo.begin(item.row_id, token, now):  # the fence: still our claim?
            log.info("mention message %s: claim lost to another process", item.row_id)
            return Outcome.LOST
    try:
        if item.recipient_id is not None:
            message = await app.bot.send_message(item.recipient_id, item.text)
        else:
            message = await app.bot.send_message(
                group.chat_id,
                item.text,
                reply_parameters=ReplyParameters(item.reply_to, allow_sending_without_reply=True),
            )
    except TelegramError as exc:
        outcome = outcome_of(exc)
        with services.db.transaction() as session:
            repo = MentionRepository(session)
            if outcome is Outcome.UNREACHABLE and item.recipient_id is not None:
                # Blocked the bot since: mentioned in the group instead (not logged: who).
                if repo.finish(item.row_id, token, "fallback", now, note=str(exc)):
                    repo.fall_back(item.row_id, group.mentions.batch_size, now)
                return outcome
            if outcome is Outcome.THROTTLED:
                seconds = retry_after(exc)
                at = now + timedelta(seconds=seconds)
                repo.retry(item.row_id, token, at, f"flood limit: {seconds}s")
            elif outcome is Outcome.RETRY:
                log.warning(
                    "group %s: mention message not sent (%s); will retry", group.chat_id, exc
                )
                repo.retry(item.row_id, token, now + NETWORK_RETRY, f"network: {exc}")
            else:
                log.warning("group %s: mention message refused: %s", group.chat_id, exc)
                repo.finish(item.row_id, token, "failed", now, note=str(exc))
        return outcome

    def mark_sent() -> None:
        try:
            with services.db.transaction() as session:
                MentionRepository(session).finish(
                    item.row_id, token, "sent", now, message_id=message.message_id
                )
        except Exception:
            trouble()
            raise

    await retry.retry_database(mark_sent, retry.MARK_RETRY, f"mention message {item.row_id}")
    return Outcome.SENT
