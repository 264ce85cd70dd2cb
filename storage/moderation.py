"""Queries for moderation: the audit log, warnings, mutes, recent messages, missing rights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.engine import CursorResult

from storage.db import SessionRepository, upsert_insert
from storage.models import Group, MemberWarning, ModerationAction, Mute, RecentMessage
from storage.roster import unknown_group


@dataclass(frozen=True, slots=True)
class NotedMessage:
    """A group message as /purge and flood counting need it (see storage/message_journal.py)."""

    chat_id: int
    message_id: int
    user_id: int
    at: datetime
    album: str | None = None


class ModerationRepository(SessionRepository):
    # --- the audit log ---------------------------------------------------------------------
    def record(
        self,
        chat_id: int,
        kind: str,
        target_id: int | None,
        now: datetime,
        *,
        actor_id: int | None = None,
        reason: str = "",
        detail: str = "",
        until: datetime | None = None,
    ) -> ModerationAction:
        action = ModerationAction(
            chat_id=chat_id,
            actor_id=actor_id,
            target_id=target_id,
            kind=kind,
            reason=reason[:1000],
            detail=detail[:255],
            until=until,
            at=now,
        )
        self.session.add(action)
        self.session.flush()
        return action

    def actions(
        self,
        chat_ids: Sequence[int],
        target_id: int | None = None,
        offset: int = 0,
        limit: int = 30,
        kind: str | None = None,
    ) -> tuple[Sequence[ModerationAction], int]:
        """Newest first, one page; and how many there are in all (about ``target_id``, of
        ``kind``, when given)."""
        query = select(ModerationAction).where(ModerationAction.chat_id.in_(chat_ids))
        count = select(func.count(ModerationAction.id)).where(
            ModerationAction.chat_id.in_(chat_ids)
        )
        if target_id is not None:
            query = query.where(ModerationAction.target_id == target_id)
            count = count.where(ModerationAction.target_id == target_id)
        if kind is not None:
            query = query.where(ModerationAction.kind == kind)
            count = count.where(ModerationAction.kind == kind)
        rows = self.session.scalars(
            query.order_by(ModerationAction.at.desc(), ModerationAction.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return rows, int(self.session.scalar(count) or 0)

    def recent_automatic(
        self, chat_id: int, target_id: int, kind: str, since: datetime
    ) -> ModerationAction | None:
        """The last automatic action of this kind since ``since`` (to avoid repeated notices)."""
        return self.session.scalars(
            select(ModerationAction)
            .where(
                ModerationAction.chat_id == chat_id,
                ModerationAction.target_id == target_id,
                ModerationAction.kind == kind,
                ModerationAction.actor_id.is_(None),
                ModerationAction.at > since,
            )
            .order_by(ModerationAction.id.desc())
        ).first()

    # --- warnings ----------------------------------------------------------------------------
    def add_warning(
        self, chat_id: int, user_id: int, by_id: int, reason: str, now: datetime
    ) -> MemberWarning:
        warning = MemberWarning(
            chat_id=chat_id, user_id=user_id, by_id=by_id, reason=reason, at=now
        )
        self.session.add(warning)
        self.session.flush()
        return warning

    def warnings(
        self, chat_id: int, user_id: int, since: datetime | None = None
    ) -> Sequence[MemberWarning]:
        """Warnings not revoked, oldest first (only those after ``since`` when given)."""
        query = select(MemberWarning).where(
            MemberWarning.chat_id == chat_id,
            MemberWarning.user_id == user_id,
            MemberWarning.revoked_at.is_(None),
        )
        if since is not None:
            query = query.where(MemberWarning.at > since)
        return self.session.scalars(query.order_by(MemberWarning.at, MemberWarning.id)).all()

    def revoke_last_warning(
        self, chat_id: int, user_id: int, by_id: int, now: datetime, since: datetime
    ) -> MemberWarning | None:
        """Revoke the newest warning still counting; None when there is none."""
        active = self.warnings(chat_id, user_id, since)
        if not active:
            return None
        warning = active[-1]
        result = self.session.execute(
            update(MemberWarning)
            .where(MemberWarning.id == warning.id, MemberWarning.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by_id=by_id)
        )
        assert isinstance(result, CursorResult)
        return warning if result.rowcount == 1 else None

    def revoke_warning(self, action: ModerationAction, by_id: int, now: datetime) -> bool:
        """Revoke the warning ``action`` recorded (same group, person, moderator, reason and
        time); False when it was already withdrawn."""
        found = self.session.scalar(
            select(MemberWarning.id)
            .where(
                MemberWarning.chat_id == action.chat_id,
                MemberWarning.user_id == action.target_id,
                MemberWarning.by_id == action.actor_id,
                MemberWarning.reason == action.reason,
                MemberWarning.at == action.at,
                MemberWarning.revoked_at.is_(None),
            )
            .order_by(MemberWarning.id)
            .limit(1)
        )
        if found is None:
            return False
        result = self.session.execute(
            update(MemberWarning)
            .where(MemberWarning.id == found, MemberWarning.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by_id=by_id)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    # --- mutes -------------------------------------------------------------------------------
    def add_mute(
        self,
        chat_id: int,
        user_id: int,
        until: datetime,
        cause: str,
        now: datetime,
        by_id: int | None = None,
        reason: str = "",
    ) -> Mute:
        self.end_mutes(chat_id, user_id, now)  # a new mute replaces the current one
        mute = Mute(
            chat_id=chat_id,
            user_id=user_id,
            until=until,
            cause=cause,
            reason=reason,
            by_id=by_id,
            created_at=now,
        )
        self.session.add(mute)
        self.session.flush()
        return mute

    def active_mute(self, chat_id: int, user_id: int, now: datetime) -> Mute | None:
        return self.session.scalars(
            select(Mute)
            .where(
                Mute.chat_id == chat_id,
                Mute.user_id == user_id,
                Mute.ended_at.is_(None),
                Mute.until > now,
            )
            .order_by(Mute.id.desc())
        ).first()

    def end_mutes(self, chat_id: int, user_id: int, now: datetime) -> int:
        result = self.session.execute(
            update(Mute)
            .where(Mute.chat_id == chat_id, Mute.user_id == user_id, Mute.ended_at.is_(None))
            .values(ended_at=now)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount

    def next_mute_end(self, now: datetime) -> datetime | None:
        """When the next mute still running at ``now`` is up."""
        return self.session.scalar(
            select(func.min(Mute.until)).where(Mute.ended_at.is_(None), Mute.until > now)
        )

    def claim_expired_mutes(self, now: datetime) -> list[tuple[int, int]]:
        """Mark mutes whose time is up as ended; (chat, user) of each, claimed once."""
        expired = self.session.scalars(
            select(Mute).where(Mute.ended_at.is_(None), Mute.until <= now)
        ).all()
        claimed: list[tuple[int, int]] = []
        for mute in expired:
            result = self.session.execute(
                update(Mute).where(Mute.id == mute.id, Mute.ended_at.is_(None)).values(ended_at=now)
            )
            assert isinstance(result, CursorResult)
            if result.rowcount == 1:
                claimed.append((mute.chat_id, mute.user_id))
        return claimed

    # --- recent messages -------------------------------------------------------------------
    def remember_messages(self, rows: Sequence[NotedMessage]) -> None:
        """Note messages for /purge and flood counting; one already noted is left as it is."""
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        insert = upsert_insert(dialect)
        # The table, not the class: a Core executemany of one cached statement, without the
        # ORM's bulk-insert bookkeeping (this runs for every batch of group messages).
        table = cast(Table, RecentMessage.__table__)
        statement = insert(table).on_conflict_do_nothing(index_elements=["chat_id", "message_id"])
        self.session.execute(
            statement,
            [
                {
                    "chat_id": row.chat_id,
                    "message_id": row.message_id,
                    "user_id": row.user_id,
                    "at": row.at,
                    "media_group": row.album,
                }
                for row in rows
            ],
        )

    def message_times(
        self, chat_id: int, user_id: int, since: datetime
    ) -> list[tuple[datetime, str | None, int]]:
        """When the user's messages since ``since`` were sent, their album and id, oldest first."""
        return [
            (at, album, message_id)
            for at, album, message_id in self.session.execute(
                select(RecentMessage.at, RecentMessage.media_group, RecentMessage.message_id)
                .where(
                    RecentMessage.chat_id == chat_id,
                    RecentMessage.user_id == user_id,
                    RecentMessage.at > since,
                )
                .order_by(RecentMessage.at, RecentMessage.message_id)
            ).all()
        ]

    def latest_messages(self, chat_id: int, user_id: int, limit: int) -> Sequence[RecentMessage]:
        """The user's newest recorded messages in the chat, newest first."""
        return self.session.scalars(
            select(RecentMessage)
            .where(RecentMessage.chat_id == chat_id, RecentMessage.user_id == user_id)
            .order_by(RecentMessage.at.desc(), RecentMessage.message_id.desc())
            .limit(limit)
        ).all()

    def forget_messages(self, chat_id: int, message_ids: Sequence[int]) -> None:
        if message_ids:
            self.session.execute(
                delete(RecentMessage).where(
                    RecentMessage.chat_id == chat_id, RecentMessage.message_id.in_(message_ids)
                )
            )

    def prune_messages(self, before: datetime) -> int:
        result = self.session.execute(delete(RecentMessage).where(RecentMessage.at < before))
        assert isinstance(result, CursorResult)
        return result.rowcount

    # --- the bot's missing rights -------------------------------------------------------------
    def note_missing_right(
        self, chat_id: int, title: str, right: str, now: datetime, order: Sequence[str] = ()
    ) -> bool:
        """Add ``right`` to the group's known missing rights; True when it was not known yet.

        ``groups.bot_rights`` is the list the admin check keeps; when the check finds the right
        again it clears the list, so the next failure is reported again (once per change).
        """
        group = self.session.get(Group, chat_id)
        if group is None:
            group = unknown_group(chat_id, title)
            self.session.add(group)
        missing = [r for r in (group.bot_rights or "").split(",") if r]
        if right in missing:
            return False
        ranked = sorted([*missing, right], key=lambda r: order.index(r) if r in order else 99)
        group.bot_rights = ",".join(ranked)[:255]
        group.checked_at = now
        self.session.flush()
        return True
