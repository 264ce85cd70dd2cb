"""Paced sending of a broadcast's messages: what each says (``compose`` reads it, ``render``
words it) and the sweep that sends them through ``delivery.mentions``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from config.schema import GroupConfig
from delivery import mentions as paced
from delivery.mentions import Outgoing
from handlers.mentions.common import MAX_PER_RUN, PRIVATE_PER_RUN
from handlers.mentions.render import Batch, Notice, batch_text, private_notice_text
from i18n import pick_language, use_locale
from moderation import mentions as rules
from runtime.context import App, Services, Sweep, services_of
from storage.mentions import MentionRepository, outbox_user_ids
from storage.models import MentionBroadcast, MentionOutbox, User
from storage.roster import RosterRepository


# --------------------------------------------------------------------------- paced sending
def notice_of(broadcast_row: MentionBroadcast, group: GroupConfig, author: User | None) -> Notice:
    """The broadcast as its messages tell it (``render.Notice``)."""
    return Notice(
        author=author.display_name if author else None,
        label=broadcast_row.label,
        quote=broadcast_row.quote,
        recipients=broadcast_row.recipients,
        group=group.title,
        link=rules.message_link(broadcast_row.chat_id, broadcast_row.source_message_id),
    )


def compose(session: Session, group: GroupConfig, row: MentionOutbox) -> Outgoing | None:
    """The text of a claimed mention message (``delivery.mentions.Compose``)."""
    repo = MentionRepository(session)
    parent = repo.broadcast(row.broadcast_id)
    if parent is None:
        return None
    users = repo.present_users(group.chat_id, outbox_user_ids(row.user_ids))
    roster = RosterRepository(session)
    notice = notice_of(parent, group, roster.user(parent.author_id))
    if row.recipient_id is not None:
        person = users.get(row.recipient_id)
        if person is None:  # left the group meanwhile
            return Outgoing(row.id, None, parent.source_message_id, row.recipient_id)
        language = pick_language(person.language, person.language_code, group.languages[0])
        with use_locale(language):
            private_text = private_notice_text(notice)
        return Outgoing(row.id, private_text, parent.source_message_id, row.recipient_id)
    in_group = [r.id for r in repo.outbox(parent.id) if r.recipient_id is None]
    batch = Batch(
        notice=notice,
        seq=row.seq,
        part=in_group.index(row.id) + 1 if row.id in in_group else row.seq + 1,
        parts=len(in_group),
        people=[users[uid] for uid in outbox_user_ids(row.user_ids) if uid in users],
    )
    # One language (the group's first): a second copy would repeat every mention.
    with use_locale(group.languages[0]):
        text = batch_text(batch)
    return Outgoing(row.id, text, parent.source_message_id)


async def dispatch(
    app: App, group: GroupConfig, limit: int | None = None, private_limit: int = 0
) -> int:
    """Send the group's due mention messages (``delivery.mentions``), and up to
    ``private_limit`` private ones; how many were sent."""
    return await paced.dispatch(app, group, compose, limit, private_limit)


async def dispatch_all(app: App) -> None:
    # A few per run keeps each run short (the sweep runs every 2 s); after downtime the
    # backlog trickles out at the group's pace instead of in one burst. Private messages
    # go PRIVATE_PER_RUN a run: within Telegram's global rate (30 a second).
    for group in services_of(app).settings.groups:
        await dispatch(app, group, limit=MAX_PER_RUN, private_limit=PRIVATE_PER_RUN)


RUN_EVERY = timedelta(seconds=2)


def next_batch_at(services: Services, now: datetime) -> datetime | None:
    """When virtual time must stop for the next message: its due time, or the sweep's next run
    while messages wait for the group's pace (a slot frees as the minute moves on)."""
    with services.db.transaction() as session:
        due = MentionRepository(session).next_pending_at()
    return None if due is None else max(due, now + RUN_EVERY)


SWEEPS = [Sweep("mention-batches", RUN_EVERY, dispatch_all, next_batch_at)]
