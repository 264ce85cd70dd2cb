"""Issue 15, the directory half: each defect found by trying the directory as a hostile member
(overrides outliving their permission, self-declared clusters, CSV injection, forged asks),
and hostile input, through the real bot."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta

from sqlalchemy import select

from handlers.contacts.optin import ask_listing_at_arrival
from moderation.spreadsheet import neutralise_cell
from runtime.context import BotContext
from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from storage.contacts import ContactRepository
from storage.models import Contact, ContactGrant, ContactRequest
from tests.conftest import MODERATOR_ID
from tests.test_contacts import add_contact, member, rows

PHONE = "+380441234567"


def reconfigure(sim: Simulator, moderators: list[int] | None = None, **contacts: object) -> None:
    """What a restart with an edited configuration does to the settings."""
    settings = sim.services.settings
    policy = settings.contacts.model_copy(update=contacts)
    update: dict[str, object] = {"contacts": policy}
    if moderators is not None:
        update["moderators"] = moderators
    new = settings.model_copy(update=update)
    sim.services.config = dataclasses.replace(sim.services.config, settings=new)


async def olena_with_override(sim: Simulator) -> tuple[int, object]:
    reconfigure(sim, moderator_override=True)
    olena = await member(sim, "Olena", "Koval")
    cid = add_contact(
        sim, olena.id, name="Olena Koval", organisation="UNICEF", phone=PHONE, clusters=("WASH",)
    )
    await sim.dm(
        sim.telegram.users[MODERATOR_ID], f"/override {cid} evacuation of the Kharkiv team"
    )
    assert PHONE in sim.last(MODERATOR_ID).text
    return cid, olena


async def moderator_sees_phone(sim: Simulator) -> bool:
    mark = sim.mark()
    await sim.dm(sim.telegram.users[MODERATOR_ID], "/contact olena koval")
    return any(PHONE in m.text for m in sim.since(mark, MODERATOR_ID))


# ------------------------------------------------------------------ defect 1: overrides
async def test_an_override_stops_counting_when_overrides_are_turned_off(sim: Simulator) -> None:
    await olena_with_override(sim)
    assert await moderator_sees_phone(sim)
    reconfigure(sim, moderator_override=False)
    assert not await moderator_sees_phone(sim)


async def test_an_override_stops_counting_when_the_moderator_loses_the_role(
    sim: Simulator,
) -> None:
    await olena_with_override(sim)
    moderator = sim.telegram.users[MODERATOR_ID]
    # Still a group member, no longer a moderator.
    sim.group.members[MODERATOR_ID] = FakeMember("member")
    await sim.say(moderator, "hello")
    reconfigure(sim, moderators=[])
    assert not await moderator_sees_phone(sim)


async def test_an_override_expires(sim: Simulator) -> None:
    await olena_with_override(sim)
    [grant] = rows(sim, ContactGrant)
    assert grant.expires_at == grant.at + timedelta(days=7)  # the default
    await sim.advance(timedelta(days=6, hours=23))
    assert await moderator_sees_phone(sim)
    await sim.advance(timedelta(hours=2))
    assert not await moderator_sees_phone(sim)


async def test_an_override_never_feeds_the_export(sim: Simulator) -> None:
    await olena_with_override(sim)
    await sim.dm(sim.telegram.users[MODERATOR_ID], "/export for the shelter cluster meeting")
    document = sim.last(MODERATOR_ID).document
    assert document is not None and "Olena Koval" in document[1].decode()
    assert PHONE not in document[1].decode()


async def test_override_records_fields_and_the_person_sees_it_in_mydata(sim: Simulator) -> None:
    reconfigure(sim, moderator_override=True)
    olena = await member(sim, "Olena", "Koval")
    cid = add_contact(sim, olena.id, name="Olena Koval", phone=PHONE, email="o@example.org")
    mark = sim.mark()
    await sim.dm(sim.telegram.users[MODERATOR_ID], f"/override {cid} phone evacuation of the team")
    shown = sim.unique_reply(mark, MODERATOR_ID).text
    assert PHONE in shown
    [grant] = rows(sim, ContactGrant)
    assert grant.fields == "phone" and grant.reason == "evacuation of the team"
    told = sim.unique_reply(mark, olena.id).text
    assert "Mira Moderator" in told and "evacuation of the team" in told
    await sim.dm(olena, "/mydata")
    mydata = sim.last(olena.id).text
    assert "Overrides used on you" in mydata and "evacuation of the team" in mydata


# ----------------------------------------------------- defect 3: self-declared clusters
async def test_self_declared_clusters_open_nothing_until_confirmed(sim: Simulator) -> None:
    """A member who writes "WASH, Health, Protection, Shelter" in /profile used to see every
    cluster-level field of everyone."""
    olena = await member(sim, "Olena", "Koval")
    add_contact(
        sim,
        olena.id,
        name="Olena Koval",
        organisation="UNICEF",
        clusters=("Protection",),
        location="Kharkiv oblast",
        telegram="@olena_k",
    )
    with sim.services.db.transaction() as session:  # her own cluster, confirmed by her sponsor
        own = ContactRepository(session).by_user(olena.id)
        assert own is not None
        own.confirmed_clusters = "Protection"
    ivan = await member(sim, "Ivan", "Petrenko")
    await sim.dm(ivan, "/profile")
    for answer in ["Ivan Petrenko", "NRC", "IMO", "WASH, Health, Protection, Shelter"]:
        await sim.dm(ivan, answer)
    for _ in range(5):
        await sim.dm(ivan, "-")
    form = sim.last(ivan.id)
    await sim.press(ivan, form, "Save")
    mark = sim.mark()
    await sim.dm(ivan, "/contact olena")
    reply = sim.unique_reply(mark, ivan.id).text
    assert "Olena Koval" in reply
    assert "Kharkiv" not in reply and "@olena_k" not in reply
    # A moderator confirms Ivan's cluster: now the cluster-level fields open.
    ivan_entry = next(c.id for c in rows(sim, Contact) if c.user_id == ivan.id)
    mark = sim.mark()
    await sim.dm(sim.telegram.users[MODERATOR_ID], f"/clusters {ivan_entry} Protection")
    assert "Protection" in sim.unique_reply(mark, MODERATOR_ID).text
    mark = sim.mark()
    await sim.dm(ivan, "/contact olena")
    reply = sim.unique_reply(mark, ivan.id).text
    assert "Kharkiv" in reply and "@olena_k" in reply
    # /clusters is for moderators only.
    mark = sim.mark()
    await sim.dm(ivan, f"/clusters {ivan_entry} WASH, Health")
    assert "only the group's moderators" in sim.unique_reply(mark, ivan.id).text


# ---------------------------------------------------------------- defect 4: CSV injection
FORMULAS = ["=1+cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_every_formula_start_is_neutralised() -> None:
    for value in FORMULAS:
        assert neutralise_cell(value).startswith("'")
    assert neutralise_cell("Olena") == "Olena" and neutralise_cell(5) == "5"


async def test_export_csv_neutralises_formula_cells(sim: Simulator) -> None:
    for number, name in enumerate(FORMULAS):
        user = await member(sim, f"Person{number}", "X")
        add_contact(sim, user.id, name=f"Person{number}", organisation=name, role=name)
    await sim.dm(sim.telegram.users[MODERATOR_ID], "/export for the shelter cluster meeting")
    document = sim.last(MODERATOR_ID).document
    assert document is not None
    cells = [cell for row in csv.reader(io.StringIO(document[1].decode())) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    for value in FORMULAS:
        assert "'" + value.replace("\r", "\n") in cells or "'" + value in cells


async def test_members_csv_neutralises_formula_cells(sim: Simulator) -> None:
    await member(sim, '=HYPERLINK("http://x")', "-1")
    await sim.dm(sim.telegram.users[MODERATOR_ID], "/members csv")
    document = sim.last(MODERATOR_ID).document
    assert document is not None
    text = document[1].decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


# ------------------------------------------------------------------ defect 5: forged asks
async def test_a_forged_ask_for_someone_the_search_cannot_return_is_refused(
    sim: Simulator,
) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    everything_private = "name=private;organisation=private;role=private;clusters=private;"
    cid = add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF", phone=PHONE)
    with sim.services.db.transaction() as session:
        contact = session.get(Contact, cid)
        assert contact is not None
        contact.levels = everything_private + "location=private"
    mark = sim.mark()
    await sim.feed(sim.telegram.forged_press(ivan.id, ivan.id, 1, f"ct:ask:{cid}"))
    assert sim.since(mark, olena.id) == []
    assert rows(sim, ContactRequest) == []
    await sim.dm(ivan, f"/ask {cid} hello")
    assert "cannot be contacted" in sim.last(ivan.id).text
    assert sim.since(mark, olena.id) == []


async def test_pending_asks_are_capped(sim: Simulator) -> None:
    reconfigure(sim, max_pending_asks=2)
    ivan = await member(sim, "Ivan", "Petrenko")
    ids = []
    for number in range(3):
        person = await member(sim, f"Person{number}", "Unicef")
        ids.append(
            add_contact(sim, person.id, name=f"Person{number} Unicef", organisation="UNICEF")
        )
    for cid in ids[:2]:
        await sim.dm(ivan, f"/ask {cid}")
    mark = sim.mark()
    await sim.dm(ivan, f"/ask {ids[2]}")
    assert "2 requests waiting" in sim.unique_reply(mark, ivan.id).text
    assert len(rows(sim, ContactRequest)) == 2


# ----------------------------------------------------- sharing: choice, note, revocation
async def test_note_is_escaped_fields_are_chosen_and_a_share_can_be_taken_back(
    sim: Simulator,
) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    cid = add_contact(
        sim, olena.id, name="Olena Koval", organisation="UNICEF", phone=PHONE, telegram="@olena_k"
    )
    await sim.dm(ivan, "/contact olena")  # Telegram is cluster-level: not shown to Ivan
    assert "@olena_k" not in sim.last(ivan.id).text
    await sim.dm(ivan, f"/ask {cid} <b>hi</b> \u202eevil")
    question = sim.last(olena.id)
    assert "<b>hi</b>" in question.text  # shown as text, not markup
    [request] = rows(sim, ContactRequest)
    assert request.note == "<b>hi</b> evil"
    labels = [b["text"] for b in question.buttons()]
    assert "✓ Telegram" in labels and "✗ Phone" in labels  # the defaults
    await sim.press(olena, question, "Share with this person")
    card = sim.last(ivan.id).text
    assert "@olena_k" in card and PHONE not in card
    [grant] = rows(sim, ContactGrant)
    assert grant.fields == "name,organisation,telegram"
    # Olena takes it back from /mydata; Ivan no longer sees the handle.
    await sim.dm(olena, "/mydata")
    mydata = sim.last(olena.id)
    assert "People you agreed to share with" in mydata.text
    await sim.feed(  # not Ivan's to press
        sim.telegram.forged_press(ivan.id, olena.id, mydata.message_id, f"ct:rv:{grant.id}")
    )
    assert rows(sim, ContactGrant)[0].revoked_at is None
    await sim.press(olena, mydata, "Take back")
    assert rows(sim, ContactGrant)[0].revoked_at is not None
    mark = sim.mark()
    await sim.dm(ivan, "/contact olena")
    assert "@olena_k" not in sim.unique_reply(mark, ivan.id).text


async def test_hostile_notes_and_names_get_a_clear_reply_and_store_nothing(
    sim: Simulator,
) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    cid = add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF")
    mark = sim.mark()
    await sim.dm(ivan, f"/ask {cid} " + "x" * 4100)
    assert "at most 300 characters" in sim.unique_reply(mark, ivan.id).text
    assert rows(sim, ContactRequest) == [] and sim.since(mark, olena.id) == []
    await sim.dm(ivan, "/profile")
    mark = sim.mark()
    await sim.dm(ivan, "\u200b<script>" + "N" * 4100)
    assert "at most 200 characters" in sim.unique_reply(mark, ivan.id).text
    await sim.dm(ivan, "/cancel")
    assert [c.user_id for c in rows(sim, Contact)] == [olena.id]
    mark = sim.mark()
    await sim.dm(sim.telegram.users[MODERATOR_ID], "/export " + "y" * 4100)
    assert "at most 300 characters" in sim.unique_reply(mark, MODERATOR_ID).text


# ---------------------------------------------------------------- opt-in at arrival
async def test_listing_is_asked_once_at_arrival(sim: Simulator) -> None:
    """What the introduction confirmation calls once the newcomer has confirmed."""
    newcomer = await member(sim, "Nadia", "New")
    with sim.services.db.transaction() as session:
        ContactRepository(session).upsert_from_introduction(
            newcomer.id, "Nadia", "New", "IOM", "IMO", "Shelter", None, sim.clock.now()
        )
    context = BotContext(sim.app)
    mark = sim.mark()
    await ask_listing_at_arrival(context, newcomer.id)
    [question] = sim.since(mark, newcomer.id)
    assert "May colleagues find you" in question.text
    await ask_listing_at_arrival(context, newcomer.id)
    assert len(sim.since(mark, newcomer.id)) == 1  # once
    with sim.services.db.transaction() as session:
        entry = session.scalars(select(Contact).where(Contact.user_id == newcomer.id)).one()
        assert entry.confirmed_clusters == "Shelter"  # the sponsor's introduction confirms it
