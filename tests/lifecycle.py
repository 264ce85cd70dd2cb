"""The membership lifecycle's test helpers: a confirmed newcomer, an out-of-country member,
the clock moved to a moment, and what the bot recorded and asked (tests/test_lifecycle.py,
tests/test_lifecycle_departures.py, tests/test_lifecycle_expiry.py and the tests that import
them)."""

from __future__ import annotations

from datetime import datetime

from moderation.introductions import IntroStatus
from simulation.faketg import FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.lifecycle import LifecycleRepository
from storage.models import MemberLifecycle
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import events
from tests.test_joins import intro_of, invite


async def until(sim: Simulator, when: datetime) -> None:
    """Move the clock to ``when`` (UTC) and run the sweeps, as the job queue would."""
    await sim.advance(when - sim.clock.now())


async def member(
    sim: Simulator,
    sponsor: FakeUser,
    first: str,
    last: str,
    category: str = "In the country",
    extra: list[str] | None = None,
) -> FakeUser:
    """A newcomer sponsored by ``sponsor``, introduced and confirmed (and started the bot)."""
    link = await invite(
        sim, sponsor, [f"{first} {last}", "UNICEF", "IMO", *(extra or [])], category
    )
    user = sim.user(first, last, first.lower())
    await sim.join(user, link=link)
    intro = intro_of(sim, user.id)
    assert intro is not None
    await sim.dm(user, f"/start confirm_{intro.id}")
    await sim.press(user, sim.last(user.id), "Yes")
    assert intro_of(sim, user.id).status is IntroStatus.COMPLETE  # type: ignore[union-attr]
    return user


def row_of(sim: Simulator, user_id: int) -> MemberLifecycle | None:
    with sim.services.db.transaction() as session:
        return LifecycleRepository(session).row_for(GROUP_ID, user_id)


def causes(sim: Simulator, user_id: int) -> list[str]:
    return [e.cause for e in events(sim, user_id)]


def bans(sim: Simulator, user_id: int) -> int:
    return sum(1 for c in sim.telegram.calls_to("banChatMember") if c["user_id"] == user_id)


def mira(sim: Simulator) -> FakeUser:
    return sim.telegram.users[MODERATOR_ID]


def question(sim: Simulator, user: FakeUser) -> SentMessage:
    """The bot's latest private message to ``user`` that has buttons."""
    return [m for m in sim.telegram.sent(user.id) if m.buttons()][-1]


async def out_of_country(sim: Simulator, sponsor: FakeUser) -> FakeUser:
    return await member(
        sim,
        sponsor,
        "Otto",
        "Remote",
        category="Outside the country",
        extra=["in 8 weeks", "GIS support to the WASH cluster"],
    )
