"""Every stored form survives restarts: each one is driven through the real bot on a file
database twice, once in one run and once with the bot stopped and a fresh one started before
every answer (wrong answers included), and both runs must end with the same result — the one the
README and the seeds describe. A form added without a scenario here fails
``test_every_form_has_a_scenario``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from handlers.forms import FORMS
from moderation.introductions import Category, IntroStatus
from moderation.roster import MemberStatus
from simulation.faketg import FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.models import Contact, DeadlineRow, FormRow
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import status
from tests.test_joins import intro_of, invite, veteran


class Driver:
    """Gives a form its answers, restarting the bot before each one when ``restarting``: the
    old Application is stopped and a new one started on the same database, the same fake
    Telegram and the same clock, so nothing in memory survives."""

    def __init__(self, sim: Simulator, restarting: bool) -> None:
        self.first = sim
        self.sim = sim
        self.restarting = restarting
        self.restarts = 0
        self.errors: list[BaseException] = []

    async def _maybe_restart(self) -> None:
        if not self.restarting:
            return
        await self.sim.stop()
        self.errors.extend(self.sim.errors)
        self.sim = Simulator(self.first.services.config, self.first.clock, telegram=self.telegram)
        await self.sim.start()
        self.restarts += 1

    @property
    def telegram(self) -> Any:
        return self.first.telegram

    async def dm(self, user: FakeUser, text: str) -> SentMessage:
        """``text`` privately (after a restart); the bot's last message to them."""
        await self._maybe_restart()
        await self.sim.dm(user, text)
        return self.sim.last(user.id)

    async def press(self, user: FakeUser, label: str) -> SentMessage:
        """The button ``label`` on the latest private message with buttons (after a restart)."""
        await self._maybe_restart()
        message = [m for m in self.telegram.sent(user.id) if m.buttons()][-1]
        await self.sim.press(user, message, label)
        return self.sim.last(user.id)

    async def close(self) -> None:
        """Back to the fixture's own bot (which the fixture stops and checks)."""
        if self.sim is not self.first:
            await self.sim.stop()
            self.errors.extend(self.sim.errors)
            await self.first.start(migrate=False)
            self.sim = self.first


def open_forms(sim: Simulator) -> list[str]:
    with sim.services.db.transaction() as session:
        return [row.kind for row in session.scalars(select(FormRow))]


# ------------------------------------------------------------------------------ scenarios
async def invite_form(sim: Simulator, drive: Driver) -> object:
    """/invite: name, organisation, role, a cluster button, a too-long then a good location,
    the category, then "Create the invite link"; the newcomer joins with the link."""
    ivan = await veteran(sim)
    await drive.dm(ivan, "/invite")
    await drive.dm(ivan, "Olena Petrenko")
    await drive.dm(ivan, "UNICEF")
    await drive.dm(ivan, "IMO")
    await drive.press(ivan, "WASH")
    refused = await drive.dm(ivan, "x" * 500)
    assert "Too long (500/64 characters)" in refused.text
    await drive.dm(ivan, "Kyiv")
    await drive.press(ivan, "In the country")
    done = await drive.press(ivan, "Create the invite link")
    link = next(word for word in done.text.split() if word.startswith("https://t.me/+"))
    olena = drive.sim.user("Olena", "P.")
    await drive.sim.join(olena, link=link)
    intro = intro_of(drive.sim, olena.id)
    assert intro is not None
    return (
        intro.sponsor_id == ivan.id,
        intro.full_name,
        intro.organisation,
        intro.role,
        intro.cluster,
        intro.location,
        intro.category,
    )


async def newcomer_form(sim: Simulator, drive: Driver) -> object:
    """The newcomer's confirmation: "Correct it", a one-word then a full name, the
    organisation; the introduction completes with the corrected details."""
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "IMO"])
    olena = sim.user("Olena", "P.")
    mark = sim.mark()
    await sim.join(olena, link=link)
    card = sim.unique_reply(mark, GROUP_ID)
    payload = card.buttons()[0]["url"].split("start=")[1]
    await drive.dm(olena, f"/start {payload}")
    await drive.press(olena, "Correct it")
    await drive.dm(olena, "Olena")  # one word: asked again
    await drive.dm(olena, "Olena Petrenko-Koval")
    await drive.dm(olena, "UNHCR")
    intro = intro_of(drive.sim, olena.id)
    assert intro is not None
    return (
        status(drive.sim, olena.id),
        intro.status,
        intro.first_name,
        intro.last_name,
        intro.organisation,
    )


async def profile_form(sim: Simulator, drive: Driver) -> object:
    """/profile: every detail (a bad phone and e-mail refused), /skip, yes, two turns of the
    phone's level, Save."""
    olena = sim.user("Olena", "Koval")
    sim.telegram.started.add(olena.id)
    await drive.dm(olena, "/profile")
    for answer in ["Olena Koval", "UNICEF", "WASH IMO", "WASH, Health", "Kharkiv"]:
        await drive.dm(olena, answer)
    assert "phone" in (await drive.dm(olena, "12345")).text.lower()
    await drive.dm(olena, "+380 44 123 4567")
    assert "e-mail" in (await drive.dm(olena, "not-an-email")).text
    await drive.dm(olena, "Olena@Example.org")
    await drive.dm(olena, "/skip")
    await drive.dm(olena, "yes")
    await drive.press(olena, "Phone: private")
    await drive.press(olena, "Phone: public")
    await drive.press(olena, "Save")
    with drive.sim.services.db.transaction() as session:
        [contact] = session.scalars(select(Contact)).all()
        return (
            contact.user_id == olena.id,
            contact.consent,
            contact.name,
            contact.phone,
            contact.email,
            contact.clusters,
            contact.focal_point,
            "phone=cluster" in contact.levels,
        )


async def deadline_form(sim: Simulator, drive: Driver) -> object:
    """/deadline add by a moderator: a bad id, then every answer, then Save."""
    mira = sim.telegram.users[MODERATOR_ID]
    await drive.dm(mira, "/deadline add")
    assert "Sorry" in (await drive.dm(mira, "WASH 3W!")).text
    for answer in [
        "wash-3w",
        "WASH 3W inputs",
        "https://example.org/3w",
        "clusters: WASH",
        "every Friday 12:00",
        "Europe/Kyiv",
        "1d, 2h, overdue 1h",
    ]:
        await drive.dm(mira, answer)
    await drive.press(mira, "Save")
    with drive.sim.services.db.transaction() as session:
        row = session.get(DeadlineRow, "wash-3w")
        assert row is not None
        return (row.title, row.rule, row.timezone, row.remind, row.overdue_after_s, row.source)


async def departure_form(sim: Simulator, drive: Driver) -> object:
    """ "Yes, I keep supporting them" to the departure question: an unreadable date, the end
    date, then the sponsor's button; the sponsor confirms."""
    from tests.test_lifecycle import member

    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving 2026-11-23")  # today, after 09:00: asked at once
    await drive.press(olena, "Yes, I keep supporting them")
    assert "could not read that date" in (await drive.dm(olena, "whenever")).text
    await drive.dm(olena, "2027-01-31")
    await drive.press(olena, "Ivan Koval (your sponsor)")
    await drive.press(ivan, "I sponsor them")
    intro = intro_of(drive.sim, olena.id)
    assert intro is not None
    return (
        status(drive.sim, olena.id),
        intro.category,
        intro.end_date,
        intro.sponsor_id == ivan.id,
    )


Scenario = Callable[[Simulator, Driver], Awaitable[object]]
# form kind → (scenario, the result the README and the seeds describe)
SCENARIOS: dict[str, tuple[Scenario, object]] = {
    "sponsor": (
        invite_form,
        (True, "Olena Petrenko", "UNICEF", "IMO", "WASH", "Kyiv", Category.IN_COUNTRY),
    ),
    "newcomer": (
        newcomer_form,
        (MemberStatus.MEMBER, IntroStatus.COMPLETE, "Olena", "Petrenko-Koval", "UNHCR"),
    ),
    "profile": (
        profile_form,
        (
            True,
            "given",
            "Olena Koval",
            "+380441234567",
            "Olena@example.org",
            "WASH|Health",
            True,
            True,
        ),
    ),
    "deadline": (
        deadline_form,
        (
            "WASH 3W inputs",
            "FREQ=WEEKLY;BYDAY=FR;BYHOUR=12;BYMINUTE=0",
            "Europe/Kyiv",
            "86400,7200",
            3600,
            "command",
        ),
    ),
    "out-of-country": (
        departure_form,
        (MemberStatus.MEMBER, Category.OUT_OF_COUNTRY, date(2027, 1, 31), True),
    ),
}


def bot_forms() -> set[str]:
    """The kinds of form the bot itself registers (tests may add toy forms of their own)."""
    return {kind for kind in FORMS if not kind.startswith("test-")}


async def test_every_form_has_a_scenario(sim: Simulator) -> None:
    assert bot_forms() == set(SCENARIOS)


@pytest.mark.parametrize("restarting", [False, True], ids=["one-run", "restart-every-answer"])
@pytest.mark.parametrize("kind", sorted(SCENARIOS))
async def test_a_form_ends_the_same_with_a_restart_before_every_answer(
    sim: Simulator, kind: str, restarting: bool
) -> None:
    scenario, expected = SCENARIOS[kind]
    drive = Driver(sim, restarting)
    try:
        result = await scenario(sim, drive)
        assert result == expected
        assert open_forms(drive.sim) == []  # completed: nothing left half-way
        assert drive.restarts >= (4 if restarting else 0)
    finally:
        await drive.close()
    assert drive.errors == []
