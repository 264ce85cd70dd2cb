"""The restart scenarios of tests/test_form_restarts.py: a ``Driver`` that gives a form its
answers (restarting the bot before each one, or not), and for every way of opening a form a
scenario that drives it to the end, with the result the README and the seeds describe
(``SCENARIOS``). The AST scan there fails for a way of opening a form that has no scenario
here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from moderation.introductions import Category, IntroStatus
from moderation.roster import MemberStatus
from simulation.faketg import FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.deadlines import DeadlineRepository
from storage.introductions import IntroductionRepository
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

    async def press_on(self, user: FakeUser, message: SentMessage, label: str) -> SentMessage:
        """The button ``label`` on ``message`` (e.g. in the group), after a restart; the bot's
        last message to ``user``."""
        await self._maybe_restart()
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
    from tests.lifecycle import member

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


async def intro_form(sim: Simulator, drive: Driver) -> object:
    """The sponsor form from an "introduce them" link (``/start intro_ID``): Ivan added Pavlo
    directly and is asked privately to introduce him. A one-word then a full name, organisation,
    role, no cluster, a location, "Outside the country", an impossible then a good end date,
    whom he supports, "Post the introduction"; Pavlo still has to confirm his details."""
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    pavlo = sim.user("Pavlo")
    mark = sim.mark()
    await sim.join(pavlo, added_by=ivan)
    ask = sim.unique_reply(mark, ivan.id)
    assert "Please introduce them" in ask.text
    payload = ask.buttons()[0]["url"].split("start=")[1]
    assert payload.startswith("intro_")
    await drive.dm(ivan, f"/start {payload}")
    assert "both the first and the last name" in (await drive.dm(ivan, "Pavlo")).text
    await drive.dm(ivan, "Pavlo Shevchenko")
    await drive.dm(ivan, "NRC")
    await drive.dm(ivan, "Shelter IMO")
    await drive.press(ivan, "Skip (no cluster)")
    await drive.dm(ivan, "Dnipro")
    await drive.press(ivan, "Outside the country")
    impossible = await drive.dm(ivan, "31 February")
    assert impossible.text == "February has no day 31 (it has 28 days)."
    await drive.dm(ivan, "2027-01-31")
    await drive.dm(ivan, "Supports the Shelter cluster remotely")
    done = await drive.press(ivan, "Post the introduction")
    intro = intro_of(drive.sim, pavlo.id)
    assert intro is not None
    return (
        done.text,
        status(drive.sim, pavlo.id),
        intro.status,
        intro.sponsor_id == ivan.id,
        intro.sponsor_done_at is not None,
        intro.full_name,
        intro.organisation,
        intro.role,
        intro.cluster,
        intro.location,
        intro.category,
        intro.end_date,
        intro.reason,
    )


async def join_request_form(sim: Simulator, drive: Driver) -> object:
    """The sponsor form from a join request: Ivan's "I sponsor them" in the group opens it in
    private (``/start jr_ID``). Name, a misspelt organisation and "Yes, UNICEF", role, the CCCM
    button, no location, "Surge / short mission", an end date, "Post the introduction"; the
    request is approved and Anna joins with Ivan's introduction."""
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    anna = sim.user("Anna")
    mark = sim.mark()
    await sim.request_join(anna)
    notice = sim.unique_reply(mark, GROUP_ID)
    assert "Anna asks to join. Who sponsors them?" in notice.text
    first = await drive.press_on(ivan, notice, "I sponsor them")
    assert "What are their first and last name?" in first.text
    await drive.dm(ivan, "Anna Bondar")
    assert (await drive.dm(ivan, "unicf")).text == "Did you mean UNICEF?"
    await drive.press(ivan, "Yes, UNICEF")
    await drive.dm(ivan, "CCCM IMO")
    await drive.press(ivan, "CCCM")
    await drive.press(ivan, "Skip")
    await drive.press(ivan, "Surge / short mission")
    await drive.dm(ivan, "2026-12-20")
    done = await drive.press(ivan, "Post the introduction")
    approved = [c["user_id"] for c in drive.telegram.calls_to("approveChatJoinRequest")]
    intro = intro_of(drive.sim, anna.id)
    assert intro is not None
    with drive.sim.services.db.transaction() as session:
        request = IntroductionRepository(session).open_join_request(GROUP_ID, anna.id)
    return (
        done.text,
        approved == [anna.id],
        request is None,  # no longer open
        status(drive.sim, anna.id),
        intro.sponsor_id == ivan.id,
        intro.sponsor_done_at is not None,
        intro.full_name,
        intro.organisation,
        intro.role,
        intro.cluster,
        intro.location,
        intro.category,
        intro.end_date,
    )


async def deadline_edit_form(sim: Simulator, drive: Driver) -> object:
    """/deadline edit of the configured SitRep: the menu (it comes from the configuration file),
    "Schedule", an ambiguous then a good schedule, the summary, Save. Only the schedule changes;
    the chat's version overrides the file's."""
    mira = sim.telegram.users[MODERATOR_ID]
    menu = await drive.dm(mira, "/deadline edit sitrep")
    assert "comes from the configuration file" in menu.text
    assert "What do you want to change?" in menu.text
    await drive.press(mira, "Schedule")
    ambiguous = await drive.dm(mira, "every 2nd Wednesday 12:00")
    assert "can be read two ways" in ambiguous.text
    assert "every 2 weeks on Wednesday" in ambiguous.text
    assert "the 2nd Wednesday of each month" in ambiguous.text
    summary = await drive.dm(mira, "every other Wednesday 15:00")
    assert "Save" in [b["text"] for b in summary.buttons()]
    done = await drive.press(mira, "Save")
    with drive.sim.services.db.transaction() as session:
        row = session.get(DeadlineRow, "sitrep")
        assert row is not None
        actions = [c.action for c in DeadlineRepository(session).changes("sitrep")]
        return (
            done.text.splitlines()[0],
            "comes from the configuration file" in done.text,
            row.title,
            row.rule,
            row.timezone,
            row.remind,
            row.overdue_after_s,
            row.source,
            row.updated_by == MODERATOR_ID,
            actions,
        )


async def new_sponsor_form(sim: Simulator, drive: Driver) -> object:
    """ "Name a new sponsor" after an out-of-country member's sponsor left: someone unknown,
    then a member by username; that member confirms; the end date stays."""
    from tests.lifecycle import out_of_country, question

    ivan = await veteran(sim)
    bohdan = await veteran(sim, "Bohdan")
    await sim.dm(bohdan, "/start")
    otto = await out_of_country(sim, ivan)
    await sim.leave(ivan)
    await sim.advance(timedelta(minutes=15))
    ask = question(sim, otto)
    assert "Your sponsor Ivan Koval is no longer a member working in the country" in ask.text
    who = await drive.press(otto, "Name a new sponsor")
    assert "Who sponsors you in the country?" in who.text
    assert "No current member is called" in (await drive.dm(otto, "Nobody Atall")).text
    asked = await drive.dm(otto, "@bohdan")
    await drive.press(bohdan, "I sponsor them")
    intro = intro_of(drive.sim, otto.id)
    assert intro is not None
    return (
        "I asked Bohdan Koval to confirm" in asked.text,
        status(drive.sim, otto.id),
        intro.category,
        intro.end_date,
        intro.sponsor_id == bohdan.id,
    )


Scenario = Callable[[Simulator, Driver], Awaitable[object]]
# way a form is opened → (scenario, the result the README and the seeds describe)
SCENARIOS: dict[str, tuple[Scenario, object]] = {
    "sponsor/invite": (
        invite_form,
        (True, "Olena Petrenko", "UNICEF", "IMO", "WASH", "Kyiv", Category.IN_COUNTRY),
    ),
    "sponsor/intro": (
        intro_form,
        (
            "Thank you! Your introduction is posted in the group.",
            MemberStatus.RESTRICTED,  # until Pavlo confirms his own details
            IntroStatus.PENDING,
            True,
            True,
            "Pavlo Shevchenko",
            "NRC",
            "Shelter IMO",
            None,
            "Dnipro",
            Category.OUT_OF_COUNTRY,
            date(2027, 1, 31),
            "Supports the Shelter cluster remotely",
        ),
    ),
    "sponsor/jr": (
        join_request_form,
        (
            "Thank you! The request is approved; I will post your introduction when they join.",
            True,
            True,
            MemberStatus.RESTRICTED,  # until Anna confirms her own details
            True,
            True,
            "Anna Bondar",
            "UNICEF",
            "CCCM IMO",
            "CCCM",
            None,
            Category.SURGE,
            date(2026, 12, 20),
        ),
    ),
    "newcomer/begin-confirm": (
        newcomer_form,
        (MemberStatus.MEMBER, IntroStatus.COMPLETE, "Olena", "Petrenko-Koval", "UNHCR"),
    ),
    "profile/profile-start": (
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
    "deadline/add": (
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
    "deadline/edit": (
        deadline_edit_form,
        (
            "Saved SitRep inputs (sitrep).",
            True,
            "SitRep inputs",  # only the schedule changed: title, zone and reminders as in the file
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=15;BYMINUTE=0",
            "Europe/Kyiv",
            "172800,10800",
            10800,
            "override",
            True,
            ["edit"],
        ),
    ),
    "out-of-country/departure-yes": (
        departure_form,
        (MemberStatus.MEMBER, Category.OUT_OF_COUNTRY, date(2027, 1, 31), True),
    ),
    "out-of-country/new-sponsor": (
        new_sponsor_form,
        (True, MemberStatus.MEMBER, Category.OUT_OF_COUNTRY, date(2027, 1, 18), True),
    ),
}
