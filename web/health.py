"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work), as JSON.

Ready means: the database answers, its schema is the one this program needs, the replica is
not shutting down, and — only for the replica that polls Telegram, and only when
``http.ready_window`` is set — an update arrived within that window (counted from when it began
polling when none has arrived since). A standby is ready: it runs sweeps and serves this HTTP
server, and receives no updates by design. A webhook replica is not held to the window: marked
not ready, a load balancer would stop sending it Telegram's POSTs and it could never recover.
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from storage.db import current_revision, head_revision, known_revisions
from web.http import RouteSpec, WebRequest, WebResponse

if TYPE_CHECKING:
    from runtime.context import Services

JSON = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))


def json_response(status: int, payload: dict[str, Any]) -> WebResponse:
    return WebResponse(status, json.dumps(payload, sort_keys=True).encode() + b"\n", JSON)


@dataclass(frozen=True)
class Readiness:
    database: str  # ok | unreachable
    schema: str  # current | behind | ahead | unknown
    role: str
    stopping: bool
    last_update_age: float | None  # seconds since the last update this process handled
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems

    def payload(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "database": self.database,
            "schema": self.schema,
            "role": self.role,
            "last_update_age_seconds": self.last_update_age,
            "problems": self.problems,
        }


@functools.cache
def _revisions() -> tuple[str | None, frozenset[str]]:
    """This program's newest revision and every one it knows (read from disk once)."""
    return head_revision(), frozenset(known_revisions())


def _schema(services: Services) -> tuple[str, str]:
    """(database, schema) states, by asking the database."""
    try:
        with services.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = current_revision(services.db.engine)
    except SQLAlchemyError:
        return "unreachable", "unknown"
    head, known = _revisions()
    if current == head:
        return "ok", "current"
    return "ok", "ahead" if current and current not in known else "behind"


def readiness(services: Services, now: datetime) -> Readiness:
    database, schema = _schema(services)
    problems: list[str] = []
    if database != "ok":
        problems.append("database unreachable")
    elif schema != "current":
        problems.append(f"database schema {schema}")
    if services.stopping:
        problems.append("shutting down")
    last = services.last_update_at
    age = None if last is None else round(max(0.0, (now - last).total_seconds()), 3)
    window = services.settings.http.ready_window
    if window is not None and services.role == "polling" and services.receiving_since:
        since = max(last or services.receiving_since, services.receiving_since)
        if now - since > window:
            problems.append("no update within ready_window")
    return Readiness(database, schema, services.role, services.stopping, age, problems)


async def healthz(_services: Services, _request: WebRequest) -> WebResponse:
    return json_response(200, {"status": "ok"})


async def readyz(services: Services, _request: WebRequest) -> WebResponse:
    state = await asyncio.to_thread(readiness, services, services.clock.now())
    return json_response(200 if state.ready else 503, state.payload())


ROUTES = [RouteSpec(r"/healthz", healthz), RouteSpec(r"/readyz", readyz)]
