"""Small helpers shared by the tests (the simulator itself lives in bot/simulator.py)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.simulator import Simulator
from moderation.roster import MemberStatus
from storage.models import Membership, MembershipEvent
from storage.roster import RosterRepository


def membership(sim: Simulator, user_id: int, chat_id: int | None = None) -> Membership | None:
    with sim.services.db.transaction() as session:
        return RosterRepository(session).membership(chat_id or sim.group.id, user_id)


def status(sim: Simulator, user_id: int) -> MemberStatus | None:
    found = membership(sim, user_id)
    return found.status if found else None


def events(sim: Simulator, user_id: int) -> Sequence[MembershipEvent]:
    with sim.services.db.transaction() as session:
        return RosterRepository(session).events(sim.group.id, user_id)
