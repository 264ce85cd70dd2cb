"""/mydata names the people in your history by name, as you have seen them ("from Ivan
Petrenko"), never "user 100002"; driven through the whole bot in English and Ukrainian."""

from __future__ import annotations

import re

from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from tests.test_contacts import add_contact, member


async def asked_by_ivan(sim: Simulator) -> tuple[FakeUser, FakeUser]:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF", phone="+380441234567")
    await sim.dm(ivan, "/contact unicef")
    await sim.press(ivan, sim.last(ivan.id), "Ask to be put in touch")
    return olena, ivan


def mydata(sim: Simulator, user: FakeUser, mark: int) -> str:
    return "\n".join(m.text for m in sim.since(mark, user.id))


async def test_mydata_names_who_asked_for_you(sim: Simulator) -> None:
    olena, ivan = await asked_by_ivan(sim)
    mark = sim.mark()
    await sim.dm(olena, "/mydata")
    text = mydata(sim, olena, mark)
    assert re.search(r"#\d+ 23 Nov 2026 from Ivan Petrenko: ", text), text
    assert f"user {ivan.id}" not in text


async def test_mydata_names_who_asked_for_you_in_ukrainian(sim: Simulator) -> None:
    olena, ivan = await asked_by_ivan(sim)
    await sim.dm(olena, "/language uk")
    mark = sim.mark()
    await sim.dm(olena, "/mydata")
    text = mydata(sim, olena, mark)
    assert re.search(r"#\d+ 23 лист\. 2026\u202fр\. від Ivan Petrenko: ", text), text
    assert f"користувача {ivan.id}" not in text
