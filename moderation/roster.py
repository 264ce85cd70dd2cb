"""Roster rules: how a Telegram membership change reads in the bot's own roster."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class MemberStatus(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    RESTRICTED = "restricted"  # in the group, with limited rights
    LEFT = "left"
    REMOVED = "removed"  # kicked or banned by an admin or the bot

    @property
    def present(self) -> bool:
        return self not in (MemberStatus.LEFT, MemberStatus.REMOVED)


class JoinMethod(enum.StrEnum):
    INVITE_LINK = "invite_link"
    JOIN_REQUEST = "join_request"
    ADDED = "added"
    SELF = "self"  # joined without a link the bot can see (public group, primary link)
    UNKNOWN = "unknown"  # was already there when the bot first saw them


@dataclass(frozen=True, slots=True)  # one per member in the roster cache
class UserInfo:
    """The parts of a Telegram user the bot keeps."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False


@dataclass(frozen=True)
class ObservedChange:
    """A membership change as Telegram reported it, reduced to plain values."""

    user_id: int
    actor_id: int | None
    old_status: MemberStatus | None
    new_status: MemberStatus
    invite_link_name: str | None = None
    via_join_request: bool = False


def status_from_telegram(status: str, is_member: bool | None = None) -> MemberStatus:
    """Map Telegram's ChatMember status (and ``is_member`` for restricted) to the roster's."""
    match status:
        case "creator":
            return MemberStatus.OWNER
        case "administrator":
            return MemberStatus.ADMIN
        case "member":
            return MemberStatus.MEMBER
        case "restricted":
            # A restricted user may not be in the chat at all (restricted, then left).
            return MemberStatus.RESTRICTED if is_member else MemberStatus.LEFT
        case "kicked":
            return MemberStatus.REMOVED
        case _:
            return MemberStatus.LEFT


def join_method(change: ObservedChange) -> JoinMethod:
    if change.invite_link_name is not None:
        return JoinMethod.INVITE_LINK
    if change.via_join_request:
        return JoinMethod.JOIN_REQUEST
    if change.actor_id is not None and change.actor_id != change.user_id:
        return JoinMethod.ADDED
    return JoinMethod.SELF


def describe(change: ObservedChange) -> str:
    """A short reason for the audit trail."""
    old, new = change.old_status, change.new_status
    old_present = old is not None and old.present
    if new.present and not old_present:
        method = join_method(change)
        if method is JoinMethod.INVITE_LINK:
            return f"joined via invite link {change.invite_link_name!r}"
        if method is JoinMethod.JOIN_REQUEST:
            return "joined after a join request was approved"
        if method is JoinMethod.ADDED:
            return "added by another member"
        return "joined"
    if new is MemberStatus.LEFT:
        return "left" if change.actor_id in (None, change.user_id) else "removed (can rejoin)"
    if new is MemberStatus.REMOVED:
        return "banned"
    if new in (MemberStatus.ADMIN, MemberStatus.OWNER):
        return "promoted to admin" if new is MemberStatus.ADMIN else "became owner"
    if new is MemberStatus.RESTRICTED:
        return "restricted"
    if old in (MemberStatus.ADMIN, MemberStatus.OWNER):
        return "no longer an admin"
    return "restrictions lifted" if old is MemberStatus.RESTRICTED else "status unchanged"
