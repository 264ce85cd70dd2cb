"""When the sweeps first run after start: about a second, the contact index's build later."""

from __future__ import annotations

from datetime import timedelta

from bot.app import build_application, build_services, schedule_sweeps
from config.loader import LoadedConfig
from moderation.clock import FakeClock
from simulation.simulator import FAKE_TOKEN


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
