"""Running in production: one or several replicas, sweeps exactly once, clean shutdown.

- Every sweep runs under a PostgreSQL advisory lock named after it (``run_sweep``): when two
  replicas wake up together, one runs the sweep and the other skips this turn. The items a
  sweep works on are still claimed one by one with conditional updates (or ``FOR UPDATE SKIP
  LOCKED`` for the reminder outbox), so even a lock lost mid-run cannot double an action.
- In polling mode only one replica may call getUpdates (Telegram answers a second poller with
  409 Conflict): the replica holding the ``polling`` advisory lock polls, the others are
  standbys that run sweeps and take over within seconds when the leader dies.
- In webhook mode every replica listens; a load balancer spreads Telegram's POSTs.
- Every mode runs the bot's one HTTP server (web/server.py): health, readiness, metrics, and
  in webhook mode Telegram's POSTs too.
- SIGTERM/SIGINT: stop taking updates and starting jobs, let the running sweep finish the
  messages in flight and put the rest of its claimed reminders back (``Services.stopping``),
  mark the replica stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from i18n import DEFAULT_LANGUAGE, use_locale
from runtime.context import App, BotContext, Services, Sweep, services_of
from runtime.replica import heartbeat, record_status
from storage.db import reason_of
from storage.ops import AdvisoryLock, is_postgresql
from web import miniapp
from web.server import ROUTES, HttpServer
from web.webhook import webhook_route

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=30)
STANDBY_CHECK = 5.0  # seconds between a standby's attempts to become the poller


def configure(services: Services) -> None:
    """Apply ``sweep_every`` overrides; an unknown sweep name is a configuration error."""
    overrides = dict(services.settings.sweep_every)
    names = {s.name for s in services.sweeps}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(
            f"sweep_every names unknown sweeps {unknown}; the sweeps are {sorted(names)}"
        )
    services.sweeps[:] = [
        dataclasses.replace(s, every=overrides[s.name]) if s.name in overrides else s
        for s in services.sweeps
    ]


async def run_sweep(app: App, sweep: Sweep, raise_errors: bool = False) -> bool:
    """Run one sweep if no other replica is running it; False when skipped.

    A failure is logged and recorded (``raise_errors``: and raised, for tests and the console).
    """
    services = services_of(app)
    if services.stopping:
        return False
    lock = AdvisoryLock(services.db.lock_engine, f"sweep:{sweep.name}", services.db.idle_limit)
    try:
        if not lock.acquire():
            log.debug("sweep %s is running in another replica; skipped", sweep.name)
            return False
    except SQLAlchemyError as exc:
        log.warning(
            "sweep %s skipped: the database is unreachable (%s)", sweep.name, reason_of(exc)
        )
        return False
    keepalive = asyncio.create_task(_keep_lock(lock, sweep.name))
    try:
        started = services.clock.now()
        record_status(
            services,
            lambda r: r.sweep_started(sweep.name, sweep.every, services.replica_id, started),
        )
        error: str | None = None
        try:
            # Sweeps write to many people: they start in the default language and switch per
            # recipient (``send_private`` with a callable) or per group (``in_group``).
            with use_locale(DEFAULT_LANGUAGE):
                await sweep.run(app)
        except Exception as exc:  # a sweep failing must not stop the others or the process
            error = f"{type(exc).__name__}: {reason_of(exc)}"
            record_status(
                services, lambda r: r.sweep_finished(sweep.name, services.clock.now(), error)
            )
            if raise_errors:
                raise
            log.exception("sweep %s failed", sweep.name)
            return True
        record_status(services, lambda r: r.sweep_finished(sweep.name, services.clock.now(), None))
    finally:
        keepalive.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keepalive
        lock.release()
    return True


async def _keep_lock(lock: AdvisoryLock, name: str) -> None:
    """While the sweep runs, touch its lock's session every third of the idle limit.

    The server ends that session once it has been idle for the limit (``AdvisoryLock``), so a
    replica stopped or starved in the middle of a sweep lets another replica run it. The
    touch runs on the event loop: if the loop cannot run it in time, the sweep is stalled
    too, and the lock goes. The rows it claimed stay fenced by their tokens either way.
    """
    if lock.idle_limit is None or not is_postgresql(lock.engine):
        return
    every = max(lock.idle_limit.total_seconds() / 3, 0.05)
    while True:
        await asyncio.sleep(every)
        if not lock.alive():
            log.warning("sweep %s: lost its lock (stalled past the idle limit?)", name)
            return


# APScheduler skips a run that comes more than a second late (misfire_grace_time), and a busy
# start or a starved process delays every job past that: the first sweeps, the heartbeat or
# the contact index's build were dropped until their next interval (up to 15 minutes). A late
# job runs at once instead, and runs missed meanwhile count as one (coalesce).
RUN_LATE: dict[str, object] = {"misfire_grace_time": None, "coalesce": True}


def schedule_heartbeat(app: App) -> None:
    if app.job_queue is None:
        return

    async def beat(_context: BotContext) -> None:
        await heartbeat(app)

    app.job_queue.run_repeating(
        beat, interval=HEARTBEAT_EVERY, first=0.1, name="heartbeat", job_kwargs=RUN_LATE
    )


@dataclass(frozen=True)
class Listen:
    """Where the HTTP server listens (port 0: any free port)."""

    address: str
    port: int


@dataclass(frozen=True)
class Webhook:
    url: str
    listen: str
    port: int
    secret: str


async def serve(
    app: App,
    stop: asyncio.Event,
    allowed_updates: Sequence[str],
    webhook: Webhook | None = None,
    http: Listen | None = None,
) -> None:
    """Run until ``stop`` is set: start, receive updates (as leader/standby or webhook), stop.

    The HTTP server listens on ``webhook``'s address in webhook mode, else on ``http`` (none
    when neither is given). It starts first, so a port in use fails before anything else.
    """
    services = services_of(app)
    updater = app.updater
    assert updater is not None
    leader = AdvisoryLock(services.db.lock_engine, "polling")
    server: HttpServer | None = None
    if webhook is not None:
        path = webhook.url.rstrip("/").rsplit("/", 1)[-1]
        server = HttpServer(
            services,
            [*ROUTES, *miniapp.routes(app), webhook_route(app, path, webhook.secret)],
        )
        server.start(webhook.listen, webhook.port)
    elif http is not None:
        server = HttpServer(services, [*ROUTES, *miniapp.routes(app)])
        server.start(http.address, http.port)
    try:
        await app.initialize()
    except BaseException:
        if server is not None:
            await server.stop()
        raise
    try:
        if app.post_init is not None:  # the assembly's start-up hook (menus, sweeps)
            await app.post_init(app)
        schedule_heartbeat(app)
        await app.start()
        if webhook is not None:
            services.role = "webhook"
            await app.bot.set_webhook(
                url=webhook.url, secret_token=webhook.secret, allowed_updates=allowed_updates
            )
            services.receiving_since = services.clock.now()
            where = (webhook.listen, server.port if server else 0)
            log.info("receiving updates by webhook on %s port %s", *where)
            await stop.wait()
        else:
            await _poll_as_leader(app, leader, stop, allowed_updates)
    finally:
        services.stopping = True
        log.info("stopping: no new updates; finishing the work in hand")
        jobs = app.job_queue
        if jobs is not None and jobs.scheduler.running:
            # No job starts from here (the write-behind and the heartbeat run once more below):
            # app.stop() waits only for the runs under way when it stops the job queue, and
            # APScheduler then cancels any run started meanwhile, half done, with a traceback.
            jobs.scheduler.pause()
        if server is not None and webhook is not None:
            await server.stop()  # no more of Telegram's POSTs (they are retried elsewhere)
        if updater.running:
            await updater.stop()
        if app.running:
            await app.stop()  # waits for running sweeps, which release what they claimed
        services.write_behind()  # before the next poller may take over and count
        leader.release()
        record_status(services, lambda r: r.stopped(services.replica_id, services.clock.now()))
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        if server is not None and webhook is None:
            await server.stop()  # health and metrics answer until the end
        log.info("stopped")


async def _poll_as_leader(
    app: App, leader: AdvisoryLock, stop: asyncio.Event, allowed_updates: Sequence[str]
) -> None:
    services = services_of(app)
    updater = app.updater
    assert updater is not None
    polling = False
    said_standby = False
    while not stop.is_set():
        if not polling:
            try:
                got: bool | None = leader.acquire()
            except SQLAlchemyError as exc:
                log.warning("cannot reach the database to elect the poller: %s", reason_of(exc))
                got = None
            if got:
                services.role = "polling"
                services.receiving_since = services.clock.now()
                # Another replica may have received updates meanwhile: count afresh.
                services.journal.forget_windows()
                await updater.start_polling(allowed_updates=allowed_updates)
                polling, said_standby = True, False
                log.info("this replica receives updates (long polling)")
            elif got is False:
                services.role = "standby"
                if not said_standby:
                    log.info("another replica is polling; this one is a standby (sweeps only)")
                    said_standby = True
        elif not leader.alive():
            log.warning("lost the database connection that made this replica the poller")
            await updater.stop()
            services.receiving_since = None
            polling = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STANDBY_CHECK)


async def run_until_signalled(
    app: App,
    allowed_updates: Sequence[str],
    webhook: Webhook | None = None,
    http: Listen | None = None,
) -> None:
    """``serve`` until SIGTERM or SIGINT (Ctrl-C): what ``imbot run`` does."""
    import signal

    services = services_of(app)
    stop = asyncio.Event()

    def on_signal(name: str) -> None:
        log.info("%s received", name)
        services.stopping = True  # the dispatcher puts claimed reminders back from now on
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    await serve(app, stop, allowed_updates, webhook, http)
