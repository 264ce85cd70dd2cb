"""The moderators' screen in a real browser (Debian's Chromium, Playwright) against the bot's
real HTTP server and the fake Bot API: a moderator sorts the roster, approves a pending
join, and the newcomer is let in as the chat's Approve button lets them in; she sponsors a held
newcomer, whose introduction opens as the chat's button opens it. A member never sees the
tab. Screenshots: moderation-en-light.png, moderation-ar-dark.png at 360 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, async_playwright

from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus
from simulation.simulator import Simulator
from storage.introductions import IntroductionRepository
from storage.roster import RosterRepository
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.miniapp import init_data, served
from tests.test_joins import intro_of, invite, veteran
from tests.test_miniapp_browser import CHROMIUM, DARK, LIGHT, open_app

SCREEN = "/app?screen=moderation"


async def names(page: Page) -> list[str]:
    cells = page.locator("#roster tbody tr td:first-child")
    return [text.strip() for text in await cells.all_inner_texts()]


async def test_a_moderator_sorts_the_roster_and_approves_a_join(
    sim: Simulator, tmp_path: Path
) -> None:
    ivan = await veteran(sim)
    petro = await veteran(sim, "Petro")
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH <b>IMO</b>"])
    await sim.join(sim.user("Olena", username="olena_p"), link=link)
    anna, boris = sim.user("Anna"), sim.user("Boris")
    await sim.request_join(anna)
    await sim.request_join(boris)
    stranger = sim.user("Stranger")
    await sim.join(stranger)  # no sponsor: held for the moderators
    mira = sim.telegram.users[MODERATOR_ID]
    await sim.say(mira, "Good morning")  # a member of the group: she may sponsor
    shots = tmp_path / "screenshots"
    shots.mkdir()
    problems: list[str] = []
    async with served(sim) as client, async_playwright() as playwright:
        base = str(client.base_url).rstrip("/")
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(viewport={"width": 360, "height": 720})
            page = await context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            hosts = await open_app(page, base, init_data(sim, mira), LIGHT, SCREEN)
            assert await page.locator("#tabs [data-screen='moderation']").is_visible()
            await page.wait_for_selector("#roster tbody tr")
            listed = await names(page)
            assert listed == sorted(listed)  # by name to begin with
            assert {"Ivan Koval", "Olena Petrenko", "Petro Koval"} <= set(listed)
            await page.click("#roster th[data-column='name'] button")
            assert await names(page) == sorted(listed, reverse=True)
            await page.click("#roster th[data-column='organisation'] button")
            assert (await names(page))[0] == "Olena Petrenko"  # the only one with one
            await page.fill("#mod-filter", "unicef")
            assert await names(page) == ["Olena Petrenko"]
            await page.fill("#mod-filter", "")
            await page.select_option("#mod-seen", "never")  # joined, not seen since
            never = await names(page)
            assert "Olena Petrenko" in never and not {"Ivan Koval", "Petro Koval"} & set(never)
            await page.select_option("#mod-seen", "")
            await page.select_option("#mod-end", "soon")  # nobody here has an end date
            assert await names(page) == []
            await page.select_option("#mod-end", "")
            assert len(await names(page)) == len(listed)
            await page.screenshot(path=str(shots / "moderation-en-light.png"), full_page=True)

            await page.click("#moderation-parts [data-part='pending']")
            request = page.locator("#join-requests li.card", has_text="Anna")
            await request.locator("button.approve").click()
            await request.locator("p.sent").wait_for()
            assert "Approved" in await request.inner_text()
            await sim.feed()  # what Telegram does once the request is approved
            assert [c["user_id"] for c in sim.telegram.calls_to("approveChatJoinRequest")] == [
                anna.id
            ]
            with sim.services.db.transaction() as session:
                joined = RosterRepository(session).membership(GROUP_ID, anna.id)
                assert joined is not None and joined.status is MemberStatus.RESTRICTED
            intro = intro_of(sim, anna.id)
            assert intro is not None and intro.sponsor_id == MODERATOR_ID

            held = page.locator("#introductions li.card", has_text="Stranger")
            await held.locator("button.sponsor").click()
            await held.locator("button.sponsor").wait_for(state="detached")  # the list, again
            assert "You sponsor them now" in await page.inner_text("#status")
            intro = intro_of(sim, stranger.id)
            assert intro is not None and intro.status is IntroStatus.PENDING
            assert intro.sponsor_id == MODERATOR_ID
            bot = sim.telegram.bot.username
            opened = await page.evaluate("window.__opened")
            assert opened == [f"https://t.me/{bot}?start=intro_{intro.id}"]
            card = page.locator("#introductions li.card", has_text="Stranger")
            assert "the sponsor's introduction" in await card.inner_text()
            assert await card.locator("button").count() == 0

            # Boris's join request: she sponsors him, as the chat's "I sponsor them" does.
            request = page.locator("#join-requests li.card", has_text="Boris")
            await request.locator("button.sponsor").click()
            await request.locator("p.sent").wait_for()
            assert "You sponsor them now" in await request.inner_text()
            with sim.services.db.transaction() as session:
                vouched = IntroductionRepository(session).open_join_request(GROUP_ID, boris.id)
                assert vouched is not None and vouched.sponsor_id == MODERATOR_ID
            opened = await page.evaluate("window.__opened")
            assert opened[-1] == f"https://t.me/{bot}?start=jr_{vouched.id}"
            assert set(hosts) <= {urlsplit(base).netloc, "telegram.org"}, hosts

            # A member: no Moderation tab, and the directory opens instead.
            member = await context.new_page()
            await open_app(member, base, init_data(sim, petro), LIGHT, SCREEN)
            assert await member.locator("#tabs [data-screen='moderation']").is_hidden()
            assert await member.locator("#screen-moderation").is_hidden()
            assert await member.locator("#screen-moderation tr").count() == 0

            await sim.dm(mira, "/language ar")
            arabic = await context.new_page()
            await open_app(arabic, base, init_data(sim, mira), DARK, SCREEN)
            assert await arabic.get_attribute("html", "dir") == "rtl"
            await arabic.wait_for_selector("#roster tbody tr")
            background = await arabic.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(23, 33, 43)"
            wide: Any = await arabic.evaluate("document.documentElement.scrollWidth")
            assert wide <= 360
            await arabic.screenshot(path=str(shots / "moderation-ar-dark.png"), full_page=True)
        finally:
            await browser.close()
    assert not [p for p in problems if "Content Security Policy" in p], problems
    saved = sorted(p.name for p in shots.iterdir())
    assert saved == ["moderation-ar-dark.png", "moderation-en-light.png"]
    print(f"screenshots: {shots}")
