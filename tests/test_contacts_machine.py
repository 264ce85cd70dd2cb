"""The directory's promise as a stateful property of the whole bot.

A hypothesis ``RuleBasedStateMachine`` drives the real Application through the fake Bot API on a
real database: members, non-members and moderators; entries with random sharing levels and
confirmed clusters; CSV imports with and without user ids and with recycled usernames; /link and
/assign; overrides with the setting flipped, a moderator demoted and time passing; asks, shares,
revocations; forged and replayed buttons; edited commands; /forgetme; searches in the Mini App,
its asks, and levels, take-backs (own and forged) and erasures on its profile screen, each write
also replayed with the same initData, through the bot's HTTP server. After every step every
message, button label and document the bot sent, and every Mini App answer, is scanned for every
entry's values, and each one found must be one its recipient may see.

The oracle (``may_know``) is written from seed 004 and the README's lattice table, over facts
the model keeps itself; it never calls moderation.contacts.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import create_engine, delete, select, text

from config.loader import Environment, LoadedConfig, load_settings
from moderation.clock import FakeClock
from simulation.faketg import FakeMember, FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.contacts import ContactRepository, ContactValues
from storage.models import Base, Contact, ContactGrant
from tests.conftest import EXAMPLE, MODERATOR_ID
from tests.miniapp import auth, init_data
from web import miniapp
from web.server import HttpServer

EXAMPLES = int(os.environ.get("DIRECTORY_MACHINE_EXAMPLES", "25"))
STEPS = 25

LEVELS = ("public", "cluster", "coordinators", "private")
FIELDS = (
    "name",
    "organisation",
    "role",
    "clusters",
    "location",
    "phone",
    "email",
    "telegram",
    "focal_point",
)
CHECKED = ("name", "organisation", "role", "location", "phone", "email", "telegram")
SEARCHABLE = ("name", "organisation", "role", "clusters", "location")
FOCAL_POINT_FIELDS = {"name", "organisation", "focal_point", "phone", "email", "telegram"}
CLUSTERS = ("WASH", "Protection", "Health")
DEFAULT_SHARE = {"name", "organisation", "telegram"}
NOTES = ["", "<b>urgent</b> & <i>x</i>", "\u202eevil", "zero\u200bwidth", "ok, thanks"]
REQUEST_TIMEOUT = timedelta(hours=72)
APP_URL = "https://bot.example.org/app"
OVERRIDE_EXPIRY = timedelta(days=7)


@dataclass
class Entry:
    cid: int
    user_id: int | None
    consent: str
    values: dict[str, str]
    levels: dict[str, str]
    confirmed: set[str]
    coordinator: bool = False
    focal: bool = False
    imported: bool = False


@dataclass
class GrantModel:
    requester: int
    cid: int
    fields: set[str]
    kind: str
    expires: datetime | None = None
    revoked: bool = False


@dataclass
class World:
    sim: Simulator
    loop: asyncio.AbstractEventLoop
    people: list[FakeUser] = field(default_factory=list)
    members: set[int] = field(default_factory=set)
    entries: dict[int, Entry] = field(default_factory=dict)
    grants: list[GrantModel] = field(default_factory=list)
    # request id → (requester, entry id, created)
    requests: dict[int, tuple[int, int, datetime]] = field(default_factory=dict)
    open_requests: set[int] = field(default_factory=set)
    asked_by: dict[int, set[int]] = field(default_factory=dict)  # owner → requesters
    public_values: set[str] = field(default_factory=set)  # Telegram usernames
    override_on: bool = False
    second_moderator: bool = True
    counter: int = 0
    taps: int = 0  # the profile screen's taps (each carries a fresh nonce, as the page does)
    # The Mini App's writes accepted once (README "Replays"): (person, the clock when their
    # initData was signed, path, body). The same initData is signed at the same clock time.
    writes: set[tuple[int, datetime, str, str]] = field(default_factory=set)
    update_id: int = 900_000
    pressed: dict[int, tuple[int, int, str]] = field(default_factory=dict)  # last press
    commands: dict[int, dict[str, Any]] = field(default_factory=dict)  # last command
    server: HttpServer | None = None  # the bot's HTTP server with the Mini App's routes
    app_url: str = ""


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


def form_button(message: SentMessage, value: str) -> str:
    """The data of the /profile form's button for ``value`` (``pl:<serial>:<value>``)."""
    [data] = [
        str(b["callback_data"])
        for b in message.buttons()
        if str(b.get("callback_data", "")).startswith("pl:")
        and str(b["callback_data"]).rsplit(":", 1)[-1] == value
    ]
    return data


class DirectoryMachine(RuleBasedStateMachine):
    world: World

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

    # ------------------------------------------------------------------ the oracle
    def is_moderator(self, user_id: int) -> bool:
        return user_id == MODERATOR_ID or (
            user_id == MODERATOR_ID + 1 and self.world.second_moderator
        )

    def entry_of(self, user_id: int) -> Entry | None:
        return next((e for e in self.world.entries.values() if e.user_id == user_id), None)

    def may_know(self, viewer: int, entry: Entry, name: str, export: bool = False) -> bool:
        """From seed 004 and the README's table; see the module docstring."""
        world = self.world
        if entry.user_id == viewer:
            return True
        for grant in world.grants:
            if grant.revoked or grant.requester != viewer or grant.cid != entry.cid:
                continue
            if name not in grant.fields:
                continue
            if grant.kind == "consent":
                return True
            if (
                not export
                and world.override_on
                and self.is_moderator(viewer)
                and grant.expires is not None
                and world.sim.clock.now() < grant.expires
                and entry.consent == "given"
            ):
                return True
        if (
            entry.user_id is not None
            and entry.user_id in world.asked_by.get(viewer, set())
            and name in ("name", "organisation")
        ):
            return True  # whoever asks you to be put in touch introduces themselves
        requester_entry = self.entry_of(viewer)
        if entry.consent != "given":
            # Moderators decide claims of unlinked imported entries: they see who it names.
            return (
                self.is_moderator(viewer)
                and entry.imported
                and entry.user_id is None
                and name in ("name", "organisation", "telegram")
            )
        if not (viewer in world.members or self.is_moderator(viewer)):
            return False
        rank = LEVELS.index(entry.levels[name])
        if self.is_moderator(viewer):
            return rank <= 2
        mine = requester_entry
        same = mine is not None and bool(mine.confirmed & entry.confirmed)
        coordinator = mine is not None and mine.coordinator
        if coordinator and same:
            return rank <= 2
        if coordinator and (name == "organisation" or (entry.focal and name in FOCAL_POINT_FIELDS)):
            return rank <= 2
        if same:
            return rank <= 1
        return rank == 0

    def findable(self, viewer: int, entry: Entry) -> bool:
        if entry.consent != "given":
            return False
        return any(
            self.may_know(viewer, entry, name)
            and sum(ch.isalnum() for ch in entry.values[name]) >= 3
            for name in SEARCHABLE
        )

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

    def app_post(self, user: FakeUser, path: str, body: str, times: int) -> list[tuple[int, str]]:
        """``body`` POSTed ``times`` times with one initData (the same opening of the app)."""
        world = self.world

        async def post() -> list[tuple[int, str]]:
            headers = auth(init_data(world.sim, user)) | {"Content-Type": "application/json"}
            answers = []
            async with httpx.AsyncClient(base_url=world.app_url, timeout=10) as client:
                for _ in range(times):
                    sent = await client.post(path, content=body.encode(), headers=headers)
                    answers.append((sent.status_code, sent.text))
            return answers

        return list(self.run(post()))

    def app_profile(self, user: FakeUser) -> tuple[int, str]:
        world = self.world

        async def get() -> tuple[int, str]:
            headers = auth(init_data(world.sim, user))
            async with httpx.AsyncClient(base_url=world.app_url, timeout=10) as client:
                shown = await client.get("/app/api/profile", headers=headers)
            return shown.status_code, shown.text

        status, text_ = self.run(get())
        return int(status), str(text_)

    def first_write(self, user: FakeUser, path: str, body: str) -> bool:
        """Whether this write is new (README "Replays"), remembering it; call only for a write
        the app accepts for checking (a member's, well formed)."""
        key = (user.id, self.world.sim.clock.now(), path, body)
        fresh = key not in self.world.writes
        self.world.writes.add(key)
        return fresh

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
        moderator=st.booleans(),
        field_=st.sampled_from(SEARCHABLE),
    )
    def app_search(self, viewer: int, pick: int, moderator: bool, field_: str) -> None:
        """The Mini App's directory search (the bot's HTTP server, initData signed as Telegram
        does): its JSON is outgoing data too, scanned like every message."""
        entry = self.entry(pick)
        if entry is None or not entry.values[field_]:
            return
        world = self.world
        user = self.moderator(False) if moderator else self.user(viewer)
        query = entry.values[field_].split(",")[0].lower()

        async def get() -> tuple[int, str]:
            headers = auth(init_data(world.sim, user))
            async with httpx.AsyncClient(base_url=world.app_url, timeout=10) as client:
                found = await client.get("/app/api/directory", params={"q": query}, headers=headers)
                mine = await client.get("/app/api/me", headers=headers)
            return found.status_code, found.text + "\n" + mine.text

        status, body = self.run(get())
        assert status in (200, 403), (status, body[:300])
        self.scan(body, user.id, False, f"the Mini App of {user.id}")

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

    def ask_accepted(self, user: FakeUser, entry: Entry) -> bool:
        """README "Put me in touch": findable, someone else's, once while open, at most 5."""
        world = self.world
        pending = [r for r in world.open_requests if world.requests[r][0] == user.id]
        return (
            (user.id in world.members or self.is_moderator(user.id))
            and self.findable(user.id, entry)
            and entry.user_id not in (None, user.id)
            and not any(world.requests[r][1] == entry.cid for r in pending)
            and len(pending) < 5
        )

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

    @rule(
        viewer=st.integers(0, 4),
        pick=st.integers(0, 9),
        note=st.sampled_from(NOTES),
        replayed=st.booleans(),
    )
    def app_ask(self, viewer: int, pick: int, note: str, replayed: bool) -> None:
        """The Mini App's "Ask to be put in touch" (``POST /app/api/ask``, /ask's own ``ask``),
        sent again with the same initData when ``replayed``: the replay is refused (409) and
        changes nothing."""
        entry = self.entry(pick)
        if entry is None:
            return
        user = self.user(viewer)
        world = self.world
        path = "/app/api/ask"
        body = json.dumps({"id": entry.cid, "note": note})
        member = user.id in world.members or self.is_moderator(user.id)
        fresh = member and self.first_write(user, path, body)
        expected = fresh and self.ask_accepted(user, entry)
        if fresh and entry.user_id is not None:
            world.asked_by.setdefault(entry.user_id, set()).add(user.id)
        before = set(world.requests)
        answers = self.app_post(user, path, body, 2 if replayed else 1)
        messages = self.new_messages()
        questions = [
            m
            for m in messages
            if any(b.get("callback_data", "").startswith("ct:y:") for b in m.buttons())
        ]
        for number, (status, text_) in enumerate(answers):
            if not member:
                assert status == 403, (status, text_[:300])
            elif number == 0 and expected:
                assert status == 200, (status, text_[:300])
            else:  # refused by ask(), or a replay
                assert status == 409, (number, fresh, status, text_[:300])
            self.scan(text_, user.id, False, f"the Mini App's ask answer to {user.id}")
        assert len(questions) == (1 if expected else 0), (expected, len(questions))
        assert all(q.chat_id == entry.user_id for q in questions)
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

    @rule(owner=st.integers(0, 4), pick=st.integers(0, 9), replayed=st.booleans())
    def app_revoke(self, owner: int, pick: int, replayed: bool) -> None:
        """The profile screen's *Take back* (``POST /app/api/profile/revoke``, the chat's
        ``take_back``) for one of the shares the screen lists; the screen must list exactly the
        owner's live shares."""
        user = self.user(owner)
        world = self.world
        status, shown = self.app_profile(user)
        self.scan(shown, user.id, False, f"the profile screen of {user.id}")
        if user.id not in world.members:
            assert status == 403, (status, shown[:300])
            return
        assert status == 200, (status, shown[:300])
        entry = self.entry_of(user.id)
        shares = [int(s["id"]) for s in json.loads(shown)["shares"]]
        listed = sorted((k[0], k[1], sorted(k[2])) for k in map(self.grant_key, shares))
        live = sorted(
            (g.requester, g.cid, sorted(g.fields))
            for g in world.grants
            if entry is not None and g.cid == entry.cid and g.kind == "consent" and not g.revoked
        )
        assert listed == live, (listed, live)
        if not shares:
            return
        gid = shares[pick % len(shares)]
        path = "/app/api/profile/revoke"
        body = json.dumps({"id": gid})
        fresh = self.first_write(user, path, body)
        if fresh:
            self.take_back(self.grant_key(gid))
        answers = self.app_post(user, path, body, 2 if replayed else 1)
        for number, (status, text_) in enumerate(answers):
            expected = 200 if fresh and number == 0 else 409
            assert status == expected, (number, status, text_[:300])
            self.scan(text_, user.id, False, f"the Mini App's take-back answer to {user.id}")
        self.check(self.new_messages())

    @rule(person=st.integers(0, 4), pick=st.integers(0, 9))
    def app_revoke_forged(self, person: int, pick: int) -> None:
        """A take-back of a share that is not the caller's (someone else's, one already taken
        back, or none at all): refused, nothing changes."""
        user = self.user(person)
        world = self.world
        own = self.entry_of(user.id)
        with world.sim.services.db.transaction() as session:
            rows = [
                (g.id, g.contact_id, g.revoked_at) for g in session.scalars(select(ContactGrant))
            ]
        candidates = sorted(
            gid
            for gid, cid, revoked_at in rows
            if own is None or cid != own.cid or revoked_at is not None
        )
        candidates.append(max((r[0] for r in rows), default=0) + 50)
        path = "/app/api/profile/revoke"
        body = json.dumps({"id": candidates[pick % len(candidates)]})
        member = user.id in world.members
        if member:
            self.first_write(user, path, body)
        [(status, text_)] = self.app_post(user, path, body, 1)
        assert status == (409 if member else 403), (status, text_[:300])
        self.scan(text_, user.id, False, f"the Mini App's take-back answer to {user.id}")
        self.check(self.new_messages())

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

    @rule(person=st.integers(0, 4), name=st.sampled_from(FIELDS), level=st.sampled_from(LEVELS))
    def app_level(self, person: int, name: str, level: str) -> None:
        """The Mini App's profile screen: one detail's level set by a tap (a POST to the bot's
        HTTP server), then the screen read back; its JSON is scanned like every message."""
        world = self.world
        user = self.user(person)
        entry = self.entry_of(user.id)
        world.taps += 1
        tap = {"field": name, "level": level, "nonce": str(world.taps)}

        async def post() -> tuple[int, str]:
            headers = auth(init_data(world.sim, user))
            async with httpx.AsyncClient(base_url=world.app_url, timeout=10) as client:
                saved = await client.post("/app/api/profile/level", json=tap, headers=headers)
                shown = await client.get("/app/api/profile", headers=headers)
            return saved.status_code, saved.text + "\n" + shown.text

        status, body = self.run(post())
        if user.id not in world.members:
            assert status == 403, (status, body[:300])
        elif entry is None:
            assert status == 409, (status, body[:300])
        else:
            assert status == 200, (status, body[:300])
            entry.levels[name] = level  # consent unchanged: a level is not an opt-in
        self.scan(body, user.id, False, f"the profile screen of {user.id}")

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

    @rule(person=st.integers(0, 4), replayed=st.booleans())
    def app_forget(self, person: int, replayed: bool) -> None:
        """The profile screen's *Erase my contact data* (``POST /app/api/profile/forget``,
        /forgetme's ``erase``); a replay with the same initData erases nothing more."""
        user = self.user(person)
        world = self.world
        path = "/app/api/profile/forget"
        body = json.dumps({"confirm": True})
        member = user.id in world.members
        fresh = member and self.first_write(user, path, body)
        if fresh:
            self.erase(user)
        answers = self.app_post(user, path, body, 2 if replayed else 1)
        for number, (status, text_) in enumerate(answers):
            if not member:
                assert status == 403, (status, text_[:300])
            else:
                expected = 200 if fresh and number == 0 else 409
                assert status == expected, (number, status, text_[:300])
            self.scan(text_, user.id, False, f"the Mini App's erasure answer to {user.id}")
        if fresh:
            shown = json.loads(answers[0][1])
            assert not shown["entry"] and not shown["shares"], answers[0][1][:300]
        self.check(self.new_messages())

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


def test_the_directory_never_shows_anyone_more_than_the_lattice_allows() -> None:
    try:
        DirectoryMachine.TestCase.settings = settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        DirectoryMachine.TestCase().runTest()
    finally:
        drop_database()


def test_the_app_asks_takes_back_and_erases_through_the_machine() -> None:
    """One fixed program through the Mini App's writes (random programs rarely reach a share
    to take back): an ask and its replay, a share, the take-back and its replay, the same ask
    body again with the same initData (a replay), a new ask, forged take-backs, an erasure and
    its replay; the invariant after each write."""
    levels = dict.fromkeys(FIELDS, "public")
    machine = DirectoryMachine()
    try:
        machine.build(
            people=[(True, True, levels, set(), set(), False, False)] * 3, override_on=False
        )
        machine.app_ask(viewer=0, pick=1, note="hi", replayed=True)
        assert len(machine.world.requests) == 1
        machine.answer(owner=1, share=True, toggle="phone")
        machine.facts_match_the_model()
        assert [g.fields for g in machine.world.grants] == [DEFAULT_SHARE | {"phone"}]
        machine.app_revoke(owner=1, pick=0, replayed=True)
        assert all(g.revoked for g in machine.world.grants)
        machine.facts_match_the_model()
        machine.app_ask(viewer=0, pick=1, note="hi", replayed=False)
        assert len(machine.world.requests) == 1
        machine.app_ask(viewer=0, pick=1, note="again", replayed=False)
        assert len(machine.world.requests) == 2
        machine.answer(owner=1, share=True, toggle=None)
        for person in (0, 1, 2):
            machine.app_revoke_forged(person=person, pick=person)
            machine.facts_match_the_model()
        machine.app_forget(person=1, replayed=True)
        assert not machine.world.requests and not machine.world.grants
        machine.facts_match_the_model()
    finally:
        machine.teardown()
        drop_database()
