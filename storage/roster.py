"""Queries on the roster: users, groups, memberships and their history."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from moderation.roster import (
    JoinMethod,
    MemberStatus,
    ObservedChange,
    UserInfo,
    describe,
    join_method,
)
from storage.db import Database, SessionRepository
from storage.models import Group, Membership, MembershipEvent, User

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Seen:
    # hash(UserInfo) of what was written, not the UserInfo: its names alone are ~300 bytes a
    # member (~3 MB for 10,000). SipHash with this process's random key: a rename that keeps
    # the hash cannot be made on purpose, and by chance it has odds of 2**-64.
    digest: int
    written_at: datetime
    groups: tuple[int, ...] = ()  # nearly always one: a tuple is 48 bytes, a set 216


# How long a remembered user is trusted before their row is written in full again.
SEEN_REFRESH = timedelta(days=1)


def unknown_group(chat_id: int, title: str) -> Group:
    """A group's row before anything is known of the bot's place in it."""
    return Group(
        chat_id=chat_id, title=title, bot_status="unknown", bot_is_admin=False, bot_rights=""
    )


class SeenUsers:
    """What this process last wrote for each user, so a known member's ordinary group message
    costs no database round trip (the busiest path of the bot).

    An entry is trusted while the name, username and language are unchanged and it is younger
    than ``refresh``; after that the user row is written again in full. Meanwhile each message
    only *touches* the user: ``last_seen`` is kept here and written for everyone at once by
    ``flush`` (every second, from the job queue). Every ``upsert_user`` in this process drops
    the user's entry unless it agrees, so a name recorded from another update is never shadowed
    by a stale one.
    """

    def __init__(self, refresh: timedelta = SEEN_REFRESH, max_size: int = 50_000) -> None:
        self.refresh, self.max_size = refresh, max_size
        self._entries: dict[int, _Seen] = {}
        self._touched: dict[int, datetime] = {}
        _SEEN_CACHES.add(self)

    def is_fresh(self, info: UserInfo, chat_id: int | None, now: datetime) -> bool:
        entry = self._entries.get(info.id)
        return (
            entry is not None
            and entry.digest == hash(info)
            and now - entry.written_at < self.refresh
            and (chat_id is None or chat_id in entry.groups)
        )

    def remember(self, info: UserInfo, now: datetime, chat_id: int | None = None) -> None:
        if len(self._entries) >= self.max_size:
            self._entries.clear()  # simple and rare: everyone is written once more
        entry, digest = self._entries.get(info.id), hash(info)
        if entry is None or entry.digest != digest:
            entry = self._entries[info.id] = _Seen(digest, now)
        entry.written_at = now
        if chat_id is not None and chat_id not in entry.groups:
            entry.groups += (chat_id,)

    def touch(self, user_id: int, now: datetime) -> None:
        """A known user was seen: their ``last_seen`` is written with the next flush."""
        self._touched[user_id] = now

    def written(self, info: UserInfo) -> None:
        """The user row is being written with ``info``: an entry remembering other details
        must go (a message with those would be skipped); one that agrees stays."""
        self._touched.pop(info.id, None)  # the row's last_seen is being written anyway
        entry = self._entries.get(info.id)
        if entry is not None and entry.digest != hash(info):
            del self._entries[info.id]

    def flush(self, db: Database) -> int:
        """Write the touched users' ``last_seen``; on a database error keep them for later."""
        if not self._touched:
            return 0
        touched, self._touched = self._touched, {}
        try:
            with db.transaction() as session:
                RosterRepository(session).touch_users(touched)
        except SQLAlchemyError as exc:
            self._touched = {**touched, **self._touched}  # a newer touch wins
            log.warning("could not write when users were last seen: %s", getattr(exc, "orig", exc))
            return 0
        return len(touched)


_SEEN_CACHES: weakref.WeakSet[SeenUsers] = weakref.WeakSet()


class RosterRepository(SessionRepository):
    # --- users -----------------------------------------------------------------------------
    def upsert_user(self, info: UserInfo, now: datetime) -> User:
        for cache in list(_SEEN_CACHES):
            cache.written(info)
        user = self.session.get(User, info.id)
        if user is None:
            user = User(
                id=info.id,
                first_name=info.first_name,
                last_name=info.last_name,
                username=info.username,
                language_code=info.language_code,
                is_bot=info.is_bot,
                started_bot=False,
                blocked_bot=False,
                first_seen=now,
                last_seen=now,
            )
            self.session.add(user)
            return user
        user.first_name = info.first_name
        user.last_name = info.last_name
        user.username = info.username
        user.language_code = info.language_code or user.language_code
        user.last_seen = now
        return user

    def touch_users(self, last_seen: dict[int, datetime]) -> None:
        """Move ``last_seen`` of many users forward at once (a user without a row is skipped).

        In id order, so two replicas touching the same users lock their rows in the same
        order (no deadlock); never backwards, so an older touch does not undo a newer one.
        """
        users = cast(Table, User.__table__)
        self.session.execute(
            update(users)
            .where(users.c.id == bindparam("uid"), users.c.last_seen < bindparam("at"))
            .values(last_seen=bindparam("at")),
            [{"uid": user_id, "at": at} for user_id, at in sorted(last_seen.items())],
        )

    def user(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def user_by_username(self, username: str) -> User | None:
        name = username.lstrip("@").lower()
        return self.session.scalars(
            select(User).where(User.username.is_not(None)).where(User.username.ilike(name))
        ).first()

    def set_language(self, user_id: int, language: str | None) -> bool:
        """Store a person's /language choice (None: follow Telegram's setting again)."""
        user = self.session.get(User, user_id)
        if user is None:
            return False
        user.language = language
        return True

    def set_reachable(self, user_id: int, reachable: bool) -> None:
        """Record that the user started the bot (True) or blocked it (False)."""
        user = self.session.get(User, user_id)
        if user is None:
            return
        if reachable:
            user.started_bot, user.blocked_bot = True, False
        else:
            user.blocked_bot = True

    # --- groups ----------------------------------------------------------------------------
    def ensure_group(self, chat_id: int, title: str) -> Group:
        group = self.session.get(Group, chat_id)
        if group is None:
            group = unknown_group(chat_id, title)
            self.session.add(group)
            self.session.flush()
        return group

    def set_bot_status(
        self, chat_id: int, title: str, status: str, is_admin: bool, rights: str, now: datetime
    ) -> bool:
        """Store the bot's own status in a group; True when it differs from what was known."""
        group = self.ensure_group(chat_id, title)
        changed = (group.bot_status, group.bot_is_admin, group.bot_rights) != (
            status,
            is_admin,
            rights,
        )
        group.bot_status, group.bot_is_admin, group.bot_rights = status, is_admin, rights
        group.checked_at = now
        return changed

    def group(self, chat_id: int) -> Group | None:
        return self.session.get(Group, chat_id)

    # --- memberships -----------------------------------------------------------------------
    def membership(self, chat_id: int, user_id: int) -> Membership | None:
        return self.session.scalars(
            select(Membership).where(Membership.chat_id == chat_id, Membership.user_id == user_id)
        ).first()

    def apply_change(
        self, chat_id: int, change: ObservedChange, now: datetime, cause: str | None = None
    ) -> Membership | None:
        """Bring the roster in line with an observed change; None when nothing changed.

        Telegram may report one change twice (a ``chat_member`` update and a service message),
        so an unchanged status is not recorded again.
        """
        membership = self.membership(chat_id, change.user_id)
        old = membership.status if membership else None
        if old is change.new_status:
            return None
        if old is MemberStatus.REMOVED and change.new_status is MemberStatus.LEFT:
            return None  # the unban that follows a removal: they are still out, still removed
        if membership is None:
            membership = Membership(
                chat_id=chat_id,
                user_id=change.user_id,
                status=change.new_status,
                join_method=JoinMethod.UNKNOWN,
                joined_at=now,
                updated_at=now,
            )
            self.session.add(membership)
        arriving = change.new_status.present and not (old is not None and old.present)
        if arriving:
            membership.join_method = (
                join_method(change) if change.old_status is not None else JoinMethod.UNKNOWN
            )
            membership.invite_link_name = change.invite_link_name
            membership.added_by_id = (
                change.actor_id if membership.join_method is JoinMethod.ADDED else None
            )
            membership.joined_at = now
            membership.left_at = None
        elif not change.new_status.present:
            membership.left_at = now
        membership.status = change.new_status
        membership.updated_at = now
        self.session.add(
            MembershipEvent(
                chat_id=chat_id,
                user_id=change.user_id,
                at=now,
                old_status=old.value if old else None,
                new_status=change.new_status.value,
                actor_id=change.actor_id,
                cause=(cause or describe(change))[:255],
            )
        )
        self.session.flush()
        return membership

    def members(self, chat_id: int, present_only: bool = True) -> Sequence[tuple[Membership, User]]:
        query = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.chat_id == chat_id)
            .order_by(User.first_name, User.last_name, User.id)
        )
        if present_only:
            query = query.where(Membership.status.not_in([MemberStatus.LEFT, MemberStatus.REMOVED]))
        return [(m, u) for m, u in self.session.execute(query)]

    def admin_ids(self, chat_id: int) -> set[int]:
        return set(
            self.session.scalars(
                select(Membership.user_id).where(
                    Membership.chat_id == chat_id,
                    Membership.status.in_([MemberStatus.ADMIN, MemberStatus.OWNER]),
                )
            )
        )

    def events(self, chat_id: int, user_id: int | None = None) -> Sequence[MembershipEvent]:
        query = select(MembershipEvent).where(MembershipEvent.chat_id == chat_id)
        if user_id is not None:
            query = query.where(MembershipEvent.user_id == user_id)
        return self.session.scalars(query.order_by(MembershipEvent.id)).all()
