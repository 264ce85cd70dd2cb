"""How many SQL statements a batch of reminders costs: per reminder only its fenced begin and
its mark; everything else (claim, triage, the reads for composing) a small constant per batch,
whatever the number of recipients. Structural, not timed: the statements are counted on the
engine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

import handlers.deadlines as dispatcher
from simulation.simulator import Simulator
from tests.test_deadlines_fanout import delivered, partners_due, rows_of

BATCH_CONSTANT = 30  # claim, triage, the batch's reads, planning, the run's bookkeeping


@contextmanager
def statements(sim: Simulator) -> Iterator[Counter[str]]:
    """Every statement run on the bot's engine meanwhile, by kind: the fenced begin, the mark
    as sent, anything else."""
    counted: Counter[str] = Counter()
    engine = sim.services.db.engine

    def seen(_conn: Any, _cursor: Any, sql: str, _params: Any, _ctx: Any, many: bool) -> None:
        flat = " ".join(sql.split()).lower()
        if flat.startswith("update reminder_outbox set wire_at"):
            counted["begin"] += 1
        elif flat.startswith("update reminder_outbox set status") and "sent_at" in flat:
            counted["mark"] += 1
        else:
            counted["other"] += 1

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", seen)


@pytest.mark.parametrize("partners", [3, 40])
async def test_a_batch_costs_a_constant_plus_a_begin_and_a_mark_per_reminder(
    sim: Simulator, partners: int
) -> None:
    ids = await partners_due(sim, partners, latency=0.0, in_flight=4)
    with statements(sim) as counted:
        await dispatcher.dispatch(sim.app)
    assert delivered(sim, ids) == dict.fromkeys(ids, 1)
    assert [r.status for r in rows_of(sim, ids)] == ["sent"] * partners
    assert counted["begin"] == partners and counted["mark"] == partners, counted
    # The rest does not grow with the recipients (it used to be six or more per reminder).
    assert counted["other"] <= BATCH_CONSTANT, counted


async def test_the_cost_per_batch_does_not_depend_on_its_size(sim: Simulator) -> None:
    """Two batches of the same run, 5 and 35 reminders: the same statements besides the
    per-reminder begin and mark."""
    ids = await partners_due(sim, 40, latency=0.0, in_flight=4, batch_size=35)
    with statements(sim) as counted:
        await dispatcher.dispatch(sim.app)
    assert delivered(sim, ids) == dict.fromkeys(ids, 1)
    assert counted["begin"] == counted["mark"] == 40, counted
    assert counted["other"] <= 2 * BATCH_CONSTANT, counted
