"""Queries for mentions: the roster as the mention rules see it, tag preferences, broadcasts and
their paced outbox (claimed with fenced conditional UPDATEs, see ``storage.outbox``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select

from moderation.mentions import Member
from moderation.roster import MemberStatus
from storage import outbox
from storage.db import SessionRepository
from storage.introductions import present_members
from storage.models import (
    Introduction,
    Membership,
    MentionBroadcast,
    MentionDelivery,
    MentionOutbox,
    TagPreference,
    User,
)

LEASE = timedelta(minutes=2)  # a claimed message not marked by then is sent again
GONE = (MemberStatus.LEFT, MemberStatus.REMOVED)


def _names(user: User, intro: Introduction | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    firsts = [user.first_name]
    fulls = [user.display_name]
    if intro is not None and intro.first_name:
        firsts.append(intro.first_name)
        if intro.last_name:
            fulls.append(f"{intro.first_name} {intro.last_name}")
    return tuple(dict.fromkeys(n for n in firsts if n)), tuple(dict.fromkeys(fulls))


def outbox_user_ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


class MentionRepository(outbox.FencedOutbox, SessionRepository):
    outbox_model = MentionOutbox

    # --- the roster ------------------------------------------------------------------------
    def members(self, chat_id: int, moderator_ids: Collection[int] = ()) -> list[Member]:
        """Present members of the group, with what their introduction says about them."""
        query = present_members(chat_id).order_by(User.first_name, User.last_name, User.id)
        members = []
        for _membership, user, intro in self.session.execute(query):
            firsts, fulls = _names(user, intro)
            members.append(
                Member(
                    user_id=user.id,
                    first_names=firsts,
                    full_names=fulls,
                    username=user.username,
                    present=True,
                    is_bot=user.is_bot,
                    moderator=user.id in moderator_ids,
                    organisation=intro.organisation if intro else None,
                    cluster=intro.cluster if intro else None,
                    location=intro.location if intro else None,
                )
            )
        return members

    def present_users(self, chat_id: int, user_ids: Collection[int]) -> dict[int, User]:
        """Those of ``user_ids`` still in the group (people who left are never mentioned)."""
        if not user_ids:
            return {}
        rows = self.session.execute(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.chat_id == chat_id,
                Membership.status.not_in(GONE),
                User.id.in_(list(user_ids)),
            )
        ).scalars()
        return {user.id: user for user in rows}

    def introduction(self, chat_id: int, user_id: int) -> Introduction | None:
        return self.session.scalars(
            select(Introduction).where(
                Introduction.chat_id == chat_id, Introduction.user_id == user_id
            )
        ).first()

    # --- tag preferences -------------------------------------------------------------------
    def preferences(self, user_id: int | None = None) -> dict[tuple[int, str], bool]:
        query = select(TagPreference)
        if user_id is not None:
            query = query.where(TagPreference.user_id == user_id)
        return {(p.user_id, p.tag): p.subscribed for p in self.session.scalars(query)}

    def set_preference(
        self, user_id: int, tag: str, subscribed: bool | None, now: datetime
    ) -> None:
        """Opt in (True) or out (False) of a tag; None goes back to what the introduction says."""
        row = self.session.scalars(
            select(TagPreference).where(TagPreference.user_id == user_id, TagPreference.tag == tag)
        ).first()
        if subscribed is None:
            if row is not None:
                self.session.delete(row)
            return
        if row is None:
            self.session.add(
                TagPreference(user_id=user_id, tag=tag, subscribed=subscribed, updated_at=now)
            )
        else:
            row.subscribed, row.updated_at = subscribed, now
        self.session.flush()

    # --- private or group delivery -----------------------------------------------------------
    def delivery_choice(self, user_id: int) -> bool | None:
        """True: reached privately; False: mentioned in the group; None: the group's default."""
        row = self.session.get(MentionDelivery, user_id)
        return None if row is None else row.private

    def set_delivery(self, user_id: int, private: bool, now: datetime) -> None:
        row = self.session.get(MentionDelivery, user_id)
        if row is None:
            self.session.add(MentionDelivery(user_id=user_id, private=private, updated_at=now))
        else:
            row.private, row.updated_at = private, now
        self.session.flush()

    def private_recipients(self, user_ids: Collection[int], default: bool) -> set[int]:
        """Those of ``user_ids`` to reach privately: they started the bot (and did not block
        it) and chose private delivery, or chose nothing in a group where that is the default."""
        if not user_ids:
            return set()
        rows = self.session.execute(
            select(User.id, MentionDelivery.private)
            .outerjoin(MentionDelivery, MentionDelivery.user_id == User.id)
            .where(
                User.id.in_(list(user_ids)),
                User.started_bot.is_(True),
                User.blocked_bot.is_(False),
            )
        )
        return {uid for uid, private in rows if (default if private is None else private)}

    # --- broadcasts ------------------------------------------------------------------------
    def last_broadcast(self, chat_id: int, author_id: int, kind: str) -> datetime | None:
        return self.session.scalar(
            select(func.max(MentionBroadcast.created_at)).where(
                MentionBroadcast.chat_id == chat_id,
                MentionBroadcast.author_id == author_id,
                MentionBroadcast.kind == kind,
            )
        )

    def add_broadcast(
        self,
        broadcast: MentionBroadcast,
        batches: Sequence[Sequence[int]],
        due: Sequence[datetime],
        private: Sequence[int] = (),
    ) -> MentionBroadcast:
        """The broadcast and one outbox row per message (the group's batches, then one per
        person reached privately, due with the notice), all in this unit of work."""
        self.session.add(broadcast)
        self.session.flush()
        for seq, (user_ids, due_at) in enumerate(zip(batches, due, strict=True)):
            self._add_row(broadcast, seq, user_ids, due_at)
        for seq, user_id in enumerate(private, start=len(batches)):
            self._add_row(broadcast, seq, [user_id], due[0], recipient_id=user_id)
        self.session.flush()
        return broadcast

    def _add_row(
        self,
        broadcast: MentionBroadcast,
        seq: int,
        user_ids: Sequence[int],
        due_at: datetime,
        recipient_id: int | None = None,
    ) -> None:
        self.session.add(
            MentionOutbox(
                broadcast_id=broadcast.id,
                chat_id=broadcast.chat_id,
                seq=seq,
                user_ids=",".join(str(i) for i in user_ids),
                due_at=due_at,
                status="pending",
                attempts=0,
                recipient_id=recipient_id,
            )
        )

    def fall_back(self, row_id: int, size: int, now: datetime) -> None:
        """A private message refused (blocked bot): mention that person in the group instead,
        in the broadcast's last batch still waiting if it has room, else in a new batch."""
        row = self.session.get(MentionOutbox, row_id)
        if row is None or row.recipient_id is None:
            return
        parent = self.session.get(MentionBroadcast, row.broadcast_id)
        if parent is None:
            return
        rows = self.outbox(row.broadcast_id)
        waiting = [
            r for r in rows if r.recipient_id is None and r.seq > 0 and r.status == "pending"
        ]
        if waiting and len(outbox_user_ids(waiting[-1].user_ids)) < size:
            last = waiting[-1]
            last.user_ids = ",".join(
                str(i) for i in [*outbox_user_ids(last.user_ids), row.recipient_id]
            )
        else:
            seq = max(r.seq for r in rows) + 1
            self._add_row(parent, seq, [row.recipient_id], now)
        self.session.flush()

    def broadcast(self, broadcast_id: int) -> MentionBroadcast | None:
        return self.session.get(MentionBroadcast, broadcast_id)

    def outbox(self, broadcast_id: int) -> Sequence[MentionOutbox]:
        return self.session.scalars(
            select(MentionOutbox)
            .where(MentionOutbox.broadcast_id == broadcast_id)
            .order_by(MentionOutbox.seq)
        ).all()

    def sent_times(self, chat_id: int, since: datetime) -> list[datetime]:
        return [
            at
            for at in self.session.scalars(
                select(MentionOutbox.sent_at).where(
                    MentionOutbox.chat_id == chat_id,
                    MentionOutbox.sent_at > since,
                    MentionOutbox.recipient_id.is_(None),  # only what went to the group
                )
            )
            if at is not None
        ]

    def last_served(self, broadcast_ids: Collection[int]) -> dict[int, int]:
        """The Telegram message id of each broadcast's latest sent message (they grow in a
        chat, so the smallest was served longest ago; never served: absent)."""
        if not broadcast_ids:
            return {}
        rows = self.session.execute(
            select(MentionOutbox.broadcast_id, func.max(MentionOutbox.message_id))
            .where(
                MentionOutbox.broadcast_id.in_(list(broadcast_ids)),
                MentionOutbox.status == "sent",
                MentionOutbox.recipient_id.is_(None),
            )
            .group_by(MentionOutbox.broadcast_id)
        )
        return {broadcast_id: last for broadcast_id, last in rows if last is not None}

    def due(
        self,
        chat_id: int,
        now: datetime,
        limit: int,
        stall_limit: timedelta,
        private: bool = False,
    ) -> Sequence[MentionOutbox]:
        """Messages due now, oldest first: pending, or claimed by a process that died; the
        group's messages, or (``private``) those to people's private chats."""
        if limit <= 0:
            return []
        return self.session.scalars(
            select(MentionOutbox)
            .where(
                MentionOutbox.chat_id == chat_id,
                MentionOutbox.due_at <= now,
                (
                    MentionOutbox.recipient_id.is_not(None)
                    if private
                    else MentionOutbox.recipient_id.is_(None)
                ),
                outbox.claimable(MentionOutbox, now, stall_limit),
            )
            .order_by(MentionOutbox.due_at, MentionOutbox.id)
            .limit(limit)
        ).all()

    def next_pending_at(self) -> datetime | None:
        """The earliest ``due_at`` of a message still to send (past when the group's pace
        holds it back); None when none waits."""
        return self.session.scalar(
            select(func.min(MentionOutbox.due_at)).where(MentionOutbox.status == outbox.PENDING)
        )

    def claim(self, row: MentionOutbox, token: str, now: datetime, stall_limit: timedelta) -> bool:
        """Take a message for sending; False when another process was faster."""
        return outbox.take(self.session, MentionOutbox, row, token, now, LEASE, stall_limit)

    def retry(self, row_id: int, token: str, not_before: datetime, note: str) -> bool:
        """Put a message back (flood wait, network): due again at ``not_before``."""
        return self._release(row_id, token, note, due_at=not_before)

    def put_back(self, row_id: int, token: str, note: str) -> bool:
        """A claimed message never begun goes back as it was (still due when it was)."""
        return self._release(row_id, token, note)
