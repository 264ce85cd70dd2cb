"""/profile's buttons are checked against the stored form (``pl:<serial>:<value>``): a forged,
replayed or old-style press is refused politely and changes nothing; /skip is an answer only
while the form is open; starting /profile again replaces the half-filled form."""

from __future__ import annotations

from sqlalchemy import select

from simulation.faketg import FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.models import Contact, FormRow

EARLIER = "This button belongs to an earlier question; please use the latest one."
GONE = "This form is no longer open."


def form_row(sim: Simulator) -> tuple[str, str] | None:
    """The open form's step and answers."""
    with sim.services.db.transaction() as session:
        row = session.scalars(select(FormRow)).one_or_none()
        return None if row is None else (row.step, row.data)


def saved(sim: Simulator) -> list[Contact]:
    with sim.services.db.transaction() as session:
        return list(session.scalars(select(Contact)))


def alerts(sim: Simulator) -> list[str]:
    return [c.get("text") or "" for c in sim.telegram.calls_to("answerCallbackQuery")]


async def levels(sim: Simulator) -> tuple[FakeUser, SentMessage]:
    """Olena at the levels step, every detail left empty or kept."""
    olena = sim.user("Olena", "Koval")
    sim.telegram.started.add(olena.id)
    await sim.dm(olena, "/profile")
    await sim.dm(olena, "Olena Koval")
    for _ in range(8):
        await sim.dm(olena, "-")
    question = sim.last(olena.id)
    assert "Who may see each detail?" in question.text
    return olena, question


def data(message: SentMessage, label: str) -> str:
    [found] = [b["callback_data"] for b in message.buttons() if label in b["text"]]
    return str(found)


async def forge(sim: Simulator, user: FakeUser, message: SentMessage, raw: str) -> None:
    await sim.feed(sim.telegram.forged_press(user.id, message.chat_id, message.message_id, raw))


async def test_forged_presses_are_refused_and_change_nothing(sim: Simulator) -> None:
    olena, question = await levels(sim)
    save = data(question, "Save")
    prefix, serial, value = save.split(":")
    assert (prefix, value) == ("pl", "save") and serial.isdigit()
    before = form_row(sim)
    mark = sim.mark()
    await forge(sim, olena, question, "pl:save")  # the old, unnumbered button
    assert alerts(sim)[-1] == "This button is not valid any more."
    for raw in (
        f"pl:{int(serial) + 1}:save",  # a serial not sent yet
        "pl:0:save",  # a serial from before this form
    ):
        await forge(sim, olena, question, raw)
        assert alerts(sim)[-1] == EARLIER, raw
    await forge(sim, olena, question, f"pl:{serial}:nonsense")  # a real serial, no such choice
    assert alerts(sim)[-1] == "Unknown choice."
    assert form_row(sim) == before and saved(sim) == []
    assert sim.since(mark, olena.id) == []
    # Someone else pressing Olena's button has no form of theirs: refused.
    ivan = sim.user("Ivan", "Petrenko")
    await forge(sim, ivan, question, save)
    assert alerts(sim)[-1] == GONE
    assert form_row(sim) == before and saved(sim) == []
    await sim.press(olena, question, "Save")  # the real buttons still work
    assert [c.user_id for c in saved(sim)] == [olena.id]


async def test_save_twice_saves_once_and_old_levels_buttons_say_the_form_is_over(
    sim: Simulator,
) -> None:
    olena, question = await levels(sim)
    await sim.press(olena, question, "Phone: private")
    turned = sim.last(olena.id)
    assert turned.message_id == question.message_id  # the message is changed in place
    save = data(turned, "Save")
    await sim.press(olena, turned, "Save")
    assert sim.last(olena.id).text.startswith("Saved.")
    [entry] = saved(sim)
    assert "phone=public" in entry.levels and form_row(sim) is None
    await forge(sim, olena, turned, save)  # a double tap delivered again
    assert alerts(sim)[-1] == GONE
    assert len(saved(sim)) == 1


async def test_level_buttons_of_a_replaced_form_are_refused(sim: Simulator) -> None:
    olena, question = await levels(sim)
    phone = data(question, "Phone")
    mark = sim.mark()
    await sim.dm(olena, "/profile")  # starts over: the name question again
    assert "(1/9)" in sim.unique_reply(mark, olena.id).text
    await forge(sim, olena, question, phone)
    assert alerts(sim)[-1] == EARLIER
    step = form_row(sim)
    assert step is not None and step[0] == "name"


async def test_skip_is_an_answer_only_inside_the_form(sim: Simulator) -> None:
    olena = sim.user("Olena", "Koval")
    sim.telegram.started.add(olena.id)
    await sim.dm(olena, "/profile")
    await sim.dm(olena, "/skip")  # keeps the name the form was opened with
    assert "(2/9)" in sim.last(olena.id).text
    await sim.dm(olena, "/cancel")
    assert sim.last(olena.id).text == "Cancelled; nothing was changed."
    mark = sim.mark()
    await sim.dm(olena, "/skip")  # no form: not taken as an answer
    assert all("(3/9)" not in m.text for m in sim.since(mark, olena.id))
    assert form_row(sim) is None and saved(sim) == []
