"""The contact directory through the real bot: profile, lookup, put in touch, audit, rights."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select

from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from storage.contacts import ContactRepository, ContactValues
from storage.models import Contact, ContactRequest, Disclosure
from tests.conftest import MODERATOR_ID


async def member(sim: Simulator, first: str, last: str, username: str | None = None):
    person = sim.user(first, last, username)
    # In the group before the bot (no introduction to complete): the bot learns them on sight.
    sim.group.members[person.id] = FakeMember("member")
    await sim.say(person, "hello")
    await sim.dm(person, "/start")
    return person


def add_contact(sim: Simulator, user_id: int | None, consent: str = "given", **values) -> int:
    now = sim.clock.now()
    with sim.services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.new(user_id, "profile", now)
        repo.apply(contact, ContactValues(**values), now)
        contact.consent = consent
        session.flush()
        return contact.id


def rows(sim: Simulator, model):
    with sim.services.db.transaction() as session:
        return session.scalars(select(model)).all()


async def test_profile_is_guided_validated_and_saved_with_levels(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    await sim.dm(olena, "/profile")
    assert "Your full name" in sim.last(olena.id).text
    answers = ["Olena Koval", "UNICEF", "WASH IMO", "WASH, Health", "Kharkiv"]
    for answer in answers:
        await sim.dm(olena, answer)
    mark = sim.mark()
    await sim.dm(olena, "12345")  # not a phone number
    assert "phone" in sim.unique_reply(mark, olena.id).text.lower()
    await sim.dm(olena, "+380 44 123 4567")
    await sim.dm(olena, "not-an-email")
    assert "e-mail" in sim.last(olena.id).text
    await sim.dm(olena, "Olena@Example.org")
    await sim.dm(olena, "/skip")
    await sim.dm(olena, "yes")
    form = sim.last(olena.id)
    await sim.press(olena, form, "Phone: private")  # private → public
    await sim.press(olena, sim.last(olena.id), "Phone: public")  # → cluster
    await sim.press(olena, sim.last(olena.id), "Save")
    [contact] = rows(sim, Contact)
    assert contact.user_id == olena.id and contact.consent == "given"
    assert contact.phone == "+380441234567" and contact.email == "Olena@example.org"
    assert contact.clusters == "WASH|Health" and contact.focal_point
    assert "phone=cluster" in contact.levels


async def test_profile_cancel_changes_nothing(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    await sim.dm(olena, "/profile")
    await sim.dm(olena, "Olena Koval")
    mark = sim.mark()
    await sim.dm(olena, "/cancel")
    assert "nothing was changed" in sim.unique_reply(mark, olena.id).text
    assert rows(sim, Contact) == []


async def test_lookup_shows_only_allowed_fields_and_records_it(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    cid = add_contact(
        sim,
        olena.id,
        name="Olena Koval",
        organisation="UNICEF",
        role="IMO",
        clusters=("WASH",),
        location="Kharkiv",
        phone="+380441234567",
        email="olena@example.org",
        telegram="@olena_k",
    )
    add_contact(sim, None, consent="pending", name="Olena Hidden", organisation="UNICEF")
    mark = sim.mark()
    await sim.dm(ivan, "/contact olna kovl")  # typos
    reply = sim.unique_reply(mark, ivan.id)
    assert "Olena Koval" in reply.text and "UNICEF" in reply.text
    for secret in ("+380441234567", "olena@example.org", "@olena_k", "Kharkiv", "Hidden"):
        assert secret not in reply.text
    [disclosure] = rows(sim, Disclosure)
    assert (disclosure.viewer_id, disclosure.contact_id) == (ivan.id, cid)
    assert disclosure.channel == "lookup" and "phone" not in disclosure.fields
    # a search that matches only a hidden field finds nothing
    mark = sim.mark()
    await sim.dm(ivan, "/contact kharkiv")
    assert "Nobody found" in sim.unique_reply(mark, ivan.id).text


async def test_put_in_touch_yes_sends_details_only_then(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF", phone="+380441234567")
    await sim.dm(ivan, "/contact unicef")
    await sim.press(ivan, sim.last(ivan.id), "Ask to be put in touch")
    question = sim.last(olena.id)
    assert "Ivan Petrenko" in question.text
    assert "+380441234567" not in sim.last(ivan.id).text
    # another user cannot answer for Olena (forged press)
    mark = sim.mark()
    data = next(b for b in question.buttons() if b["text"].startswith("Share"))["callback_data"]
    await sim.feed(sim.telegram.forged_press(ivan.id, olena.id, question.message_id, data))
    assert sim.since(mark, ivan.id) == []
    assert sim.telegram.calls_to("answerCallbackQuery")[-1]["show_alert"] is True
    # The phone is not among what is shared by default (name, organisation, Telegram): Olena
    # ticks it on before sharing.
    await sim.press(olena, question, "✗ Phone")
    await sim.press(olena, question, "Share with this person")
    assert "+380441234567" in sim.last(ivan.id).text
    [request] = rows(sim, ContactRequest)
    assert request.status == "shared"
    channels = [d.channel for d in rows(sim, Disclosure)]
    assert "introduction" in channels


async def test_put_in_touch_decline_and_timeout_are_told_neutrally(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF", phone="+380441234567")
    await sim.dm(ivan, "/contact unicef")
    await sim.press(ivan, sim.last(ivan.id), "Ask to be put in touch")
    await sim.press(olena, sim.last(olena.id), "Decline")
    mark = sim.mark()
    await sim.advance(timedelta(hours=1))
    assert sim.since(mark, ivan.id) == []  # a decline is not announced early
    await sim.advance(timedelta(hours=72))
    told = sim.unique_reply(mark, ivan.id)
    assert "did not get an answer in time" in told.text and "+380" not in told.text
    await sim.advance(timedelta(hours=1))
    assert len(sim.since(mark, ivan.id)) == 1  # told once


async def test_forged_buttons_disclose_nothing(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF")
    await sim.dm(olena, "/contact unicef")
    msg = sim.last(olena.id)
    await sim.dm(ivan, "/forgetme")
    forget = sim.last(ivan.id)
    for data in ("ct:pg:1:0", f"ct:fg:{olena.id}", "ct:cy:1", "ct:y:99", "ct:zz:1", "ct:pg:x"):
        mark = sim.mark()
        await sim.feed(sim.telegram.forged_press(ivan.id, ivan.id, forget.message_id, data))
        assert sim.since(mark) == []
    assert msg and len(rows(sim, Contact)) == 1


async def test_group_command_points_to_private_chat_keeping_the_query(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    mark = sim.mark()
    await sim.say(ivan, "/contact Зоряна")
    reply = sim.unique_reply(mark, sim.group.id)
    assert "privately" in reply.text
    url = reply.buttons()[0]["url"]
    prefix = "https://t.me/imbot?start=contact_"
    assert url.startswith(prefix) and len(url) - len(prefix) + len("contact_") <= 64, url
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in url[len(prefix) :]), url
    # Following the link runs the search typed in the group, as the person meant it.
    mark = sim.mark()
    await sim.dm(ivan, "/start " + url.split("start=", 1)[1])
    found = sim.unique_reply(mark, ivan.id).text
    assert found.startswith("Nobody found for “зоряна”"), found
    # A query too long for a link opens the private chat with the usual hint.
    mark = sim.mark()
    await sim.say(ivan, "/contact " + "protection officer kharkiv oblast and odesa " * 2)
    assert sim.unique_reply(mark, sim.group.id).buttons()[0]["url"].endswith("start=contact_go")
    # Forged payloads get the hint, never an error.
    for forged in ("contact_q!!!", "contact_q", "contact_qAAAA", "contact_" + "q" * 80):
        mark = sim.mark()
        await sim.dm(ivan, "/start " + forged)
        assert "Send <code>/contact</code>" in sim.unique_reply(mark, ivan.id).html


async def test_profile_in_the_group_points_to_profile_in_private(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    await sim.dm(ivan, "/language uk")
    mark = sim.mark()
    await sim.say(ivan, "/profile")
    reply = sim.unique_reply(mark, sim.group.id)
    assert "/profile" in reply.text and "contact" not in reply.text.lower()
    url = reply.buttons()[0]["url"]
    mark = sim.mark()
    await sim.dm(ivan, "/start " + url.split("start=", 1)[1])
    private = sim.unique_reply(mark, ivan.id).text
    assert private == (
        "Надішліть /profile, щоб змінити свій запис у довіднику й вибрати, хто бачить кожну деталь."
    ), private


async def test_bad_queries_and_rate_limit(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    for query in (
        "/contact",
        "/contact ab",
        "/contact +380441234567",
        "/contact a@b.org",
        "/contact " + "x" * 5000,
        "/contact <b>&'; DROP TABLE contacts; --",
    ):
        mark = sim.mark()
        await sim.dm(ivan, query)
        sim.unique_reply(mark, ivan.id)
    for _ in range(20):
        await sim.dm(ivan, "/contact unicef")
    mark = sim.mark()
    await sim.dm(ivan, "/contact unicef")
    assert "limit" in sim.unique_reply(mark, ivan.id).text


async def test_outsider_cannot_search(sim: Simulator) -> None:
    stranger = sim.user("Stranger", "X")
    await sim.dm(stranger, "/start")
    add_contact(sim, None, name="Olena Koval", organisation="UNICEF")
    mark = sim.mark()
    await sim.dm(stranger, "/contact unicef")
    assert "for members" in sim.unique_reply(mark, stranger.id).text


async def test_imported_person_is_asked_on_start_and_invisible_before(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    petro = sim.user("Petro", "Imported", "petro_i")
    # Imported with the person's Telegram user id: that, not the username, links the entry.
    add_contact(
        sim,
        petro.id,
        consent="pending",
        name="Petro Imported",
        organisation="NRC",
        telegram="@petro_i",
    )
    await sim.dm(ivan, "/contact petro")
    assert "Nobody found" in sim.last(ivan.id).text
    await sim.dm(petro, "/start")
    question = sim.last(petro.id)
    assert "Petro Imported" in question.text
    await sim.feed(sim.telegram.forged_press(ivan.id, petro.id, question.message_id, "ct:cy:1"))
    assert rows(sim, Contact)[0].consent == "pending"
    await sim.press(petro, question, "Yes, list me")
    [contact] = rows(sim, Contact)
    assert contact.consent == "given" and contact.user_id == petro.id
    await sim.dm(ivan, "/contact petro")
    assert "Petro Imported" in sim.last(ivan.id).text
    mark = sim.mark()
    await sim.dm(petro, "/start")
    assert len(sim.since(mark, petro.id)) == 1  # asked only once


async def test_a_username_alone_never_claims_an_imported_entry(config, clock) -> None:
    """Issue 15, defect 2: anyone holding an imported row's @username used to claim it (and
    see its phone and e-mail in /mydata). Now a moderator must link the entry first."""
    async with Simulator(config, clock) as sim:
        moderator = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
        sim.telegram.started.add(moderator.id)
        cid = add_contact(
            sim,
            None,
            consent="pending",
            name="Petro Imported",
            phone="+380441234567",
            email="petro@example.org",
            telegram="@petro_i",
        )
        impostor = sim.user("Not", "Petro", "petro_i")  # the username changed hands
        mark = sim.mark()
        await sim.dm(impostor, "/start")
        for sent in sim.since(mark, impostor.id):
            assert "Petro Imported" not in sent.text and "+380" not in sent.text
        await sim.feed(sim.telegram.forged_press(impostor.id, impostor.id, 1, f"ct:cy:{cid}"))
        await sim.dm(impostor, "/mydata")
        text = sim.last(impostor.id).text
        assert "+380441234567" not in text and "petro@example.org" not in text
        [contact] = rows(sim, Contact)
        assert contact.user_id is None and contact.consent == "pending"
        # The moderator is asked, sees the claim, and links only on purpose.
        claim = sim.last(MODERATOR_ID)
        assert "Usernames change hands" in claim.text and str(impostor.id) in claim.text
        await sim.feed(
            sim.telegram.forged_press(
                impostor.id, MODERATOR_ID, claim.message_id, claim.buttons()[0]["callback_data"]
            )
        )
        assert rows(sim, Contact)[0].user_id is None  # a forged press links nothing
        await sim.press(moderator, claim, "It is them")
        assert rows(sim, Contact)[0].user_id == impostor.id
        assert "Petro Imported" in sim.last(impostor.id).text  # now asked, once linked


async def test_mydata_and_forgetme(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(sim, olena.id, name="Olena <b>Koval</b>", organisation="UNICEF")
    await sim.dm(ivan, "/contact olena")
    await sim.dm(olena, "/mydata")
    text = sim.last(olena.id).text
    assert "Olena <b>Koval</b>" in text and "Ivan Petrenko" in text and "by search" in text
    await sim.dm(olena, "/forgetme")
    await sim.press(olena, sim.last(olena.id), "Erase")
    assert rows(sim, Contact) == []
    audit = rows(sim, Disclosure)
    assert {d.channel for d in audit} == {"lookup", "erased"}
    assert all(d.contact_id is None for d in audit)


async def test_override_needs_config_and_reason(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    cid = add_contact(sim, olena.id, name="Olena Koval", phone="+380441234567")
    moderator = sim.telegram.users[MODERATOR_ID]
    mark = sim.mark()
    await sim.dm(moderator, f"/override {cid} urgent field coordination need")
    assert "turned off" in sim.unique_reply(mark, MODERATOR_ID).text
    ivan = await member(sim, "Ivan", "Petrenko")
    mark = sim.mark()
    await sim.dm(ivan, f"/override {cid} urgent field coordination need")
    assert "+380" not in sim.unique_reply(mark, ivan.id).text


async def test_imported_person_is_asked_on_join_when_reachable(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    petro = sim.user("Petro", "Imported", "petro_i")
    hanna = sim.user("Hanna", "Imported", "hanna_i")
    add_contact(sim, petro.id, consent="pending", name="Petro Imported", telegram="@petro_i")
    add_contact(sim, hanna.id, consent="pending", name="Hanna Imported", telegram="@hanna_i")
    sim.telegram.started.add(petro.id)  # started the bot earlier, e.g. to ask a question
    await sim.join(petro, added_by=ivan)
    question = sim.last(petro.id)
    assert "Petro Imported" in question.text and "May colleagues find you" in question.text
    await sim.press(petro, question, "Yes, list me")
    assert {c.name: c.consent for c in rows(sim, Contact)}["Petro Imported"] == "given"

    await sim.join(hanna, added_by=ivan)  # never started the bot
    assert {c.name: c.consent_asked_at for c in rows(sim, Contact)}["Hanna Imported"] is None
    mark = sim.mark()
    await sim.dm(hanna, "/start")
    assert any("Hanna Imported" in m.text for m in sim.since(mark, hanna.id))


async def test_allowed_override_shows_details_records_reason_and_tells_the_person(
    config, clock
) -> None:
    contacts = config.settings.contacts.model_copy(update={"moderator_override": True})
    config = dataclasses.replace(
        config, settings=config.settings.model_copy(update={"contacts": contacts})
    )
    async with Simulator(config, clock) as sim:
        moderator = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
        sim.telegram.started.add(moderator.id)
        olena = await member(sim, "Olena", "Koval")
        cid = add_contact(sim, olena.id, name="Olena Koval", phone="+380441234567")
        mark = sim.mark()
        await sim.dm(moderator, f"/override {cid} short")
        assert "at least" in sim.unique_reply(mark, MODERATOR_ID).text
        assert rows(sim, Disclosure) == []

        mark = sim.mark()
        await sim.dm(moderator, f"/override {cid} <b>urgent</b> evacuation coordination")
        reply = sim.unique_reply(mark, MODERATOR_ID).text
        assert "+380441234567" in reply and "<b>urgent</b>" in reply  # shown, not rendered
        [disclosure] = rows(sim, Disclosure)
        assert disclosure.channel == "override" and disclosure.viewer_id == MODERATOR_ID
        assert disclosure.detail == "<b>urgent</b> evacuation coordination"
        told = sim.unique_reply(mark, olena.id).text
        assert "Mira Moderator" in told and "evacuation coordination" in told

        await sim.dm(olena, "/mydata")
        assert "evacuation coordination" in sim.last(olena.id).text

        hidden = add_contact(sim, None, consent="pending", name="Petro Imported")
        mark = sim.mark()
        await sim.dm(moderator, f"/override {hidden} urgent evacuation coordination")
        assert "No listed contact" in sim.unique_reply(mark, MODERATOR_ID).text
        assert len(rows(sim, Disclosure)) == 1
