"""Expired forms, on the injected clock: an answer after ``forms.ttl`` (24 h by default) is told
the form expired and offered "Start again", nothing is saved; the ``forms`` sweep removes a form
``forms.keep_expired`` (7 days) after it expired, and nothing else."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from config.loader import LoadedConfig
from config.schema import FormSettings
from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage.models import Contact, FormRow

EXPIRED = "This form has expired; send /profile again."


def forms(sim: Simulator) -> list[tuple[int, str, str]]:
    with sim.services.db.transaction() as session:
        return [(r.user_id, r.kind, r.step) for r in session.scalars(select(FormRow))]


def contacts(sim: Simulator) -> int:
    with sim.services.db.transaction() as session:
        return len(session.scalars(select(Contact)).all())


def alerts(sim: Simulator) -> list[str]:
    return [c.get("text") or "" for c in sim.telegram.calls_to("answerCallbackQuery")]


def person(sim: Simulator) -> FakeUser:
    user = sim.user("Olena", "Koval")
    sim.telegram.started.add(user.id)
    return user


async def half_profile(sim: Simulator, olena: FakeUser) -> None:
    """/profile with two details given: the form waits for the third."""
    await sim.dm(olena, "/profile")
    await sim.dm(olena, "Olena Koval")
    await sim.dm(olena, "UNICEF")
    assert "(3/9)" in sim.last(olena.id).text


async def test_an_answer_after_a_day_is_told_the_form_expired_and_may_start_again(
    sim: Simulator,
) -> None:
    olena = person(sim)
    await half_profile(sim, olena)
    await sim.advance(timedelta(hours=23, minutes=59))  # not yet
    await sim.dm(olena, "IMO")
    assert "(4/9)" in sim.last(olena.id).text
    await sim.advance(timedelta(hours=24, minutes=1))  # a day after the last answer
    mark = sim.mark()
    await sim.dm(olena, "WASH")
    told = sim.unique_reply(mark, olena.id)
    assert told.text == EXPIRED
    assert [b["text"] for b in told.buttons()] == ["Start again"]
    assert forms(sim) == [(olena.id, "profile", "expired")]  # kept for a late answer
    mark = sim.mark()
    await sim.dm(olena, "Kharkiv")  # typing on: told again, nothing taken
    assert sim.unique_reply(mark, olena.id).text == EXPIRED
    mark = sim.mark()
    await sim.press(olena, told, "Start again")
    assert "(1/9)" in sim.unique_reply(mark, olena.id).text
    assert forms(sim) == [(olena.id, "profile", "name")]
    assert contacts(sim) == 0


async def test_the_sweep_removes_a_form_a_week_after_it_expired(sim: Simulator) -> None:
    olena = person(sim)
    ivan = sim.user("Ivan", "Petrenko")
    sim.telegram.started.add(ivan.id)
    await half_profile(sim, olena)
    question = sim.last(olena.id)
    await sim.advance(timedelta(days=7))  # expired six days ago: kept
    await sim.dm(ivan, "/profile")  # a fresh form of someone else
    assert {kind for _u, kind, _s in forms(sim)} == {"profile"} and len(forms(sim)) == 2
    await sim.advance(timedelta(days=1, hours=1))  # expired over 7 days ago: removed
    assert forms(sim) == [(ivan.id, "profile", "name")]  # the fresh one stays
    mark = sim.mark()
    await sim.dm(olena, "IMO")  # no form any more: no question of the form answers
    assert all("(4/9)" not in m.text and m.text != EXPIRED for m in sim.since(mark, olena.id))
    await sim.feed(sim.telegram.forged_press(olena.id, olena.id, question.message_id, "pl:1:save"))
    assert alerts(sim)[-1] == "This form is no longer open."
    assert contacts(sim) == 0


async def test_forms_ttl_sets_how_long_a_form_waits(sim: Simulator) -> None:
    """``forms.ttl: 1h``: an answer 61 minutes later finds the form expired."""
    await sim.stop()
    settings = sim.services.settings.model_copy(
        update={"forms": FormSettings(ttl=timedelta(hours=1))}
    )
    config = LoadedConfig(
        settings=settings,
        path=sim.services.config.path,
        environment=sim.services.config.environment,
    )
    short = Simulator(config, sim.clock, telegram=sim.telegram)
    await short.start()
    try:
        olena = person(short)
        await half_profile(short, olena)
        await short.advance(timedelta(minutes=61))
        mark = short.mark()
        await short.dm(olena, "IMO")
        assert short.unique_reply(mark, olena.id).text == EXPIRED
        assert short.errors == []
    finally:
        await short.stop()
        await sim.start(migrate=False)
