"""Put me in touch against forged and replayed buttons (issue 15, defect 5): the refusal is a
polite alert to the presser, nothing is stored and the person is not disturbed."""

from __future__ import annotations

from simulation.faketg import SentMessage
from simulation.simulator import Simulator
from storage.models import Contact, ContactGrant, ContactRequest
from tests.test_contacts import add_contact, member, rows

HIDDEN = "name=private;organisation=private;role=private;clusters=private;location=private"


def tick_phone(question: SentMessage) -> str:
    [label] = [b["text"] for b in question.buttons() if "Phone" in b["text"]]
    return str(label)


def last_alert(sim: Simulator) -> tuple[str, bool]:
    answer = sim.telegram.calls_to("answerCallbackQuery")[-1]
    return str(answer.get("text", "")), bool(answer.get("show_alert"))


async def test_a_forged_ask_gets_a_polite_alert_and_disturbs_nobody(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    cid = add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF")
    with sim.services.db.transaction() as session:
        contact = session.get(Contact, cid)
        assert contact is not None
        contact.levels = HIDDEN  # nothing Ivan's search could match
    for data in (f"ct:ask:{cid}", "ct:ask:999999", f"ct:ask:{cid}:extra"):
        mark = sim.mark()
        await sim.feed(sim.telegram.forged_press(ivan.id, ivan.id, 1, data))
        assert sim.since(mark, olena.id) == [], data
    text, alert = last_alert(sim)
    assert alert and "cannot be contacted through the directory" in text
    assert rows(sim, ContactRequest) == []


async def test_a_replayed_ask_is_one_request_and_one_question(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(  # a phone Ivan may not see: the card offers to ask
        sim, olena.id, name="Olena Koval", organisation="UNICEF", phone="+380441234567"
    )
    await sim.dm(ivan, "/contact unicef")
    card = sim.last(ivan.id)
    [button] = [b for b in card.buttons() if "ask to be put in touch" in b["text"].lower()]
    mark = sim.mark()
    await sim.press(ivan, card, "Ask to be put in touch")
    for _replay in range(2):  # the same callback data again, as a double tap or a replay
        await sim.feed(
            sim.telegram.forged_press(ivan.id, ivan.id, card.message_id, button["callback_data"])
        )
        text, alert = last_alert(sim)
        assert alert and "You already asked" in text
    assert len(rows(sim, ContactRequest)) == 1
    assert len(sim.since(mark, olena.id)) == 1  # one question to Olena, not three


def old_number(question: SentMessage) -> int:
    """The request number in a question's "Share with this person" button (``ct:y:<n>:…``)."""
    [data] = [
        b["callback_data"] for b in question.buttons() if b["text"] == "Share with this person"
    ]
    return int(data.split(":")[2])


async def test_a_share_button_left_from_an_erased_request_never_answers_a_later_one(
    sim: Simulator,
) -> None:
    """Ivan asks Olena, then erases his data (/forgetme): his request goes, and the next request
    (Petro's) must not get its number (SQLite reuses the highest number of a plain table). Olena's
    old "Share with this person" button — the one she saw for Ivan — must not share her phone
    with Petro; her new question's button does."""
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    petro = await member(sim, "Petro", "Bondar")
    phone = "+380441234567"
    add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF", phone=phone)
    await sim.dm(ivan, "/contact unicef")
    await sim.press(ivan, sim.last(ivan.id), "Ask to be put in touch")
    for_ivan = sim.last(olena.id)
    assert "Share with this person" in [b["text"] for b in for_ivan.buttons()]
    await sim.dm(ivan, "/forgetme")
    await sim.press(ivan, sim.last(ivan.id), "Erase my contact data")
    assert rows(sim, ContactRequest) == []
    await sim.dm(petro, "/contact unicef")
    await sim.press(petro, sim.last(petro.id), "Ask to be put in touch")
    for_petro = sim.last(olena.id)
    assert for_petro.message_id != for_ivan.message_id
    mark = sim.mark()
    for old_button in (tick_phone(for_ivan), "Share with this person"):
        await sim.press(olena, for_ivan, old_button)
        text, alert = last_alert(sim)
        assert alert and "This request is closed" in text, text
    assert old_number(for_ivan) != old_number(for_petro)
    assert all(phone not in m.text for m in sim.since(mark, petro.id))
    [request] = rows(sim, ContactRequest)
    assert request.status == "pending"
    await sim.press(olena, for_petro, tick_phone(for_petro))
    await sim.press(olena, sim.telegram.sent(olena.id)[-1], "Share with this person")
    assert any(phone in m.text for m in sim.since(mark, petro.id))


async def test_a_replayed_share_never_answers_the_same_requesters_next_request(
    sim: Simulator,
) -> None:
    """Olena shares her name with Ivan; Ivan erases his data (/forgetme) and asks again. Her old
    "Share with this person" press, replayed (a double tap arriving late, a hostile client), must
    not answer his new request — with the old choice — before she has seen it."""
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    phone = "+380441234567"
    add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF", phone=phone)
    await sim.dm(ivan, "/contact unicef")
    await sim.press(ivan, sim.last(ivan.id), "Ask to be put in touch")
    first = sim.last(olena.id)
    await sim.press(olena, first, tick_phone(first))
    question = sim.telegram.sent(olena.id)[-1]
    [share] = [
        b["callback_data"] for b in question.buttons() if b["text"] == "Share with this person"
    ]
    await sim.press(olena, question, "Share with this person")
    await sim.dm(ivan, "/forgetme")
    await sim.press(ivan, sim.last(ivan.id), "Erase my contact data")
    assert rows(sim, ContactGrant) == []
    await sim.dm(ivan, "/contact unicef")
    await sim.press(ivan, sim.last(ivan.id), "Ask to be put in touch")
    second = sim.last(olena.id)
    assert old_number(second) != int(share.split(":")[2])
    mark = sim.mark()
    await sim.feed(sim.telegram.forged_press(olena.id, olena.id, question.message_id, share))
    text, alert = last_alert(sim)
    assert alert and "This request is closed" in text, text
    assert rows(sim, ContactGrant) == []
    assert all(phone not in m.text for m in sim.since(mark, ivan.id))
    [request] = rows(sim, ContactRequest)
    assert request.status == "pending"
