"""Small helpers shared by the tests (the simulator itself lives in bot/simulator.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import create_engine

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


@contextmanager
def database_unreachable(sim: Simulator) -> Iterator[None]:
    """Every new session of the bot fails to connect (the database is away) until the end."""
    db = sim.services.db
    real = db.engine
    away = create_engine("sqlite:////nonexistent-directory/imbot.db")
    db._sessions.configure(bind=away)
    try:
        yield
    finally:
        db._sessions.configure(bind=real)
        away.dispose()
