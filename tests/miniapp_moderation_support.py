"""What the tests of the Mini App's moderators' screen share (tests/test_miniapp_moderation.py,
tests/test_miniapp_moderation_decisions.py, tests/test_miniapp_moderation_access.py): the
configuration with the Mini App's address, the moderator Mira, a sponsored and a held newcomer,
the stored state of an introduction, and a simulator with a second group."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from config.loader import LoadedConfig
from moderation.clock import FakeClock
from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus
from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage.introductions import IntroductionRepository
from storage.roster import RosterRepository
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.test_joins import invite, veteran
from tests.test_moderator_scope import GROUP_B

APP_URL = "https://bot.example.org/app"
API = "/app/api/moderation"


@pytest.fixture
def config(config: LoadedConfig) -> LoadedConfig:
    miniapp = config.settings.miniapp.model_copy(update={"url": APP_URL})
    settings = config.settings.model_copy(update={"miniapp": miniapp})
    return dataclasses.replace(config, settings=settings)


def mira(sim: Simulator) -> FakeUser:
    return sim.telegram.users[MODERATOR_ID]


def membership(sim: Simulator, user_id: int) -> MemberStatus | None:
    with sim.services.db.transaction() as session:
        found = RosterRepository(session).membership(GROUP_ID, user_id)
        return found.status if found is not None else None


async def a_newcomer_introduced(sim: Simulator) -> tuple[FakeUser, FakeUser]:
    """Ivan (in the group before the bot) invites Olena Petrenko of UNICEF, who joins."""
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH IMO"])
    olena = sim.user("Olena", username="olena_p")
    await sim.join(olena, link=link)
    return ivan, olena


async def a_newcomer_held(sim: Simulator, chat_id: int = GROUP_ID) -> tuple[FakeUser, int]:
    """A stranger joins without a sponsor: held read-only for the moderators (README, Sponsored
    joins); returns them and their introduction's id."""
    stranger = sim.user("Stranger", username="stranger")
    await sim.join(stranger, chat_id=chat_id)
    with sim.services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(chat_id, stranger.id)
        assert intro is not None and intro.status is IntroStatus.HELD
        return stranger, intro.id


def intro_row(sim: Simulator, intro_id: int) -> tuple[IntroStatus, int | None]:
    with sim.services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(intro_id)
        assert intro is not None
        return intro.status, intro.sponsor_id


def intro_link(sim: Simulator, intro_id: int) -> str:
    return f"https://t.me/{sim.telegram.bot.username}?start=intro_{intro_id}"


@pytest.fixture
async def two_groups(config: LoadedConfig, clock: FakeClock) -> AsyncIterator[Simulator]:
    groups = [
        *config.settings.groups,
        config.settings.groups[0].model_copy(update={"chat_id": GROUP_B, "title": "Group B"}),
    ]
    settings = config.settings.model_copy(update={"groups": groups})
    simulator = Simulator(dataclasses.replace(config, settings=settings), clock)
    await simulator.start()
    yield simulator
    await simulator.stop()
    assert not simulator.errors, f"the bot raised: {simulator.errors!r}"
