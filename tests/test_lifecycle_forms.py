"""The out-of-country form ("yes" to the departure question; "Name a new sponsor") lives in the
database: the bot is restarted between every two answers of each flow, wrong answers included,
and the form continues where it was; stale buttons from an earlier step stay refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta

from sqlalchemy import select

from moderation.introductions import Category
from moderation.roster import MemberStatus
from simulation.simulator import Simulator
from storage.models import FormRow
from tests.helpers import status
from tests.lifecycle import causes, member, out_of_country, question, row_of
from tests.test_joins import intro_of, veteran


class Restarts:
    """Stops the running bot and starts a fresh process-like one on the same database, the same
    fake Telegram and the same clock; nothing in memory survives."""

    def __init__(self, first: Simulator) -> None:
        self.first = first
        self.current = first

    async def __call__(self) -> Simulator:
        await self.current.stop()
        self.current = Simulator(
            self.first.services.config, self.first.clock, telegram=self.first.telegram
        )
        await self.current.start()
        return self.current


@asynccontextmanager
async def restarting(sim: Simulator) -> AsyncIterator[Restarts]:
    restarts = Restarts(sim)
    try:
        yield restarts
    finally:
        if restarts.current is not sim:
            await restarts.current.stop()
            await sim.start(migrate=False)  # the fixture stops it again


def forms(sim: Simulator) -> list[tuple[int, str, str]]:
    with sim.services.db.transaction() as session:
        return [(r.user_id, r.kind, r.step) for r in session.scalars(select(FormRow))]


def alerts(sim: Simulator) -> list[str]:
    return [c.get("text") or "" for c in sim.telegram.calls_to("answerCallbackQuery")]


async def test_departure_yes_survives_a_restart_between_every_two_answers(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving 2026-11-23")  # today, after 09:00: asked at once
    async with restarting(sim) as restart:
        await sim.press(olena, question(sim, olena), "Yes, I keep supporting them")
        end_question = sim.last(olena.id)
        assert "Until when will you support colleagues" in end_question.text
        assert forms(sim) == [(olena.id, "out-of-country", "end")]

        bot = await restart()
        await bot.dm(olena, "whenever")
        assert "could not read that date" in bot.last(olena.id).text
        assert forms(bot) == [(olena.id, "out-of-country", "end")]

        bot = await restart()
        await bot.dm(olena, "in 20 weeks")
        assert "at most 90 days" in bot.last(olena.id).text

        bot = await restart()
        await bot.dm(olena, "2027-01-31")
        who = bot.last(olena.id)
        assert "Who sponsors you in the country?" in who.text
        assert forms(bot) == [(olena.id, "out-of-country", "sponsor")]
        row = row_of(bot, olena.id)
        assert row is not None and row.pending_end_date == date(2027, 1, 31)

        bot = await restart()
        # The end-date question's button belongs to the step before: refused, nothing changes.
        await bot.press(olena, end_question, "Until")
        assert alerts(bot)[-1] == (
            "This button belongs to an earlier question; please use the latest one."
        )
        assert forms(bot) == [(olena.id, "out-of-country", "sponsor")]

        bot = await restart()
        await bot.dm(olena, "@olena")
        assert "cannot sponsor you: you cannot sponsor yourself" in bot.last(olena.id).text

        bot = await restart()
        mark = bot.mark()
        await bot.press(olena, who, "Ivan Koval (your sponsor)")
        request = bot.unique_reply(mark, ivan.id)
        assert "until Sunday, 31 January 2027" in request.text
        assert "I asked Ivan Koval to confirm" in bot.last(olena.id).text
        assert forms(bot) == []  # the form is over once the sponsor was asked

        bot = await restart()
        await bot.press(ivan, request, "I sponsor them")
        intro = intro_of(bot, olena.id)
        assert intro is not None and intro.category is Category.OUT_OF_COUNTRY
        assert intro.end_date == date(2027, 1, 31) and intro.sponsor_id == ivan.id
        assert any(
            c.startswith("departure: in_country -> out_of_country until 2027-01-31")
            for c in causes(bot, olena.id)
        )
        await bot.advance(timedelta(days=10))
        assert status(bot, olena.id) is MemberStatus.MEMBER


async def test_a_new_sponsor_survives_a_restart_between_every_two_answers(
    sim: Simulator,
) -> None:
    ivan = await veteran(sim)
    bohdan = await veteran(sim, "Bohdan")
    await sim.dm(bohdan, "/start")
    otto = await out_of_country(sim, ivan)
    await sim.leave(ivan)
    await sim.advance(timedelta(minutes=15))
    ask = question(sim, otto)
    assert "Your sponsor Ivan Koval is no longer a member working in the country" in ask.text
    async with restarting(sim) as restart:
        bot = await restart()
        await bot.press(otto, ask, "Name a new sponsor")
        assert "Who sponsors you in the country?" in bot.last(otto.id).text
        assert forms(bot) == [(otto.id, "out-of-country", "sponsor")]

        bot = await restart()
        await bot.dm(otto, "Nobody Atall")
        assert "No current member is called" in bot.last(otto.id).text
        assert forms(bot) == [(otto.id, "out-of-country", "sponsor")]

        bot = await restart()
        mark = bot.mark()
        await bot.dm(otto, "@bohdan")
        request = bot.unique_reply(mark, bohdan.id)
        assert "I asked Bohdan Koval to confirm" in bot.last(otto.id).text
        assert forms(bot) == []

        bot = await restart()
        await bot.press(bohdan, request, "I sponsor them")
        intro = intro_of(bot, otto.id)
        assert intro is not None and intro.sponsor_id == bohdan.id
        assert intro.end_date == date(2027, 1, 18)  # unchanged
        assert intro.category is Category.OUT_OF_COUNTRY


async def test_no_after_yes_closes_the_form(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving today")
    ask = question(sim, olena)
    no = next(b["callback_data"] for b in ask.buttons() if b["text"].startswith("No"))
    await sim.press(olena, ask, "Yes, I keep supporting them")
    assert forms(sim) == [(olena.id, "out-of-country", "end")]
    # "No" may follow "yes" until a sponsor confirms (the button of the same question).
    await sim.feed(sim.telegram.forged_press(olena.id, olena.id, ask.message_id, no))
    assert forms(sim) == []
    assert status(sim, olena.id) is MemberStatus.REMOVED
    mark = sim.mark()
    await sim.dm(olena, "2027-01-31")  # no form any more: no end date is taken
    row = row_of(sim, olena.id)
    assert row is None or row.pending_end_date is None
    assert all("Who sponsors you" not in m.text for m in sim.since(mark, olena.id))
