"""When the sweeps first run after start: about a second, the contact index's build later; a
sweep due while the event loop was busy runs late rather than not at all."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from bot.app import build_application, build_services, schedule_sweeps
from config.loader import LoadedConfig
from moderation.clock import FakeClock
from runtime.context import App, Sweep
from simulation.simulator import FAKE_TOKEN, Simulator


def test_the_contact_index_build_waits_while_the_other_sweeps_start_within_a_second(
    config: LoadedConfig, clock: FakeClock
) -> None:
    """The index build leaves the first seconds of a start to the updates queued meanwhile (a
    lookup before it answers from SQL and starts the build itself)."""
    services = build_services(config, clock)
    app = build_application(services, FAKE_TOKEN, rate_limit=False)
    assert app.job_queue is not None
    schedule_sweeps(app)
    starts = {job.name: job.job.trigger.start_date for job in app.job_queue.jobs()}
    assert set(starts) == {sweep.name for sweep in services.sweeps}
    others = [start for name, start in starts.items() if name != "contact-index"]
    assert max(others) - min(others) < timedelta(seconds=0.5)  # all about a second after start
    later = starts["contact-index"] - min(others)
    assert timedelta(seconds=13.5) < later < timedelta(seconds=14.5)  # 15 s after start, not 1


async def test_a_sweep_due_while_the_event_loop_was_busy_still_runs(sim: Simulator) -> None:
    """APScheduler drops a run that comes more than a second late; a busy start or a starved
    process made the first sweeps (the contact index's build among them) wait a whole
    interval. A late sweep runs as soon as the loop is free, once."""
    runs: list[str] = []
    done = asyncio.Event()

    async def probe(_app: App) -> None:
        runs.append("probe")
        done.set()

    job_queue = sim.app.job_queue
    assert job_queue is not None
    for job in job_queue.jobs():  # the simulator's own sweeps: only the probe is scheduled
        job.schedule_removal()
    due_soon = Sweep("probe", timedelta(hours=1), probe, first=timedelta(seconds=0.1))
    sim.services.sweeps[:] = [due_soon]
    schedule_sweeps(sim.app)
    await job_queue.start()
    try:
        time.sleep(2.5)  # noqa: ASYNC251 -- the loop held (a long update, a starved core)
        await asyncio.wait_for(done.wait(), timeout=10)
        await asyncio.sleep(0.2)
    finally:
        await job_queue.stop(wait=False)
    assert runs == ["probe"]
