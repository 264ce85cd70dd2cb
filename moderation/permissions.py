"""Who may do what: members and moderators, and which commands each sees."""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


class Role(enum.IntEnum):
    MEMBER = 1
    MODERATOR = 2


class Where(enum.StrEnum):
    PRIVATE = "private"
    GROUP = "group"
    ANYWHERE = "anywhere"


@dataclass(frozen=True)
class CommandSpec:
    """A command, who may use it, and where; feeds /help and setMyCommands."""

    name: str
    description: str
    role: Role = Role.MEMBER
    where: Where = Where.ANYWHERE
    usage: str = ""


def role_of(
    user_id: int,
    configured_moderators: Collection[int],
    group_admin_ids: Collection[int] = (),
    admins_are_moderators: bool = True,
) -> Role:
    if user_id in configured_moderators:
        return Role.MODERATOR
    if admins_are_moderators and user_id in group_admin_ids:
        return Role.MODERATOR
    return Role.MEMBER


def admin_scope(group_id: int | None, configured_groups: Sequence[int]) -> tuple[int, ...]:
    """The groups whose admins count as moderators for an action taken in ``group_id``.

    In a configured group: that group's own admins only (an admin of group B is a plain member
    in group A). ``None`` is a private chat, where the operation-wide commands live
    (/deadline, the directory, /members…): an admin of any configured group counts there. In a
    group the bot does not serve, no admin counts.
    """
    if group_id is None:
        return tuple(configured_groups)
    return (group_id,) if group_id in configured_groups else ()


def is_fresh(read_at: datetime, now: datetime, ttl: timedelta) -> bool:
    """Whether a list read from Telegram at ``read_at`` may still be trusted at ``now``."""
    return read_at <= now < read_at + ttl


def commands_for(role: Role, specs: Iterable[CommandSpec], where: Where) -> list[CommandSpec]:
    """The commands a user with ``role`` may use in a chat of kind ``where``."""
    return [
        spec
        for spec in specs
        if spec.role <= role and (spec.where is Where.ANYWHERE or where is spec.where)
    ]
