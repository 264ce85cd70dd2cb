"""The directory machine's base (tests/test_contacts_machine.py): one migrated database for
all its examples, each example's set-up (the bot, its HTTP server with the Mini App's routes,
the people and their entries), driving the bot (commands, presses) and scanning all it sends
against the oracle (tests/contacts_model.py), the model's side of the bot's writes, and the
invariant that the stored facts are the model's. The rules are in tests/contacts_chat_rules.py
(the chat) and tests/test_contacts_machine.py (the Mini App)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant
from sqlalchemy import create_engine, delete, select, text

from config.loader import Environment, LoadedConfig, load_settings
from moderation.clock import FakeClock
from simulation.faketg import FakeMember, FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.contacts import ContactRepository, ContactValues
from storage.models import Base, Contact, ContactGrant
from tests.conftest import EXAMPLE, MODERATOR_ID
from tests.contacts_model import (
    APP_URL,
    CHECKED,
    CLUSTERS,
    FIELDS,
    LEVELS,
    DirectoryOracle,
    Entry,
    World,
)
from web import miniapp
from web.server import HttpServer

SCHEMA: dict[str, str] = {}


def database_url() -> str:
    """One migrated database for all examples (rows are wiped between them)."""
    if "url" in SCHEMA:
        return SCHEMA["url"]
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        schema = f"m_{uuid.uuid4().hex[:12]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        separator = "&" if "?" in server else "?"
        SCHEMA["url"] = f"{server}{separator}options=-csearch_path%3D{schema}"
        SCHEMA["drop"] = schema
    else:
        folder = tempfile.mkdtemp(prefix="directory-machine-")
        SCHEMA["url"] = f"sqlite:///{folder}/machine.sqlite3"
    return SCHEMA["url"]


def drop_database() -> None:
    if "drop" in SCHEMA:
        admin = create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{SCHEMA["drop"]}" CASCADE'))
        admin.dispose()
    SCHEMA.clear()


def wipe(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    engine.dispose()


class DirectoryBase(DirectoryOracle, RuleBasedStateMachine):
    """Everything of the machine but its rules: set-up, driving, scanning, the model's updates
    and the invariant."""

    # ------------------------------------------------------------------ set-up
    @initialize(
        people=st.lists(
            st.tuples(
                st.booleans(),  # a group member?
                st.booleans(),  # has an entry?
                st.fixed_dictionaries({f: st.sampled_from(LEVELS) for f in FIELDS}),
                st.sets(st.sampled_from(CLUSTERS), max_size=2),  # confirmed
                st.sets(st.sampled_from(CLUSTERS), max_size=3),  # self-described
                st.booleans(),  # coordinator
                st.booleans(),  # focal point
            ),
            min_size=3,
            max_size=5,
        ),
        override_on=st.booleans(),
    )
    def build(self, people: list[Any], override_on: bool) -> None:
        url = database_url()
        settings_ = load_settings(EXAMPLE)
        config = LoadedConfig(
            settings=settings_.model_copy(
                update={
                    "moderators": [MODERATOR_ID, MODERATOR_ID + 1],
                    "contacts": settings_.contacts.model_copy(
                        update={"moderator_override": override_on}
                    ),
                    "miniapp": settings_.miniapp.model_copy(update={"url": APP_URL}),
                }
            ),
            path=EXAMPLE,
            environment=Environment(database_url=url, bot_token=None),
        )
        first = "migrated" not in SCHEMA
        if not first:
            wipe(url)
        SCHEMA["migrated"] = "yes"
        loop = asyncio.new_event_loop()
        sim = Simulator(config, FakeClock())
        self.world = world = World(sim=sim, loop=loop, override_on=override_on)
        telegram = sim.telegram
        mira = telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
        marko = telegram.add_user("Marko", "Moderator", "marko_mod", user_id=MODERATOR_ID + 1)
        self.run(sim.start(migrate=first))
        world.server = HttpServer(sim.services, miniapp.routes(sim.app))

        async def serve() -> int:  # tornado listens on the running loop
            assert world.server is not None
            return world.server.start("127.0.0.1", 0)

        world.app_url = f"http://127.0.0.1:{self.run(serve())}"
        for moderator in (mira, marko):
            self.run(sim.dm(moderator, "/start"))
        sim.group.members[marko.id] = FakeMember("member")
        self.run(sim.say(marko, "hello"))
        world.members.add(marko.id)
        for index, (member, has_entry, levels, confirmed, described, coord, focal) in enumerate(
            people
        ):
            person = sim.user(f"User{index}", "Person", f"user{index}name")
            world.public_values.add(f"@user{index}name")
            world.people.append(person)
            if member:
                sim.group.members[person.id] = FakeMember("member")
                self.run(sim.say(person, "hello"))
                world.members.add(person.id)
            self.run(sim.dm(person, "/start"))
            if has_entry:
                self.add_entry(person.id, "given", levels, confirmed, described, coord, focal)
        self.mark = sim.mark()

    def run(self, coroutine: Any) -> Any:
        return self.world.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        world = getattr(self, "world", None)
        if world is not None:
            if world.server is not None:
                self.run(world.server.stop())
            self.run(world.sim.stop())
            world.loop.close()
            assert not world.sim.errors, f"the bot raised: {world.sim.errors!r}"

    def sentinel_values(self, k: int, described: set[str]) -> dict[str, str]:
        return {
            "name": f"Name{k}Zq Kov",
            "organisation": f"Org{k}Zq",
            "role": f"Role{k}Zq",
            "clusters": ", ".join(sorted(described)),
            "location": f"Loc{k}Zq",
            "phone": f"+38044123{k:04d}",
            "email": f"p{k}zq@example.org",
            "telegram": f"@Tg{k}Zqhandle",
            "focal_point": "",
        }

    def add_entry(
        self,
        user_id: int | None,
        consent: str,
        levels: dict[str, str],
        confirmed: set[str],
        described: set[str],
        coordinator: bool,
        focal: bool,
    ) -> Entry:
        world = self.world
        world.counter += 1
        values = self.sentinel_values(world.counter, described)
        now = world.sim.clock.now()
        with world.sim.services.db.transaction() as session:
            repo = ContactRepository(session)
            contact = repo.new(user_id, "profile", now)
            repo.apply(
                contact,
                ContactValues(
                    name=values["name"],
                    organisation=values["organisation"],
                    role=values["role"],
                    clusters=tuple(sorted(described)),
                    location=values["location"],
                    phone=values["phone"],
                    email=values["email"],
                    telegram=values["telegram"],
                    focal_point=focal,
                ),
                now,
            )
            contact.levels = ";".join(f"{k}={v}" for k, v in sorted(levels.items()))
            contact.confirmed_clusters = "|".join(sorted(confirmed))
            contact.cluster_coordinator = coordinator
            contact.consent = consent
            session.flush()
            cid = contact.id
        entry = Entry(
            cid,
            user_id,
            consent,
            values,
            dict(levels),
            {c.casefold() for c in confirmed},
            coordinator,
            focal,
        )
        world.entries[cid] = entry
        return entry

    # ------------------------------------------------------------------ scanning
    def new_messages(self) -> list[SentMessage]:
        sim = self.world.sim
        sent = sim.telegram.sent()[self.mark :]
        self.mark = len(sim.telegram.sent())
        return sent

    def check(self, messages: list[SentMessage]) -> None:
        group_id = self.world.sim.group.id
        for message in messages:
            content = [message.text, *(b.get("text", "") for b in message.buttons())]
            export = False
            if message.document is not None:
                content.append(message.document[1].decode("utf-8-sig", errors="replace"))
                export = message.document[0].startswith("contacts-")
            blob = "\n".join(content)
            viewer = None if message.chat_id == group_id else message.chat_id
            self.scan(blob, viewer, export, f"chat {message.chat_id}")
            self.learn_requests(message)

    def scan(self, blob: str, viewer: int | None, export: bool, where: str) -> None:
        """No value of any entry in ``blob`` unless ``viewer`` may know it (None: everybody)."""
        for entry in self.world.entries.values():
            for name in CHECKED:
                value = entry.values[name]
                if not value or value in self.world.public_values or value not in blob:
                    continue
                assert viewer is not None and self.may_know(viewer, entry, name, export), (
                    f"{name} of entry #{entry.cid} ({value}) reached {where}: {blob[:300]!r}"
                )

    def learn_requests(self, message: SentMessage) -> None:
        for button in message.buttons():
            data = button.get("callback_data", "")
            if data.startswith("ct:y:"):
                rid = int(data.split(":")[2])
                if rid not in self.world.requests:
                    raise AssertionError(f"request #{rid} appeared without a valid ask")

    def step(self, coroutine: Any) -> list[SentMessage]:
        self.run(coroutine)
        messages = self.new_messages()
        self.check(messages)
        return messages

    def press(self, user: FakeUser, message: SentMessage, data: str) -> list[SentMessage]:
        self.world.pressed[user.id] = (message.chat_id, message.message_id, data)
        sim = self.world.sim
        return self.step(
            sim.feed(sim.telegram.forged_press(user.id, message.chat_id, message.message_id, data))
        )

    def command(self, user: FakeUser, text_: str) -> list[SentMessage]:
        sim = self.world.sim

        async def send() -> None:
            self.world.commands[user.id] = await sim.dm(user, text_)

        return self.step(send())

    def user(self, index: int) -> FakeUser:
        return self.world.people[index % len(self.world.people)]

    def entry(self, index: int) -> Entry | None:
        entries = sorted(self.world.entries.values(), key=lambda e: e.cid)
        return entries[index % len(entries)] if entries else None

    def moderator(self, second: bool) -> FakeUser:
        return self.world.sim.telegram.users[MODERATOR_ID + (1 if second else 0)]

    def learn_asks(
        self, user: FakeUser, entry: Entry, questions: list[SentMessage], before: set[int]
    ) -> None:
        world = self.world
        for question in questions:
            data = next(
                b["callback_data"] for b in question.buttons() if b["callback_data"][:5] == "ct:y:"
            )
            rid = int(data.split(":")[2])
            assert rid not in before
            world.requests[rid] = (user.id, entry.cid, world.sim.clock.now())
            world.open_requests.add(rid)

    def grant_key(self, grant_id: int) -> tuple[int, int, set[str]]:
        with self.world.sim.services.db.transaction() as session:
            row = session.get(ContactGrant, grant_id)
            assert row is not None, grant_id
            return row.requester_id, row.contact_id, set(row.fields.split(",")) - {""}

    def take_back(self, key: tuple[int, int, set[str]]) -> None:
        """The model's side of a taken-back share (as the chat's /mydata button)."""
        for grant in self.world.grants:
            same = (grant.requester, grant.cid, grant.fields) == key
            if same and grant.kind == "consent" and not grant.revoked:
                grant.revoked = True
                break

    def erase(self, user: FakeUser) -> None:
        """The model's side of /forgetme's erasure (the chat's button and the Mini App's)."""
        world = self.world
        entry = self.entry_of(user.id)
        if entry is not None:
            del world.entries[entry.cid]
            world.grants = [g for g in world.grants if g.cid != entry.cid]
        world.grants = [g for g in world.grants if g.requester != user.id]
        for rid, (requester, cid, _created) in list(world.requests.items()):
            if requester == user.id or (entry is not None and cid == entry.cid):
                # Erased with the person (its number never comes back: AUTOINCREMENT).
                world.open_requests.discard(rid)
                del world.requests[rid]

    # ------------------------------------------------------------------ invariants
    @invariant()
    def facts_match_the_model(self) -> None:
        world = getattr(self, "world", None)
        if world is None:
            return
        with world.sim.services.db.transaction() as session:
            stored = {c.id: c for c in session.scalars(select(Contact))}
            assert set(stored) == set(world.entries)
            for cid, entry in world.entries.items():
                contact = stored[cid]
                assert contact.user_id == entry.user_id, cid
                assert contact.consent == entry.consent, cid
                assert {c.casefold() for c in contact.confirmed_clusters.split("|") if c} == (
                    entry.confirmed
                )
                defaults = world.sim.services.settings.contacts.levels
                levels = {f: getattr(defaults, f) for f in FIELDS} | dict(
                    part.split("=", 1) for part in contact.levels.split(";") if "=" in part
                )
                assert levels == entry.levels, cid
            active = {
                (g.requester_id, g.contact_id, g.kind, g.fields)
                for g in session.scalars(
                    select(ContactGrant).where(ContactGrant.revoked_at.is_(None))
                )
            }
        expected = {
            (g.requester, g.cid, g.kind, ",".join(f for f in FIELDS if f in g.fields))
            for g in world.grants
            if not g.revoked
        }
        assert active == expected
