"""``/metrics``: Prometheus text format from this process's own registry plus the figures read
from the database at scrape time (outbox depth and age, sweep lag, replicas, contacts index).

Every label is a kind, a method, an outbox, a role or a sweep name: never a person or a chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from storage import metrics as queries
from web.http import RouteSpec, WebRequest, WebResponse

if TYPE_CHECKING:
    from runtime.context import Services

ROLES = ("polling", "standby", "webhook")


class StateCollector(Collector):
    """What is true now, read when scraped."""

    def __init__(self, services: Services, now: datetime) -> None:
        self.services, self.now = services, now

    def collect(self) -> Iterator[Metric]:
        services, now = self.services, self.now
        role = GaugeMetricFamily(
            "imbot_replica_role", "This replica's role (1 for the current one).", labels=["role"]
        )
        for name in ROLES:
            role.add_metric([name], 1.0 if services.role == name else 0.0)
        yield role
        if services.last_update_at is not None:
            yield GaugeMetricFamily(
                "imbot_last_update_age_seconds",
                "Seconds since this replica last handled an update.",
                value=max(0.0, (now - services.last_update_at).total_seconds()),
            )
        try:
            with services.db.transaction() as session:
                outboxes = queries.outboxes(session, now)
                runs = queries.sweep_runs(session)
                replicas = queries.replicas_running(session, now)
                indexed = queries.contacts_indexed(session)
        except SQLAlchemyError:
            yield GaugeMetricFamily("imbot_database_up", "The database answered.", value=0.0)
            return
        yield GaugeMetricFamily("imbot_database_up", "The database answered.", value=1.0)
        depth = GaugeMetricFamily(
            "imbot_outbox_depth",
            "Outbox rows: due (pending, due now), later (pending), sending (claimed).",
            labels=["outbox", "state"],
        )
        age = GaugeMetricFamily(
            "imbot_outbox_oldest_due_age_seconds",
            "How long the oldest due, unsent outbox row has been due (0 when none).",
            labels=["outbox"],
        )
        for name, counts in outboxes.items():
            depth.add_metric([name, "due"], counts.due)
            depth.add_metric([name, "later"], counts.later)
            depth.add_metric([name, "sending"], counts.sending)
            oldest = counts.oldest_due_at
            age.add_metric([name], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield depth
        yield age
        lag = GaugeMetricFamily(
            "imbot_sweep_lag_seconds",
            "How late each sweep's next run is (0 when on time), by any replica.",
            labels=["sweep"],
        )
        failed = GaugeMetricFamily(
            "imbot_sweep_failed", "1 when the sweep's last run failed.", labels=["sweep"]
        )
        for sweep in services.sweeps:
            run = runs.get(sweep.name)
            last = run.started_at if run else services.started_at
            lag.add_metric([sweep.name], max(0.0, (now - last - sweep.every).total_seconds()))
            failed.add_metric([sweep.name], 1.0 if run and run.ok is False else 0.0)
        yield lag
        yield failed
        running = GaugeMetricFamily(
            "imbot_replicas_running",
            "Replicas with a recent heartbeat, by role (from the shared database).",
            labels=["role"],
        )
        for name in ROLES:
            running.add_metric([name], replicas.get(name, 0))
        yield running
        yield GaugeMetricFamily(
            "imbot_contacts_index_size",
            "Contacts in this process's search index.",
            value=indexed,
        )


def render(services: Services, now: datetime) -> bytes:
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(services, now))
    return generate_latest(services.metrics.registry) + generate_latest(state)


async def metrics(services: Services, _request: WebRequest) -> WebResponse:
    body = await asyncio.to_thread(render, services, services.clock.now())
    return WebResponse(200, body, (("Content-Type", CONTENT_TYPE_LATEST),))


ROUTES = [RouteSpec(r"/metrics", metrics)]
