"""What a newcomer reads when they get something slightly wrong: the bot says what is wrong
in their language (issue: "What a newcomer trips over"), driven through the whole bot."""

from __future__ import annotations

from datetime import date, timedelta

from i18n import use_locale
from moderation.lifecycle import ooc_end_problem
from simulation.simulator import Simulator
from tests.lifecycle import member
from tests.test_joins import intro_of, invite, veteran
from tests.test_languages import choose


async def test_a_day_that_does_not_exist_is_named_not_unreadable(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    expected = {
        "/leaving 31 Feb": "February has no day 31 (it has 28 days).",
        "/leaving 31.04.2027": "April has no day 31 (it has 30 days).",
        "/leaving 2027-02-29": "29 February exists only in leap years; choose another day.",
        "/leaving 32 Dec": "December has no day 32 (it has 31 days).",
        "/leaving soonish": "I could not read that date. Try 2026-12-20, 20 Dec or “in 3 weeks”.",
    }
    for text, reply in expected.items():
        mark = sim.mark()
        await sim.dm(olena, text)
        assert sim.unique_reply(mark, olena.id).text == reply, text
    # 29 February of a leap year is a real day: the bot goes on to ask for confirmation.
    mark = sim.mark()
    await sim.dm(olena, "/leaving 2028-02-29")
    assert "no day" not in sim.unique_reply(mark, olena.id).text


async def test_the_missing_day_is_named_in_the_readers_language(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await choose(sim, olena, "Українська")
    mark = sim.mark()
    await sim.dm(olena, "/leaving 31 Feb")
    text = sim.unique_reply(mark, olena.id).text
    assert "лют" in text.lower() and "31" in text and "28" in text, text
    assert "February" not in text


async def test_a_mistyped_email_is_explained_in_one_clean_sentence(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/profile")
    for answer in ["Olena Petrenko", "UNICEF", "WASH IMO", "WASH", "Kharkiv", "+380 44 123 4567"]:
        await sim.dm(olena, answer)
    expected = {
        "olena.petrenko": "an e-mail address has one @ and no spaces, like "
        "olena.petrenko@example.org",
        "olena@": "after the @ comes a domain with a dot, like example.org",
        "@example.org": "a name must come before the @, like olena.petrenko@example.org",
        "olena..p@example.org": "olena..p@example.org is not a valid e-mail address; check it "
        "for typing mistakes",
    }
    for answer, problem in expected.items():
        mark = sim.mark()
        await sim.dm(olena, answer)
        reply = sim.unique_reply(mark, olena.id).text
        assert reply == f"Sorry: {problem}. Try again, or /cancel.", reply
        assert ".." not in reply.replace("olena..p", "")


def test_dates_in_refusals_are_in_the_readers_language_with_one_full_stop() -> None:
    today, too_late = date(2026, 12, 7), date(2027, 6, 1)
    with use_locale("uk"):
        text = ooc_end_problem(too_late, today, timedelta(days=90))
    # Babel writes the year's abbreviation after a narrow no-break space.
    assert text is not None and text.endswith("7 бер. 2027\u202fр."), text
    with use_locale("fr"):
        text = ooc_end_problem(too_late, today, timedelta(days=90))
    assert text is not None and "7 mars 2027" in text and "Mar" not in text, text


async def test_a_newcomer_who_corrects_their_details_is_thanked_once(sim: Simulator) -> None:
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH IMO"])
    olena = sim.user("Olena", "Petrenko", "olena")
    sim.telegram.started.add(olena.id)
    await sim.join(olena, link=link)
    intro = intro_of(sim, olena.id)
    assert intro is not None
    mark = sim.mark()
    await sim.dm(olena, f"/start confirm_{intro.id}")
    await sim.press(olena, sim.last(olena.id), "Correct it")
    await sim.dm(olena, "Olena Petrenko-Shevchenko")
    await sim.dm(olena, "UNHCR")
    thanks = [m.text for m in sim.since(mark, olena.id) if "Thank you" in m.text]
    assert thanks == [
        "Thank you! Your introduction is complete and you can now write in the group."
    ], thanks


async def test_a_ukrainian_newcomer_is_thanked_once_in_ukrainian(sim: Simulator) -> None:
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH IMO"])
    olena = sim.user("Olena", "Petrenko", "olena")
    sim.telegram.started.add(olena.id)
    await sim.join(olena, link=link)
    await sim.dm(olena, "/language uk")
    intro = intro_of(sim, olena.id)
    assert intro is not None
    mark = sim.mark()
    await sim.dm(olena, f"/start confirm_{intro.id}")
    await sim.press(olena, sim.last(olena.id), "Виправити")
    await sim.dm(olena, "Олена Петренко")
    await sim.dm(olena, "UNHCR")
    thanks = [m.text for m in sim.since(mark, olena.id) if "Дякую" in m.text]
    assert thanks == ["Дякую! Ваше представлення завершено, і тепер ви можете писати в групі."]
    assert not any("Thank you" in m.text for m in sim.since(mark, olena.id))
