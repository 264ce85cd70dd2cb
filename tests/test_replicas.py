"""Two real `imbot run` processes on one PostgreSQL, one killed mid-way; clean SIGTERM stops.

The fake Bot API runs over HTTP (simulation/http.py) so the processes are the real program:
PTB's HTTP client, the job queue, the advisory locks, the outbox. Every partner must get the
reminder exactly once: counted at the fake, per (recipient, occurrence).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.http import FakeTelegramServer
from tests.processes import (
    BotProcess,
    deliveries,
    marked_sent,
    needs_postgresql,
    outbox_statuses,
    seed_partners,
    wait_for,
    write_config,
)

PARTNERS = 300


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.stop_quietly()


@pytest.mark.postgresql
@needs_postgresql
def test_two_replicas_one_killed_no_duplicate_no_loss(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    partners = seed_partners(database_url, server.telegram, PARTNERS)
    config = write_config(tmp_path, lease="3s", stall_limit="8s")  # the killed one's send
    # The first replica to send 60 reminders has its 61st request frozen before the fake
    # processes it; the test then kills that replica with SIGKILL.
    server.hold_after(60)
    for name in ("a", "b"):
        processes.append(BotProcess(name, config, database_url, server.url(name), tmp_path))
    by_name = {p.name: p for p in processes}
    assert server.held.wait(240), [p.output()[-3000:] for p in processes]
    victim = by_name[server.held_client or ""]
    survivor = next(p for p in processes if p is not victim)
    # Only the held requests may be on the wire at the kill: the 60 the fake accepted must be
    # marked sent first (on a busy machine the marks can trail the answers by seconds), or
    # the survivor would rightly send them again after the stall limit.
    accepted = {int(call.params["chat_id"]) for call in server.sent(victim.name)}
    assert len(accepted) == 60
    wait_for(
        lambda: marked_sent(database_url, accepted) == 60,
        120,
        f"the victim marking what the fake accepted\n{victim.output()[-3000:]}",
    )
    victim.kill()
    assert victim.process.returncode == -9

    def all_delivered() -> bool:
        return len(deliveries(server, partners)) == PARTNERS

    # Whichever was polling, the survivor is (or becomes within seconds) the poller.
    wait_for(lambda: "receives updates" in survivor.output(), 90, "the standby taking over")
    wait_for(all_delivered, 240, f"every reminder delivered\n{survivor.output()[-3000:]}")
    # Give a duplicate every chance to appear: several dispatcher runs past the lease.
    wait_for(lambda: outbox_statuses(database_url) == {"sent": PARTNERS}, 90, "rows marked")
    counts = deliveries(server, partners)
    assert set(counts) == set(partners)  # no loss
    assert max(counts.values()) == 1, counts.most_common(3)  # no duplicate
    # Both replicas sent (the survivor took over the killed one's claimed rows) …
    assert len(server.sent(victim.name)) == 60
    assert len(server.sent(survivor.name)) == PARTNERS - 60
    # … and never were two of them polling Telegram at once: only the dead replica's
    # abandoned long poll may have been ended by the survivor taking over.
    assert set(server.conflicts) <= {victim.name}, server.conflicts
    assert survivor.terminate() == 0, survivor.output()[-3000:]


def test_sigterm_releases_claimed_reminders_and_restart_resumes(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    partners = seed_partners(database_url, server.telegram, 150)
    # A long lease: if SIGTERM left rows claimed, the restart could not send them for 10 min.
    config = write_config(tmp_path, lease="10m")
    first = BotProcess("first", config, database_url, server.url("first"), tmp_path)
    processes.append(first)
    wait_for(lambda: len(server.sent("first")) >= 30, 180, f"sending\n{first.output()[-3000:]}")
    assert first.terminate() == 0, first.output()[-3000:]
    statuses = outbox_statuses(database_url)
    sent_before = len(deliveries(server, partners))
    assert sent_before < len(partners), "the process finished before SIGTERM: nothing to test"
    assert statuses.get("sending", 0) == 0, statuses  # nothing left claimed
    assert statuses["sent"] == sent_before  # every message accepted is marked sent
    assert "stopped" in first.output()

    second = BotProcess("second", config, database_url, server.url("second"), tmp_path)
    processes.append(second)
    wait_for(
        lambda: len(deliveries(server, partners)) == len(partners),
        240,
        f"the restart resuming\n{second.output()[-3000:]}",
    )
    wait_for(lambda: outbox_statuses(database_url) == {"sent": len(partners)}, 90, "marked")
    counts = deliveries(server, partners)
    assert max(counts.values()) == 1 and set(counts) == set(partners)
    assert second.terminate() == 0
