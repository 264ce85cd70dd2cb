"""The dispatcher with several reminders in flight (``reminders.in_flight``): overlap, bounds,
due order, and exactly-once under 429s, SIGTERM and database outages.

The fake Bot API answers after a simulated round trip (``FakeTelegram.latency``, real seconds,
half on the way there, half back), so sends really overlap; the bot's clock stays simulated.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import handlers.deadlines as dispatcher
from config.loader import ConfigError, LoadedConfig, load_settings
from delivery import reminders
from delivery.outcome import Outcome
from moderation.clock import FakeClock
from simulation.faketg import JSON, ApiError
from simulation.simulator import Simulator
from storage import retry
from storage.db import Database
from storage.deadlines import DeadlineRepository
from storage.models import Partner, ReminderOutbox, Submission
from storage.retry import SentButNotMarked
from tests.helpers import marks_cannot_be_written
from tests.test_flood import DUE, add_partners

Event = tuple[Any, ...]


def use_reminders(sim: Simulator, **changes: object) -> None:
    settings = sim.services.settings
    reminders = settings.reminders.model_copy(update=changes)
    sim.services.config = dataclasses.replace(
        sim.services.config, settings=settings.model_copy(update={"reminders": reminders})
    )


async def partners_due(
    sim: Simulator, count: int, latency: float, **reminders: object
) -> list[int]:
    """``count`` partners whose SitRep reminder falls due now, not dispatched yet."""
    ids = add_partners(sim, count)
    await sim.advance(DUE - timedelta(minutes=1) - sim.clock.now())  # earlier notes go out
    use_reminders(sim, **reminders)
    sim.telegram.latency = latency
    sim.telegram.most_in_flight.clear()
    sim.clock.advance(timedelta(minutes=1))
    return ids


def rows_of(sim: Simulator, ids: list[int]) -> list[ReminderOutbox]:
    """The partners' SitRep reminders due now, in due order."""
    with sim.services.db.transaction() as session:
        rows = [
            r
            for r in DeadlineRepository(session).outbox("sitrep")
            if r.user_id in ids and r.due_at == DUE
        ]
    return sorted(rows, key=lambda r: (r.due_at, r.id))


def delivered(sim: Simulator, ids: list[int]) -> Counter[int]:
    return Counter(
        m.chat_id for m in sim.telegram.sent() if m.chat_id in ids and "SitRep inputs" in m.text
    )


def record_deliveries(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """("begin", row id) and ("end", row id, outcome or exception name), in the order they
    happen in the bot."""
    events: list[Event] = []
    real = reminders.deliver

    async def deliver(app: Any, letters: Any, row: Any, *args: Any) -> Outcome:
        events.append(("begin", row.id))
        try:
            outcome = await real(app, letters, row, *args)
        except BaseException as exc:
            events.append(("end", row.id, type(exc).__name__))
            raise
        events.append(("end", row.id, outcome.value))
        return outcome

    monkeypatch.setattr(reminders, "deliver", deliver)
    return events


def on_arrival(sim: Simulator, hook: Any) -> None:
    """Call ``hook(nth SitRep reminder to arrive, params)`` as each reaches the fake, before
    it is handled (it may raise ApiError as Telegram would answer)."""
    real = sim.telegram.handle
    count = [0]

    def handle(method: str, params: JSON, files: dict[str, tuple[str, bytes]]) -> Any:
        if method == "sendMessage" and "SitRep inputs" in str(params.get("text", "")):
            count[0] += 1
            hook(count[0], params)
        return real(method, params, files)

    sim.telegram.handle = handle  # type: ignore[method-assign]


async def finish_the_rest(sim: Simulator, step: timedelta = timedelta(seconds=1)) -> None:
    for _ in range(40):
        await dispatcher.dispatch(sim.app)
        with sim.services.db.transaction() as session:
            waiting = [r for r in DeadlineRepository(session).outbox("sitrep") if r.due_at == DUE]
        if all(r.status != "pending" for r in waiting):
            return
        sim.clock.advance(step)
    raise AssertionError("reminders still waiting")


# --------------------------------------------------------------------------- overlap
@pytest.mark.parametrize("in_flight", [1, 4])
async def test_sends_overlap_up_to_in_flight_begin_in_due_order_and_share_no_session(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, in_flight: int
) -> None:
    ids = await partners_due(sim, 20, latency=0.03, in_flight=in_flight)
    database = sim.services.db
    real = database.transaction
    open_now, most_open = [0], [0]

    @contextmanager
    def transaction() -> Iterator[Session]:
        open_now[0] += 1
        most_open[0] = max(most_open[0], open_now[0])
        try:
            with real() as session:
                yield session
        finally:
            open_now[0] -= 1

    monkeypatch.setattr(database, "transaction", transaction)
    first_call = len(sim.telegram.calls)
    await dispatcher.dispatch(sim.app)
    rows = rows_of(sim, ids)
    assert [r.status for r in rows] == ["sent"] * 20
    assert delivered(sim, ids) == dict.fromkeys(ids, 1)
    # As many under way at once as allowed, never more.
    assert sim.telegram.most_in_flight["sendMessage"] == in_flight
    # They reached Telegram in due order (the fake records calls as they arrive).
    arrived = [c.params["chat_id"] for c in sim.telegram.calls[first_call:]]
    assert arrived == [r.user_id for r in rows]
    # No database transaction stays open across a send: concurrent deliveries never share
    # (or wait on) a session.
    assert most_open[0] == 1


# --------------------------------------------------------------------------- 429
async def test_a_429_with_several_in_flight_puts_the_rest_back_and_nothing_doubles(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await partners_due(sim, 20, latency=0.2, in_flight=8)
    flood = sim.telegram.enforce_flood_limits(
        per_second=3, clock=lambda: sim.clock.now().timestamp()
    )
    events = record_deliveries(monkeypatch)
    await dispatcher.dispatch(sim.app)
    begun = [e[1] for e in events if e[0] == "begin"]
    # Eight went out together; the fake let three through in its second and refused the rest.
    # (The three accepted freed their slots, so a few more may have begun before the first
    # 429 came back; none after it.)
    assert sim.telegram.most_in_flight["sendMessage"] == 8 and len(begun) >= 8
    assert len(flood.accepted) == 3 and flood.refused == len(begun) - 3
    first_throttle = next(i for i, e in enumerate(events) if e[2:] == ("throttled",))
    assert all(e[0] == "end" for e in events[first_throttle:])  # nothing begun after it
    rows = {r.id: r for r in rows_of(sim, ids)}
    assert begun == sorted(rows)[: len(begun)]  # the first ones in due order
    assert Counter(r.status for r in rows.values()) == {"sent": 3, "pending": 17}
    refused = [r for r in rows.values() if r.note and r.note.startswith("flood limit")]
    assert len(refused) == len(begun) - 3
    assert all(r.not_before == DUE + timedelta(seconds=1) for r in refused)
    untouched = [r for r in rows.values() if r.id not in begun]
    assert len(untouched) == 20 - len(begun)
    assert all(r.note == "waiting for the flood limit" and r.not_before == DUE for r in untouched)
    assert all(r.claimed_until is None for r in rows.values())
    await finish_the_rest(sim)
    assert delivered(sim, ids) == dict.fromkeys(ids, 1)
    assert {r.status for r in rows_of(sim, ids)} == {"sent"}
    times = [t for t, _ in flood.accepted]
    assert all(sum(1 for u in times if t - 1 < u <= t) <= 3 for t in times)


# --------------------------------------------------------------------------- SIGTERM
async def test_sigterm_with_several_in_flight_marks_them_and_releases_the_rest(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch smaller than the due rows: the dispatcher must not claim batch after batch
    # (releasing each at once) once it is stopping.
    ids = await partners_due(sim, 20, latency=0.2, in_flight=4, batch_size=6)
    events = record_deliveries(monkeypatch)

    def sigterm(nth: int, _params: JSON) -> None:
        if nth == 2:
            sim.services.stopping = True
            events.append(("stopping",))

    on_arrival(sim, sigterm)
    await asyncio.wait_for(dispatcher.dispatch(sim.app), 10)
    stop = events.index(("stopping",))
    assert all(e[0] == "end" for e in events[stop + 1 :])  # nothing begun after SIGTERM
    begun = [e[1] for e in events if e[0] == "begin"]
    assert len(begun) == 4  # the four under way finished …
    rows = rows_of(sim, ids)
    assert [r.status for r in rows[:4]] == ["sent"] * 4  # … and are marked
    assert [r.id for r in rows[:4]] == begun
    assert delivered(sim, ids) == dict.fromkeys([r.user_id for r in rows[:4]], 1)
    # The rest of the batch went back at once (not left claimed until the lease) …
    assert [(r.status, r.note) for r in rows[4:6]] == [("pending", "released at shutdown")] * 2
    # … and no further batch was claimed.
    assert all(r.status == "pending" and r.note is None for r in rows[6:])
    assert all(r.claimed_until is None for r in rows)
    sim.services.stopping = False  # the next process
    await finish_the_rest(sim)
    assert delivered(sim, ids) == dict.fromkeys(ids, 1)


# --------------------------------------------------------------------------- outages
async def test_database_lost_before_a_send_with_several_in_flight(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await partners_due(sim, 20, latency=0.2, in_flight=4)
    real = DeadlineRepository.begin
    calls = [0]

    def flaky(self: DeadlineRepository, row_id: int, *args: Any) -> bool:
        calls[0] += 1
        if calls[0] >= 6:  # from the sixth reminder's fenced begin on, the database is gone
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return real(self, row_id, *args)

    monkeypatch.setattr(DeadlineRepository, "begin", flaky)
    events = record_deliveries(monkeypatch)
    with pytest.raises(OperationalError):
        await dispatcher.dispatch(sim.app)
    rows = rows_of(sim, ids)
    failed = next(i for i, e in enumerate(events) if e[2:] == ("OperationalError",))
    assert all(e[0] == "end" for e in events[failed:])  # nothing begun after the failure
    # Four in flight, the fifth begun when the first finished; the sixth failed before its
    # send: the five are sent and marked, the failed one and the rest are back, unclaimed.
    assert [r.status for r in rows] == ["sent"] * 5 + ["pending"] * 15
    assert all(r.note == "database outage" for r in rows[5:])
    assert delivered(sim, ids) == dict.fromkeys([r.user_id for r in rows[:5]], 1)
    monkeypatch.setattr(DeadlineRepository, "begin", real)
    await finish_the_rest(sim)
    assert delivered(sim, ids) == dict.fromkeys(ids, 1)


async def test_database_outage_while_several_are_in_flight_is_ridden_out(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away while four reminders are on the wire and comes back 0.3 s later:
    their marks are retried until it answers; nothing else begins; the rest goes back."""
    ids = await partners_due(sim, 20, latency=0.2, in_flight=4)
    database = sim.services.db
    real = database.transaction
    down = [False]

    def transaction() -> Any:
        if down[0]:
            raise OperationalError("BEGIN", {}, Exception("connection refused"))
        return real()

    monkeypatch.setattr(database, "transaction", transaction)
    events = record_deliveries(monkeypatch)
    loop = asyncio.get_running_loop()

    def cut(nth: int, _params: JSON) -> None:
        if nth == 2:
            down[0] = True
            events.append(("down",))
            loop.call_later(0.3, lambda: down.__setitem__(0, False))

    on_arrival(sim, cut)
    await dispatcher.dispatch(sim.app)  # no error: every mark made it in the end
    assert all(e[0] == "end" for e in events[events.index(("down",)) + 1 :])
    rows = rows_of(sim, ids)
    assert [r.status for r in rows] == ["sent"] * 4 + ["pending"] * 16
    assert all(r.note == "database outage" and r.claimed_until is None for r in rows[4:])
    assert delivered(sim, ids) == dict.fromkeys([r.user_id for r in rows[:4]], 1)
    await finish_the_rest(sim)
    assert delivered(sim, ids) == dict.fromkeys(ids, 1)


async def test_sent_but_unmarkable_reminders_in_flight_keep_their_claims(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await partners_due(sim, 20, latency=0.2, in_flight=4)
    database_back = marks_cannot_be_written(monkeypatch)
    with pytest.raises(SentButNotMarked):
        await dispatcher.dispatch(sim.app)
    rows = rows_of(sim, ids)
    # The four on the wire were delivered and keep their claims (a resend only after the
    # lease); none began once the first mark failed; the rest is back at once.
    assert [r.status for r in rows] == ["sending"] * 4 + ["pending"] * 16
    assert delivered(sim, ids) == dict.fromkeys([r.user_id for r in rows[:4]], 1)
    database_back()
    await finish_the_rest(sim)
    assert [r.status for r in rows_of(sim, ids)] == ["sending"] * 4 + ["sent"] * 16
    assert delivered(sim, ids) == dict.fromkeys(ids, 1)


async def test_unreachable_partners_are_all_in_the_group_digest_with_several_in_flight(
    sim: Simulator,
) -> None:
    ids = add_partners(sim, 12)
    blocked = ids[1::3]
    sim.telegram.blocked.update(blocked)
    await sim.advance(DUE - timedelta(minutes=1) - sim.clock.now())
    use_reminders(sim, in_flight=5)
    sim.telegram.latency = 0.02
    sim.clock.advance(timedelta(minutes=1))
    mark = len(sim.telegram.sent(sim.group.id))
    await dispatcher.dispatch(sim.app)
    digests = [m for m in sim.telegram.sent(sim.group.id)[mark:] if "SitRep inputs" in m.text]
    assert len(digests) == 1
    assert sorted(digests[0].mentions) == sorted(blocked)
    statuses = {r.user_id: r.status for r in rows_of(sim, ids)}
    assert {u for u, s in statuses.items() if s == "unreachable"} == set(blocked)
    assert {u for u, s in statuses.items() if s == "sent"} == set(ids) - set(blocked)


# --------------------------------------------------------------------------- the setting
@pytest.mark.parametrize("value", [0, 31, "many"])
def test_in_flight_is_validated(tmp_path: Path, value: object) -> None:
    path = tmp_path / "config.yaml"
    text = EXAMPLE_TEXT.replace("  in_flight: 8 ", f"  in_flight: {value} ")
    assert text != EXAMPLE_TEXT
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert any("reminders.in_flight" in p for p in caught.value.problems), caught.value.problems


# --------------------------------------------------------------------------- any outcomes
OUTCOMES = ["ok", "ok", "429", "blocked", "gone", "502", "db-read", "mark"]


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    db.upgrade()
    return db


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    script=st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=10),
    in_flight=st.integers(1, 5),
    stop_at=st.none() | st.integers(1, 10),
)
@example(script=["ok", "429", "ok", "ok", "mark", "ok"], in_flight=3, stop_at=None)
@example(script=["ok", "db-read", "ok", "ok", "ok"], in_flight=4, stop_at=None)
@example(script=["ok"] * 8, in_flight=3, stop_at=2)
def test_every_claimed_reminder_ends_once_whatever_happens(
    database: Database,
    config: LoadedConfig,
    monkeypatch: pytest.MonkeyPatch,
    script: list[str],
    in_flight: int,
    stop_at: int | None,
) -> None:
    """Partner i's first reminder meets ``script[i]``: delivered, a 429, blocked, chat gone, a
    502, the database failing on its first read, or its mark failing; SIGTERM may come when
    the ``stop_at``-th reminder reaches Telegram. After that run, every claimed row is in
    exactly one state that matches what Telegram saw, no reminder began after the batch was
    halted, and they began in due order. The following runs deliver the rest exactly once."""
    with database.transaction() as session:
        for table in (ReminderOutbox, Submission, Partner):
            session.execute(delete(table))
    asyncio.run(_scenario(config, monkeypatch, script, in_flight, stop_at))


async def _scenario(
    config: LoadedConfig,
    monkeypatch: pytest.MonkeyPatch,
    script: list[str],
    in_flight: int,
    stop_at: int | None,
) -> None:
    only_sitrep = [d for d in config.settings.deadlines if d.id == "sitrep"]
    config = dataclasses.replace(
        config, settings=config.settings.model_copy(update={"deadlines": only_sitrep})
    )
    sim = Simulator(config, FakeClock(DUE - timedelta(minutes=1)))
    await sim.start(migrate=False)
    try:
        with monkeypatch.context() as patch:
            await _run_script(sim, patch, script, in_flight, stop_at)
    finally:
        await sim.stop()


async def _run_script(
    sim: Simulator,
    patch: pytest.MonkeyPatch,
    script: list[str],
    in_flight: int,
    stop_at: int | None,
) -> None:
    ids = add_partners(sim, len(script))
    plan = dict(zip(ids, script, strict=True))
    use_reminders(sim, in_flight=in_flight)
    sim.telegram.latency = 0.01
    sim.clock.advance(timedelta(minutes=1))
    events = record_deliveries(patch)
    patch.setattr(retry, "MARK_RETRY", timedelta(seconds=0.05))
    faults = {"on": True}
    answered: set[int] = set()

    def telegram(nth: int, params: JSON) -> None:
        if faults["on"] and stop_at is not None and nth == stop_at:
            sim.services.stopping = True
            events.append(("halt", "stopping"))
        user = int(params["chat_id"])
        if not faults["on"] or user not in plan or user in answered:
            return
        answered.add(user)
        failure = {
            "429": ApiError(429, "Too Many Requests: retry after 1", retry_after=1),
            "blocked": ApiError(403, "Forbidden: bot was blocked by the user"),
            "gone": ApiError(400, "Bad Request: chat not found"),
            "502": ApiError(502, "Bad Gateway"),
        }.get(plan[user])
        if failure is not None:
            raise failure

    on_arrival(sim, telegram)
    real_begin = DeadlineRepository.begin
    read_failed: set[int] = set()
    owners: dict[int, int] = {}

    def begin(self: DeadlineRepository, row_id: int, *args: Any) -> bool:
        # The database fails on the row's last step before its send (the fenced begin).
        user_id = owners.get(row_id, 0)
        if faults["on"] and plan.get(user_id) == "db-read" and user_id not in read_failed:
            read_failed.add(user_id)
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return real_begin(self, row_id, *args)

    patch.setattr(DeadlineRepository, "begin", begin)
    real_finish = DeadlineRepository.finish

    def finish(
        self: DeadlineRepository, row_id: int, token: str, status: str, *a: Any, **kw: Any
    ) -> bool:
        if faults["on"] and status == "sent" and plan.get(owners.get(row_id, 0)) == "mark":
            events.append(("halt", "mark failed"))
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return real_finish(self, row_id, token, status, *a, **kw)

    patch.setattr(DeadlineRepository, "finish", finish)
    with sim.services.db.transaction() as session:
        repo = DeadlineRepository(session)
        dispatcher.plan_outbox(sim.services, repo, sim.clock.now())
        owners = {r.id: r.user_id for r in repo.outbox("sitrep") if r.user_id in plan}

    with suppress(OperationalError, SentButNotMarked):
        await asyncio.wait_for(dispatcher.dispatch(sim.app), 30)
    faults["on"] = False
    run = list(events)

    # Nothing began after the batch was halted (429, failure, SIGTERM, a failed mark) …
    def halts(event: Event) -> bool:
        ended = event[0] == "end" and event[2] in ("throttled", *FAILURES)
        return event[0] == "halt" or ended

    halted_at = next((i for i, e in enumerate(run) if halts(e)), len(run))
    assert all(e[0] != "begin" for e in run[halted_at + 1 :]), run
    # … and what began, began in due order.
    rows = rows_of(sim, ids)
    begun = [e[1] for e in run if e[0] == "begin"]
    assert begun == sorted(begun) and set(begun) <= {r.id for r in rows}
    seen = delivered(sim, ids)
    for row in rows:
        kind, times = plan[row.user_id], seen[row.user_id]
        assert times <= 1, (row.id, kind)
        if row.status == "sent":
            assert times == 1, (row.id, kind)
        elif row.status == "sending":  # delivered, its mark failed: keeps its claim
            assert kind == "mark" and times == 1, (row.id, kind)
        elif row.status == "unreachable":
            assert kind in ("blocked", "gone") and times == 0, (row.id, kind)
            assert row.id in begun
        else:
            assert row.status == "pending" and times == 0, (row.id, row.status, kind)
            assert row.claimed_until is None
            if row.id not in begun:
                assert row.note in (None, *_RELEASE_NOTES) and row.attempts <= 1, row.note
    # The next runs (the next process) deliver everything else, once.
    unmarked = {r.id for r in rows if r.status == "sending"}
    refused = {u for u in answered if plan[u] in ("blocked", "gone")}
    sim.services.stopping = False
    for _ in range(6):
        await dispatcher.dispatch(sim.app)
        sim.clock.advance(timedelta(seconds=40))  # past 502's back-off, within the lease
    seen = delivered(sim, ids)
    for row in rows_of(sim, ids):
        if row.user_id in refused:
            assert row.status == "unreachable" and seen[row.user_id] == 0, row.id
        elif row.id in unmarked:  # its claim holds until the lease: not sent again before
            assert row.status == "sending" and seen[row.user_id] == 1, row.id
        else:
            assert row.status == "sent" and seen[row.user_id] == 1, (row.id, row.status)


FAILURES = ("OperationalError", "SentButNotMarked")
_RELEASE_NOTES = (
    "released at shutdown",
    "waiting for the flood limit",
    "database outage",
)
EXAMPLE_TEXT = (
    Path(__file__)
    .resolve()
    .parent.parent.joinpath("config", "example.yaml")
    .read_text(encoding="utf-8")
)
