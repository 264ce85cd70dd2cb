"""The model that the directory machine (tests/test_contacts_machine.py) keeps, and its oracle.

The model is the facts the machine keeps itself while it drives the bot: the people, the
entries with their values, levels, consent and confirmed clusters, the shares and overrides,
the asks and the Mini App's writes already accepted. The oracle (``may_know``) is written from
seed 004 and the README's lattice table over those facts; it never calls moderation.contacts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from tests.conftest import MODERATOR_ID
from web.server import HttpServer

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


class DirectoryOracle:
    """Who may know what of each entry (seed 004, the README's table), and which asks the bot
    must accept, over the model's facts only."""

    world: World

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
