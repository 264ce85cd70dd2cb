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
the model keeps itself; it never calls moderation.contacts. The model and the oracle are in
tests/contacts_model.py; the set-up, driving, scanning and the invariant in
tests/contacts_machine.py; the chat's rules in tests/contacts_chat_rules.py; the Mini App's
rules here.
"""

from __future__ import annotations

import json
import os

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule
from sqlalchemy import select

from simulation.faketg import FakeUser
from storage.models import ContactGrant
from tests.contacts_chat_rules import ChatRules
from tests.contacts_machine import drop_database
from tests.contacts_model import DEFAULT_SHARE, FIELDS, LEVELS, NOTES, SEARCHABLE
from tests.miniapp import auth, init_data

EXAMPLES = int(os.environ.get("DIRECTORY_MACHINE_EXAMPLES", "25"))
STEPS = 25


class DirectoryMachine(ChatRules):
    """The whole machine: the chat's rules (tests/contacts_chat_rules.py) and the Mini App's,
    through the bot's HTTP server with initData signed as Telegram signs it; set-up, scanning
    and the invariant are in tests/contacts_machine.py."""

    # ------------------------------------------------------------------ the Mini App's client
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

    # ------------------------------------------------------------------ the Mini App's rules
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
