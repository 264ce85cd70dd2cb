"""The directory machine's rules in the chat (tests/test_contacts_machine.py): /contact
searches, asks (/ask and the button) and the owner's answer, take-backs from /mydata, overrides
with the setting flipped and a moderator demoted, time passing, /export and /members csv, CSV
imports with and without user ids and with recycled usernames, the listing question, /link,
/clusters, the /profile form's levels, forged and replayed buttons, edited commands and
/forgetme."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import rule
from sqlalchemy import select

from simulation.faketg import SentMessage
from storage.models import Contact
from tests.conftest import MODERATOR_ID
from tests.contacts_machine import DirectoryBase
from tests.contacts_model import (
    CLUSTERS,
    FIELDS,
    LEVELS,
    NOTES,
    OVERRIDE_EXPIRY,
    REQUEST_TIMEOUT,
    Entry,
    GrantModel,
)


def form_button(message: SentMessage, value: str) -> str:
    """The data of the /profile form's button for ``value`` (``pl:<serial>:<value>``)."""
    [data] = [
        str(b["callback_data"])
        for b in message.buttons()
        if str(b.get("callback_data", "")).startswith("pl:")
        and str(b["callback_data"]).rsplit(":", 1)[-1] == value
    ]
    return data


class ChatRules(DirectoryBase):
    """The rules that go through the bot's chats; the Mini App's complete the machine."""

    # ------------------------------------------------------------------ rules
    @rule(viewer=st.integers(0, 4), pick=st.integers(0, 9), moderator=st.booleans())
    def search(self, viewer: int, pick: int, moderator: bool) -> None:
        entry = self.entry(pick)
        if entry is None:
            return
        user = self.moderator(False) if moderator else self.user(viewer)
        self.command(user, f"/contact {entry.values['name'].lower()}")

    @rule(
        viewer=st.integers(0, 4),
        pick=st.integers(0, 9),
        note=st.sampled_from(NOTES),
        by_button=st.booleans(),
    )
    def ask(self, viewer: int, pick: int, note: str, by_button: bool) -> None:
        entry = self.entry(pick)
        if entry is None:
            return
        user = self.user(viewer)
        world = self.world
        expected = self.ask_accepted(user, entry)
        if entry.user_id is not None:
            world.asked_by.setdefault(entry.user_id, set()).add(user.id)
        # Whatever the bot sends the owner is learnt before the scan (the request number).
        before = {r for r in world.requests}
        sim = world.sim
        if by_button:
            last = sim.telegram.sent(user.id)[-1]
            self.run(
                sim.feed(
                    sim.telegram.forged_press(
                        user.id, user.id, last.message_id, f"ct:ask:{entry.cid}"
                    )
                )
            )
        else:
            self.run(sim.dm(user, f"/ask {entry.cid} {note}".strip()))
        messages = self.new_messages()
        questions = [
            m
            for m in messages
            if any(b.get("callback_data", "").startswith("ct:y:") for b in m.buttons())
        ]
        if not expected:
            assert not questions, f"an ask that must be refused reached #{entry.cid}"
        self.learn_asks(user, entry, questions, before)
        self.check(messages)

    @rule(owner=st.integers(0, 4), share=st.booleans(), toggle=st.sampled_from([None, *FIELDS]))
    def answer(self, owner: int, share: bool, toggle: str | None) -> None:
        user = self.user(owner)
        world = self.world
        question = next(
            (
                m
                for m in reversed(world.sim.telegram.sent(user.id))
                if any(b.get("callback_data", "").startswith("ct:y:") for b in m.buttons())
            ),
            None,
        )
        if question is None:
            return
        share_data = next(
            b["callback_data"] for b in question.buttons() if b["callback_data"][:5] == "ct:y:"
        )
        rid = int(share_data.split(":")[2])
        offered = {
            b["callback_data"].split(":")[5]  # ct:t:<request>:<requester>:<mask>:<field>
            for b in question.buttons()
            if b["callback_data"].startswith("ct:t:")
        }
        if toggle is not None and str(FIELDS.index(toggle)) in offered:
            toggle_data = next(
                b["callback_data"]
                for b in question.buttons()
                if b["callback_data"].startswith("ct:t:")
                and b["callback_data"].split(":")[5] == str(FIELDS.index(toggle))
            )
            self.press(user, question, toggle_data)
            share_data = next(
                b["callback_data"] for b in question.buttons() if b["callback_data"][:5] == "ct:y:"
            )
        decline = next(
            b["callback_data"] for b in question.buttons() if b["callback_data"][:5] == "ct:n:"
        )
        if rid not in world.requests:  # erased by /forgetme: the bot must refuse it
            self.press(user, question, share_data if share else decline)
            return
        requester, cid, created = world.requests[rid]
        still_open = (
            rid in world.open_requests
            and world.sim.clock.now() < created + REQUEST_TIMEOUT
            and cid in world.entries
        )
        if share and still_open:
            mask = int(share_data.split(":")[4])  # ct:y:<request>:<requester>:<mask>
            chosen = {name for i, name in enumerate(FIELDS) if mask >> i & 1}
            entry = world.entries[cid]
            chosen &= {
                f for f in FIELDS if entry.values.get(f) or (f == "focal_point" and entry.focal)
            }
            world.grants.append(GrantModel(requester, cid, chosen, "consent"))
        if still_open:
            world.open_requests.discard(rid)
        self.press(user, question, share_data if share else decline)

    @rule(owner=st.integers(0, 4))
    def revoke(self, owner: int) -> None:
        user = self.user(owner)
        messages = self.command(user, "/mydata")
        buttons = [
            b for m in messages for b in m.buttons() if b.get("callback_data", "")[:6] == "ct:rv:"
        ]
        if not buttons:
            return
        gid = int(buttons[0]["callback_data"].split(":")[2])
        self.take_back(self.grant_key(gid))
        message = next(m for m in messages if buttons[0] in m.buttons())
        self.press(user, message, buttons[0]["callback_data"])

    @rule(pick=st.integers(0, 9), second=st.booleans(), only_phone=st.booleans())
    def override(self, pick: int, second: bool, only_phone: bool) -> None:
        entry = self.entry(pick)
        if entry is None:
            return
        moderator = self.moderator(second)
        world = self.world
        if world.override_on and self.is_moderator(moderator.id) and entry.consent == "given":
            fields = {"phone"} if only_phone else set(FIELDS)
            expires = world.sim.clock.now() + OVERRIDE_EXPIRY
            world.grants.append(GrantModel(moderator.id, entry.cid, fields, "override", expires))
        scope = "phone " if only_phone else ""
        self.command(moderator, f"/override {entry.cid} {scope}evacuation of the field team")

    @rule()
    def flip_overrides(self) -> None:
        world = self.world
        world.override_on = not world.override_on
        self.reconfigure()

    @rule()
    def flip_second_moderator(self) -> None:
        self.world.second_moderator = not self.world.second_moderator
        self.reconfigure()

    def reconfigure(self) -> None:
        world = self.world
        services = world.sim.services
        current = services.settings
        moderators = [MODERATOR_ID] + ([MODERATOR_ID + 1] if world.second_moderator else [])
        new = current.model_copy(
            update={
                "moderators": moderators,
                "contacts": current.contacts.model_copy(
                    update={"moderator_override": world.override_on}
                ),
            }
        )
        services.config = dataclasses.replace(services.config, settings=new)

    @rule(hours=st.sampled_from([1, 30, 73, 24 * 8]))
    def advance(self, hours: int) -> None:
        world = self.world
        self.step(world.sim.advance(timedelta(hours=hours)))
        now = world.sim.clock.now()
        for rid in list(world.open_requests):
            if world.requests[rid][2] + REQUEST_TIMEOUT <= now:
                world.open_requests.discard(rid)

    @rule(second=st.booleans())
    def export(self, second: bool) -> None:
        self.command(self.moderator(second), "/export for the inter-cluster coordination meeting")

    @rule(second=st.booleans())
    def members_csv(self, second: bool) -> None:
        self.command(self.moderator(second), "/members csv")

    @rule(
        rows=st.lists(
            st.tuples(st.booleans(), st.booleans(), st.sets(st.sampled_from(CLUSTERS))),
            min_size=1,
            max_size=2,
        )
    )
    def import_csv(self, rows: list[tuple[bool, bool, set[str]]]) -> None:
        """Rows: (with the user id of someone without an entry, with a recycled username)."""
        world = self.world
        sim = world.sim
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "name",
                "organisation",
                "role",
                "clusters",
                "location",
                "phone",
                "email",
                "telegram",
                "user_id",
            ]
        )
        planned: list[tuple[int | None, dict[str, str], set[str]]] = []
        taken = {e.user_id for e in world.entries.values()}
        for with_id, recycled, clusters in rows:
            world.counter += 1
            values = self.sentinel_values(world.counter, clusters)
            free = [p.id for p in world.people if p.id not in taken]
            user_id = free[0] if with_id and free else None
            if user_id is not None:
                taken.add(user_id)
            if recycled:  # somebody else holds this username now
                holder = world.people[world.counter % len(world.people)]
                values["telegram"] = "@" + (holder.username or "")
            if any(values["telegram"] == e.values["telegram"] for e in world.entries.values()):
                values["telegram"] = f"@Tg{world.counter}Zqhandle"
            writer.writerow(
                [
                    values["name"],
                    values["organisation"],
                    values["role"],
                    "|".join(clusters),
                    values["location"],
                    values["phone"],
                    values["email"],
                    values["telegram"],
                    user_id or "",
                ]
            )
            planned.append((user_id, values, clusters))
        moderator = self.moderator(False)
        self.step(
            sim.feed(
                sim.telegram.document(moderator.id, moderator.id, "c.csv", out.getvalue().encode())
            )
        )
        dry_run = sim.last(moderator.id)
        data = next(b["callback_data"] for b in dry_run.buttons() if b["text"] == "Import")
        self.press(moderator, dry_run, data)
        with sim.services.db.transaction() as session:
            for user_id, values, clusters in planned:
                contact = session.scalars(
                    select(Contact).where(Contact.email == values["email"])
                ).one()
                assert contact.user_id == user_id  # never linked by a username
                world.entries[contact.id] = Entry(
                    contact.id,
                    user_id,
                    "pending",
                    values,
                    {f: getattr(sim.services.settings.contacts.levels, f) for f in FIELDS},
                    {c.casefold() for c in clusters},
                    imported=True,
                )

    @rule(person=st.integers(0, 4), yes=st.booleans())
    def start_and_answer(self, person: int, yes: bool) -> None:
        """/start, then answer the latest listing question the person has (if any)."""
        user = self.user(person)
        self.command(user, "/start")
        for message in reversed(self.world.sim.telegram.sent(user.id)):
            for button in message.buttons():
                data = button.get("callback_data", "")
                if data.startswith("ct:cy:" if yes else "ct:cn:"):
                    entry = self.world.entries.get(int(data.split(":")[2]))
                    if entry is None or entry.consent != "pending":
                        return
                    assert entry.user_id == user.id, "asked about an entry not linked to them"
                    entry.consent = "given" if yes else "declined"
                    self.press(user, message, data)
                    return

    @rule(pick=st.integers(0, 9), person=st.integers(0, 4))
    def link(self, pick: int, person: int) -> None:
        entry, user = self.entry(pick), self.user(person)
        if entry is None:
            return
        if entry.user_id is None and self.entry_of(user.id) is None:
            entry.user_id = user.id
        self.command(self.moderator(False), f"/link {entry.cid} {user.id}")

    @rule(pick=st.integers(0, 9), clusters=st.sets(st.sampled_from(CLUSTERS), max_size=2))
    def assign(self, pick: int, clusters: set[str]) -> None:
        entry = self.entry(pick)
        if entry is None:
            return
        entry.confirmed = {c.casefold() for c in clusters}
        self.command(self.moderator(False), f"/clusters {entry.cid} {', '.join(clusters) or '-'}")

    @rule(person=st.integers(0, 4), name=st.sampled_from(FIELDS), times=st.integers(1, 3))
    def profile_levels(self, person: int, name: str, times: int) -> None:
        """The real /profile form: keep every value, turn one level ``times`` steps."""
        user = self.user(person)
        entry = self.entry_of(user.id)
        if entry is None:
            return
        self.command(user, "/profile")
        for _ in FIELDS:
            self.command(user, "/skip")
        for _ in range(times):
            form = self.world.sim.last(user.id)
            self.press(user, form, form_button(form, name))
        entry.levels[name] = LEVELS[(LEVELS.index(entry.levels[name]) + times) % len(LEVELS)]
        entry.consent = "given"
        form = self.world.sim.last(user.id)
        self.press(user, form, form_button(form, "save"))

    @rule(presser=st.integers(0, 4), kind=st.integers(0, 5), pick=st.integers(0, 9))
    def forged(self, presser: int, kind: int, pick: int) -> None:
        """Button data the presser is not entitled to; nothing may change."""
        user = self.user(presser)
        entry = self.entry(pick)
        world = self.world
        other = next((p for p in world.people if p.id != user.id), user)
        rid = max(world.requests, default=1)
        forged_data = [
            f"ct:cy:{entry.cid if entry and entry.user_id != user.id else 0}",
            f"ct:lk:{entry.cid if entry else 0}:{user.id}",
            f"ct:y:{rid}:{world.requests.get(rid, (0, 0))[0]}:511"
            if world.requests.get(rid, (0, 0))[1]
            not in {e.cid for e in world.entries.values() if e.user_id == user.id}
            else "ct:y:0:0:511",
            f"ct:fg:{other.id}",
            f"ct:rv:{len(world.grants) + 50}",
            f"ct:t:{rid}:{world.requests.get(rid, (0, 0))[0]}:511:5",
        ][kind]
        last = world.sim.telegram.sent(user.id)[-1]
        self.press(user, last, forged_data)

    @rule(person=st.integers(0, 4))
    def replay(self, person: int) -> None:
        """The same button pressed again (a double tap, or after the answer)."""
        user = self.user(person)
        if user.id not in self.world.pressed:
            return
        chat_id, message_id, data = self.world.pressed[user.id]
        if data.startswith(("ct:cy:", "ct:cn:", "ct:ask:", "ct:t:", "pl:")):
            return  # entitled and idempotent, or a form that is gone: covered elsewhere
        sim = self.world.sim
        self.step(sim.feed(sim.telegram.forged_press(user.id, chat_id, message_id, data)))

    @rule(person=st.integers(0, 4), pick=st.integers(0, 9))
    def edit_a_command(self, person: int, pick: int) -> None:
        """An earlier command edited into a search for someone else."""
        user = self.user(person)
        entry = self.entry(pick)
        said = self.world.commands.get(user.id)
        if said is None or entry is None:
            return
        self.world.update_id += 1
        query = f"/contact {entry.values['organisation'].lower()}"
        edited = said["message"] | {"text": query, "edit_date": 1}
        self.step(
            self.world.sim.feed({"update_id": self.world.update_id, "edited_message": edited})
        )

    @rule(person=st.integers(0, 4))
    def forget(self, person: int) -> None:
        user = self.user(person)
        messages = self.command(user, "/forgetme")
        self.erase(user)
        message = messages[-1]
        self.press(user, message, f"ct:fg:{user.id}")
