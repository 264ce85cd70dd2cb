"""What the moderation tests share (tests/test_moderation.py, tests/test_moderation_noise.py
and the feature tests that moderate along the way): members who were in the group before the
bot, the moderator Mira, the stored actions and warnings, and a simulator with other
moderation settings."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from config.loader import LoadedConfig
from config.schema import ModerationPolicy
from moderation.clock import FakeClock
from simulation.faketg import FakeMember, FakeUser
from simulation.simulator import Simulator
from storage.models import MemberWarning, ModerationAction
from storage.moderation import ModerationRepository
from tests.conftest import GROUP_ID, MODERATOR_ID

NOT_A_MODERATOR = "only the group's moderators"
LOG_CHAT = -1009999999


async def member(sim: Simulator, name: str, started: bool = True, last: str = "Koval") -> FakeUser:
    """A member who was in the group before the bot (learned when they speak)."""
    user = sim.user(name, last, name.lower())
    sim.group.members[user.id] = FakeMember("member")
    if started:
        sim.telegram.started.add(user.id)
    await sim.say(user, f"Morning all, {name} here")
    return user


def mira(sim: Simulator) -> FakeUser:
    return sim.telegram.users[MODERATOR_ID]


def actions(sim: Simulator, kind: str | None = None) -> list[ModerationAction]:
    with sim.services.db.transaction() as session:
        rows, _total = ModerationRepository(session).actions([GROUP_ID], limit=1000)
    return [a for a in rows if kind is None or a.kind == kind]


def warnings_of(sim: Simulator, user_id: int) -> list[MemberWarning]:
    with sim.services.db.transaction() as session:
        return list(ModerationRepository(session).warnings(GROUP_ID, user_id))


def texts(sim: Simulator, mark: int, chat_id: int) -> list[str]:
    return [m.text for m in sim.since(mark, chat_id)]


def calls_since(sim: Simulator, start: int, method: str) -> list[dict[str, Any]]:
    return [c.params for c in sim.telegram.calls[start:] if c.method == method]


@asynccontextmanager
async def custom(
    config: LoadedConfig, clock: FakeClock, **changes: Any
) -> AsyncIterator[Simulator]:
    """A simulator whose moderation settings differ from the example configuration."""
    base = config.settings.moderation.model_dump()
    policy = ModerationPolicy.model_validate({**base, **changes})
    settings = config.settings.model_copy(update={"moderation": policy})
    sim = Simulator(dataclasses.replace(config, settings=settings), clock)
    sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(MODERATOR_ID)
    if policy.log_chat_id is not None:
        sim.telegram.add_group(policy.log_chat_id, "Moderators' log")
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
    assert not sim.errors, f"the bot raised: {sim.errors!r}"
