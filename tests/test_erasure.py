"""Erasure by registry (issue 15): every column holding a person's user id declares what
/forgetme does to it, and /forgetme does exactly that, through the real bot.

The expected outcome per table is written here from the README's decision table ("What
/forgetme does, table by table"), not read from ``storage.erasure``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from storage import erasure
from storage.models import (
    Base,
    Contact,
    ContactLookup,
    ContactRequest,
    Disclosure,
    FormRow,
    MemberWarning,
    ModerationAction,
    Mute,
    ReminderOutbox,
    Submission,
    TagPreference,
    User,
)
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.test_contacts import add_contact, member, rows

# Columns ending in _id / _by / _ids that hold something other than a person.
NOT_PEOPLE = {
    "chat_id",
    "message_id",
    "card_message_id",
    "notice_message_id",
    "source_message_id",
    "contact_id",
    "asked_contact_id",
    "deadline_id",
    "broadcast_id",
    "invitation_id",
    "action_id",
    "report_id",
}


def person_columns() -> set[str]:
    """Every column that could hold a Telegram user id: named so, or the users table's key."""
    found = set()
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            name = column.name
            if name in NOT_PEOPLE:
                continue
            if name.endswith(("_id", "_ids", "_by")) or (table.name == "users" and name == "id"):
                found.add(f"{table.name}.{name}")
    return found


def test_every_column_holding_a_person_is_declared() -> None:
    undeclared = person_columns() - set(erasure.REGISTRY)
    assert not undeclared, f"declare what /forgetme does to {sorted(undeclared)}"
    stale = set(erasure.REGISTRY) - person_columns()
    assert not stale, f"the registry names columns that do not exist: {sorted(stale)}"
    for key, policy in erasure.REGISTRY.items():
        if policy.action is erasure.Action.KEEP:
            assert policy.reason, f"{key} is kept without a reason"


def count(sim: Simulator, model: type[Base], column: str, user_id: int) -> int:
    with sim.services.db.transaction() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(model).where(getattr(model, column) == user_id)
            )
            or 0
        )


async def test_forgetme_erases_what_the_table_says_and_mydata_says_why_the_rest_stays(
    sim: Simulator,
) -> None:
    mira = sim.telegram.users[MODERATOR_ID]
    olena = await member(sim, "Olena", "Koval", "olena_k")
    petro = await member(sim, "Petro", "Shevchenko")
    cid = add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF")
    add_contact(sim, petro.id, name="Petro Shevchenko", organisation="UNICEF")
    await sim.dm(petro, f"/ask {cid}")  # a request about Olena
    await sim.dm(olena, "/contact shevchenko")  # a search, and a disclosure she saw
    await sim.dm(olena, "/ask " + str(rows(sim, Contact)[1].id) + " hello")  # her own request
    await sim.dm(olena, "/tags on wash")
    sim.group.members[mira.id] = FakeMember("administrator")
    await sim.say(mira, "/warn @olena_k please stay on topic")
    now = sim.clock.now()
    with sim.services.db.transaction() as session:  # rows other features make, made directly
        session.add_all(
            [
                Mute(
                    chat_id=GROUP_ID,
                    user_id=olena.id,
                    until=now + timedelta(hours=1),
                    cause="manual",
                    created_at=now,
                ),
                Submission(
                    deadline_id="4w",
                    occurrence_at=now,
                    unit="UNICEF",
                    status="submitted",
                    user_id=olena.id,
                    at=now,
                ),
                ReminderOutbox(
                    deadline_id="4w",
                    occurrence_at=now,
                    user_id=olena.id,
                    kind="before",
                    due_at=now,
                    status="sent",
                ),
                FormRow(  # a half-filled form with a phone number in it
                    user_id=olena.id,
                    chat_id=olena.id,
                    kind="profile",
                    step="phone",
                    serial=1,
                    entered=1,
                    data='{"phone": "+380441234567"}',
                    updated_at=now,
                    expires_at=now + timedelta(hours=1),
                ),
            ]
        )
    held = {
        (Contact, "user_id"): 1,
        (ContactLookup, "user_id"): 1,
        (ContactRequest, "requester_id"): 1,
        (FormRow, "user_id"): 1,
        (MemberWarning, "user_id"): 1,
        (Mute, "user_id"): 1,
        (TagPreference, "user_id"): 1,
        (Submission, "user_id"): 1,
        (ReminderOutbox, "user_id"): 1,
        (ModerationAction, "target_id"): 1,
        (User, "id"): 1,
    }
    for (model, column), at_least in held.items():
        assert count(sim, model, column, olena.id) >= at_least, (model, column)
    # Before: /mydata says what /forgetme would keep, and why.
    mark = sim.mark()
    await sim.dm(olena, "/mydata")
    mydata = "\n".join(m.text for m in sim.since(mark, olena.id))
    assert "What /forgetme keeps, and why" in mydata
    for reason in (
        "Warnings, mutes and the moderation log about you or by you",
        "Your /tags choices: erasing them would put you back into the tags you left",
        "your unit's submissions",
        "Your membership, introduction and join requests",
    ):
        assert reason in mydata, reason
    # A forged press of her button by Petro erases nothing; hers does.
    await sim.dm(olena, "/forgetme")
    prompt = sim.last(olena.id)
    assert "/mydata lists what is kept and why" in prompt.text
    await sim.feed(
        sim.telegram.forged_press(petro.id, olena.id, prompt.message_id, f"ct:fg:{olena.id}")
    )
    assert count(sim, Contact, "user_id", olena.id) == 1
    await sim.press(olena, prompt, "Erase my contact data")
    # Erased (README: contacts, searches, requests, half-filled forms) ...
    for model, column in [
        (Contact, "user_id"),
        (ContactLookup, "user_id"),
        (ContactRequest, "requester_id"),
        (FormRow, "user_id"),
    ]:
        assert count(sim, model, column, olena.id) == 0, (model, column)
    assert rows(sim, ContactRequest) == []  # Petro's request about her went with her entry
    # ... kept, each with the reason /mydata gave.
    for model, column in [
        (MemberWarning, "user_id"),
        (Mute, "user_id"),
        (TagPreference, "user_id"),
        (Submission, "user_id"),
        (ReminderOutbox, "user_id"),
        (User, "id"),
    ]:
        assert count(sim, model, column, olena.id) == 1, model
    assert count(sim, ModerationAction, "target_id", olena.id) >= 1  # the warning's log line
    # The audit about her entry is anonymous; the line "erased" is there.
    disclosures = rows(sim, Disclosure)
    assert all(d.contact_id != cid for d in disclosures)
    assert any(d.channel == "erased" for d in disclosures)
    # A replayed press finds nothing more to erase and breaks nothing.
    await sim.feed(
        sim.telegram.forged_press(olena.id, olena.id, prompt.message_id, f"ct:fg:{olena.id}")
    )
    mark = sim.mark()
    await sim.dm(olena, "/mydata")
    after = "\n".join(m.text for m in sim.since(mark, olena.id))
    assert "No contact entry." in after and "Warnings, mutes and the moderation log" in after


async def test_an_erase_button_erases_once_and_not_after_it_expires(sim: Simulator) -> None:
    """A second or replayed press of a used "Erase" button leaves data stored since then
    alone (here: a moderator's import naming her again); a question older than forms.ttl
    (24 h by default, README) erases nothing."""
    mira = sim.telegram.users[MODERATOR_ID]
    olena = await member(sim, "Olena", "Koval", "olena_k")
    add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF")
    await sim.dm(olena, "/forgetme")
    prompt = sim.last(olena.id)
    await sim.press(olena, prompt, "Erase my contact data")
    assert rows(sim, Contact) == []
    upload = f"name,organisation,user_id\nOlena Koval,UNICEF,{olena.id}\n".encode()
    await sim.feed(sim.telegram.document(mira.id, mira.id, "c.csv", upload))
    await sim.press(mira, sim.last(mira.id), "Import")
    assert [c.user_id for c in rows(sim, Contact)] == [olena.id]
    for _press in range(2):  # a double tap and a client replaying the old button
        await sim.feed(
            sim.telegram.forged_press(olena.id, olena.id, prompt.message_id, f"ct:fg:{olena.id}")
        )
        assert [c.user_id for c in rows(sim, Contact)] == [olena.id]
    assert "Already done" in sim.telegram.calls_to("answerCallbackQuery")[-1]["text"]
    # A fresh question, pressed a day and a minute later: expired, nothing erased.
    await sim.dm(olena, "/forgetme")
    late = sim.last(olena.id)
    sim.clock.advance(timedelta(hours=24, minutes=1))
    await sim.press(olena, late, "Erase my contact data")
    assert [c.user_id for c in rows(sim, Contact)] == [olena.id]
    assert "expired" in sim.telegram.calls_to("answerCallbackQuery")[-1]["text"]
