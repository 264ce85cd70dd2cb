"""What every handler and job can reach: the services, through a typed context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from os import getpid
from socket import gethostname
from typing import Any, TypeAlias, cast

from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from config.loader import LoadedConfig
from config.schema import Settings
from moderation.clock import Clock
from moderation.permissions import CommandSpec
from moderation.topics import ForumTopics
from runtime.metrics import Metrics
from storage.db import Database
from storage.message_journal import MessageJournal
from storage.roster import SeenUsers


@dataclass(frozen=True)
class Sweep:
    """A recurring job derived from the database (never a persisted timer)."""

    name: str
    every: timedelta
    run: Callable[[App], Awaitable[None]]
    # The first moment after ``now`` at which a run would find work (None: nothing planned).
    # Only virtual time uses it (the console's ``:clock +3d`` steps from one such moment to
    # the next, so what it shows is what a real day would do); the job queue runs ``every``.
    next_due: Callable[[Services, datetime], datetime | None] | None = None
    # How long after start its first run comes: about a second, unless the work can wait
    # while the updates that queued up during a restart are answered.
    first: timedelta = timedelta(seconds=1)


@dataclass
class Services:
    config: LoadedConfig
    db: Database
    clock: Clock
    started_at: datetime
    commands: list[CommandSpec] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)
    last_update_at: datetime | None = None
    # Telegram admins of each group as last read live: chat id → (read at, user ids).
    admins: dict[int, tuple[datetime, frozenset[int]]] = field(default_factory=dict)
    # Operations (bot/ops.py): set on SIGTERM so running sweeps put claimed work back.
    stopping: bool = False
    role: str = "polling"  # polling, standby or webhook
    # Since when this replica receives updates (polling leader or webhook); None: it does not.
    receiving_since: datetime | None = None
    replica_id: str = field(default_factory=lambda: f"{gethostname()[:60]}:{getpid()}")
    # Group messages noted for /purge and counted for the flood limit (write-behind).
    journal: MessageJournal = field(init=False)
    # Known members whose group messages need no user-row write (last_seen written behind).
    seen: SeenUsers = field(default_factory=SeenUsers)
    # This process's Prometheus metrics (served at /metrics by web/).
    metrics: Metrics = field(default_factory=Metrics)
    # Which groups have topics, and the topic names seen (moderation/topics.py).
    topics: ForumTopics = field(default_factory=ForumTopics)

    def __post_init__(self) -> None:
        self.journal = MessageJournal(self.db)

    @property
    def settings(self) -> Settings:
        return self.config.settings

    def write_behind(self) -> None:
        """Write what the busy path kept in memory (every second, before reads, at shutdown)."""
        self.journal.flush(quietly=True)
        self.seen.flush(self.db)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        return cast(Services, self.application.bot_data["services"])


App: TypeAlias = Application[
    ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], JobQueue[BotContext]
]


def services_of(app: App) -> Services:
    return cast(Services, app.bot_data["services"])
