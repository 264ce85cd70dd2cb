"""This replica's own bookkeeping: its heartbeat row and best-effort status records."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from runtime.context import App, Services, services_of
from storage.db import head_revision, reason_of
from storage.ops import OpsRepository

log = logging.getLogger(__name__)


def record_status(services: Services, change: Callable[[OpsRepository], None]) -> None:
    """Best effort: status bookkeeping never breaks the work it describes."""
    try:
        with services.db.transaction() as session:
            change(OpsRepository(session))
    except SQLAlchemyError as exc:
        log.warning("could not record operations status: %s", reason_of(exc))


async def heartbeat(app: App) -> None:
    services = services_of(app)
    revision = head_revision() or "none"
    record_status(
        services,
        lambda r: r.beat(
            services.replica_id,
            socket.gethostname()[:100],
            os.getpid(),
            services.role,
            revision,
            services.started_at,
            services.clock.now(),
            services.last_update_at,
        ),
    )
