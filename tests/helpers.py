"""Small helpers shared by the tests (the simulator itself lives in bot/simulator.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from moderation.roster import MemberStatus
from simulation.simulator import Simulator
from storage import retry
from storage.deadlines import DeadlineRepository
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


def marks_cannot_be_written(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Telegram accepts reminders but the database refuses to mark them sent (retried 0.2 s);
    call what it returns when the database is back."""
    monkeypatch.setattr(retry, "MARK_RETRY", timedelta(seconds=0.2))
    real = DeadlineRepository.finish

    def unmarkable(
        self: DeadlineRepository, row_id: int, token: str, status: str, *args: object, **kw: object
    ) -> bool:
        if status == "sent":
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return real(self, row_id, token, status, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(DeadlineRepository, "finish", unmarkable)
    return lambda: monkeypatch.setattr(DeadlineRepository, "finish", real)
