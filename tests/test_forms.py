"""The forms engine (handlers/forms.py) with a small form of its own, through the real bot:
state in the database across restarts, expiry, /cancel, and refused stale or forged buttons."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import CommandHandler, filters

from handlers.forms import FORMS, Form, FormRouter, FormState, Step, Turn, register_form
from runtime.context import BotContext
from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage.models import FormRow

completed: list[tuple[int, str, str]] = []  # what the toy form "did" when completed


class Order(FormState):
    size: str | None = None
    name: str | None = None


async def ask_size(turn: Turn[Order]) -> str | None:
    turn.say("Which size?", turn.buttons([("Small", "s"), ("Large", "l")]))
    return "size"


async def got_size(turn: Turn[Order]) -> str | None:
    if turn.value not in ("s", "l"):
        turn.say("Please choose one of the buttons.")
        return "size"
    turn.state.size = turn.value
    turn.say("Your name?")
    return "name"


async def got_name(turn: Turn[Order]) -> str | None:
    if not (turn.text or "").strip():
        turn.say("A name, please.")
        return "name"
    turn.state.name = turn.text
    size, name, user_id = turn.state.size or "", turn.state.name or "", turn.user_id

    async def record() -> None:
        completed.append((user_id, size, name))

    turn.later(record)
    turn.say("Thank you!")
    return None


ORDER = Form(
    kind="test-order",
    prefix="tord",
    model=Order,
    opening=ask_size,
    steps={"size": Step(on_button=got_size), "name": Step(on_text=got_name)},
    expired=lambda state: "Your order expired; nothing was saved.",
    ttl=timedelta(hours=1),
)


async def begin(update: Update, context: BotContext) -> None:
    await ORDER.start(update, context, Order())


@pytest.fixture(autouse=True)
def forget_the_toy_form() -> Iterator[None]:
    """The form registry belongs to the process: the toy form must not outlive these tests
    (tests/test_permissions.py checks every registered form's buttons)."""
    yield
    FORMS.pop(ORDER.kind, None)


def install(sim: Simulator) -> None:
    """The toy form's entry point and the router first in group 0 (as a feature registering
    before the unknown-command reply would have them)."""
    register_form(sim.app, ORDER)
    sim.app.add_handler(CommandHandler("order", begin, filters=filters.ChatType.PRIVATE))
    handlers = sim.app.handlers[0]
    router = next(h for h in handlers if isinstance(h, FormRouter))
    handlers.remove(router)
    handlers.insert(0, handlers.pop())
    handlers.insert(1, router)


async def restart(sim: Simulator) -> Simulator:
    await sim.stop()
    again = Simulator(sim.services.config, sim.clock, telegram=sim.telegram)
    await again.start()
    install(again)
    return again


def rows(sim: Simulator) -> list[FormRow]:
    with sim.services.db.transaction() as session:
        return list(session.scalars(select(FormRow)))


def alerts(sim: Simulator) -> list[str]:
    return [c.get("text") or "" for c in sim.telegram.calls_to("answerCallbackQuery")]


def customer(sim: Simulator) -> FakeUser:
    user = sim.user("Olena", "Petrenko")
    sim.telegram.started.add(user.id)
    return user


async def test_a_form_continues_across_a_restart(sim: Simulator) -> None:
    install(sim)
    olena = customer(sim)
    completed.clear()
    await sim.dm(olena, "/order")
    question = sim.last(olena.id)
    assert question.text == "Which size?"
    [row] = rows(sim)
    assert (row.kind, row.step, row.user_id) == ("test-order", "size", olena.id)
    second = await restart(sim)
    try:
        await second.press(olena, question, "Large")
        assert second.last(olena.id).text == "Your name?"
        third = await restart(second)
        try:
            mark = third.mark()
            await third.dm(olena, "Olena P.")
            assert third.unique_reply(mark, olena.id).text == "Thank you!"
            assert completed == [(olena.id, "l", "Olena P.")]
            assert rows(third) == []
        finally:
            await third.stop()
    finally:
        await sim.start(migrate=False)  # the fixture stops it again


async def test_an_expired_form_says_so_and_offers_to_start_again(sim: Simulator) -> None:
    install(sim)
    olena = customer(sim)
    completed.clear()
    await sim.dm(olena, "/order")
    await sim.press(olena, sim.last(olena.id), "Small")
    await sim.advance(timedelta(hours=2))
    mark = sim.mark()
    await sim.dm(olena, "Olena")
    told = sim.unique_reply(mark, olena.id)
    assert told.text == "Your order expired; nothing was saved."
    assert completed == []
    mark = sim.mark()
    await sim.press(olena, told, "Start again")
    assert sim.unique_reply(mark, olena.id).text == "Which size?"
    await sim.press(olena, sim.last(olena.id), "Large")
    await sim.dm(olena, "Olena")
    assert completed == [(olena.id, "l", "Olena")]


async def test_cancel_drops_the_form_and_is_left_alone_without_one(sim: Simulator) -> None:
    install(sim)
    olena = customer(sim)
    await sim.dm(olena, "/order")
    question = sim.last(olena.id)
    mark = sim.mark()
    await sim.dm(olena, "/cancel")
    assert sim.unique_reply(mark, olena.id).text == "Cancelled; nothing was saved."
    assert rows(sim) == []
    await sim.press(olena, question, "Small")
    assert alerts(sim)[-1] == "This form is no longer open."
    assert rows(sim) == []
    mark = sim.mark()
    await sim.dm(olena, "just chatting")  # no form: the router lets other features answer
    assert all("Cancelled" not in m.text for m in sim.since(mark, olena.id))


async def test_replayed_and_forged_buttons_are_refused_and_change_nothing(sim: Simulator) -> None:
    install(sim)
    olena = customer(sim)
    completed.clear()
    await sim.dm(olena, "/order")
    question = sim.last(olena.id)
    await sim.press(olena, question, "Small")
    [before] = rows(sim)
    mark = sim.mark()
    await sim.press(olena, question, "Large")  # replayed: the size step is over
    assert alerts(sim)[-1] == (
        "This button belongs to an earlier question; please use the latest one."
    )
    assert sim.since(mark, olena.id) == []
    for data in (f"tord:{before.serial + 5}:l", "tord:0:l", f"tord:{before.serial}:l"):
        await sim.feed(sim.telegram.forged_press(olena.id, olena.id, question.message_id, data))
        assert alerts(sim)[-1] == (
            "This button belongs to an earlier question; please use the latest one."
        ), data
    for data in ("tord:x:l", "tord:"):  # not even shaped like a form's button
        await sim.feed(sim.telegram.forged_press(olena.id, olena.id, question.message_id, data))
    [after] = rows(sim)
    assert (after.step, after.serial, after.data) == (before.step, before.serial, before.data)
    assert sim.since(mark, olena.id) == []
    await sim.dm(olena, "Olena")
    assert completed == [(olena.id, "s", "Olena")]


async def test_a_form_nobody_can_read_any_more_is_dropped_politely(sim: Simulator) -> None:
    install(sim)
    olena = customer(sim)
    await sim.dm(olena, "/order")
    await sim.press(olena, sim.last(olena.id), "Small")
    with sim.services.db.transaction() as session:
        row = session.scalars(select(FormRow)).one()
        row.data = '{"size": "s", "colour": "red"}'  # written by another version
    mark = sim.mark()
    await sim.dm(olena, "Olena")
    assert sim.unique_reply(mark, olena.id).text == "This form is no longer open."
    assert rows(sim) == []
