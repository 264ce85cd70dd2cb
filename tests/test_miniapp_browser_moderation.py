"""The moderators' screen in a real browser (Debian's Chromium, Playwright) against the bot's
real HTTP server and the fake Bot API: a moderator sorts the roster, approves a pending
join, and the newcomer is let in as the chat's Approve button lets them in; she sponsors a held
newcomer, whose introduction opens as the chat's button opens it. The CSV button hands
Telegram's download dialog (``downloadFile``) a single-use link to /members csv's very file.
A member never sees the tab. Screenshots of its four parts (Members, Pending, Moderation log,
Missing) in English and Arabic, light and dark, at 360 px go to the artifacts folder."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, async_playwright

from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus
from simulation.simulator import Simulator
from storage.introductions import IntroductionRepository
from storage.roster import RosterRepository
from tests.browser import CHROMIUM, DARK, LIGHT, artifacts, open_app, screenshots
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.miniapp import init_data, served
from tests.test_joins import intro_of, invite, veteran

SCREEN = "/app?screen=moderation"
# Every word of a cell is on one line: no line box starts or ends inside a word.
WIDEST_WORD_FITS = """td => {
  const range = document.createRange();
  const text = td.firstChild;
  let start = 0;
  for (const word of td.textContent.split(" ")) {
    range.setStart(text, start);
    range.setEnd(text, start + word.length);
    if (word && range.getClientRects().length > 1) return false;
    start += word.length + 1;
  }
  return true;
}"""


async def names(page: Page) -> list[str]:
    cells = page.locator("#roster tbody tr td:first-child")
    return [text.strip() for text in await cells.all_inner_texts()]


async def recorded_downloads(page: Page) -> list[dict[str, str]]:
    """What the page handed the stand-in's downloadFile, once it has (polled from here: the
    page's CSP forbids the eval that wait_for_function's polling needs)."""
    for _ in range(100):
        found: list[dict[str, str]] | None = await page.evaluate("window.__downloads")
        if found:
            return found
        await page.wait_for_timeout(50)
    raise AssertionError("the page never asked Telegram to download a file")


async def roster(page: Page) -> None:
    await page.wait_for_selector("#roster tbody tr")


async def pending(page: Page) -> None:
    await page.click("#moderation-parts [data-part='pending']")
    await page.wait_for_selector("#join-requests li")
    await page.wait_for_selector("#introductions li")


async def log(page: Page) -> None:
    await page.click("#moderation-parts [data-part='audit']")
    await page.wait_for_selector("#audit-entries li.card")


async def missing(page: Page) -> None:
    """The first deadline chosen: who has not answered it."""
    await page.click("#moderation-parts [data-part='missing']")
    await page.wait_for_selector("#missing-deadline option:nth-child(2)", state="attached")
    await page.select_option("#missing-deadline", index=1)
    await page.wait_for_selector("#missing-report h2")


async def test_a_moderator_sorts_the_roster_and_approves_a_join(
    sim: Simulator,
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
    await sim.say(mira, "/warn @ivan please stay on topic")  # a line in the moderation log
    await sim.say(mira, "Good morning")  # a member of the group: she may sponsor
    problems: list[str] = []
    async with served(sim) as client, async_playwright() as playwright:
        base = str(client.base_url).rstrip("/")
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(viewport={"width": 360, "height": 720})
            context.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page = await context.new_page()
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
            # Her own name wraps at the space, never mid-word ("Moderat/or").
            cell = page.locator("#roster tbody td:first-child", has_text="Mira")
            assert await cell.evaluate("td => getComputedStyle(td).overflowWrap") == "break-word"
            assert await cell.evaluate(WIDEST_WORD_FITS), await cell.inner_text()

            # The CSV: Telegram's own download dialog gets a single-use link, and the file it
            # fetches (without the page's initData) is /members csv's, byte for byte.
            assert await page.inner_text("#mod-csv") == "Download the CSV file"
            await page.click("#mod-csv")
            [wanted] = await recorded_downloads(page)
            zone = sim.services.settings.group_timezone(sim.services.settings.groups[0])
            today = sim.clock.now().astimezone(zone).date()
            assert wanted["file_name"] == f"members-{today}.csv"
            assert wanted["url"].startswith(f"{base}/app/download/"), wanted
            fetched = await client.get(wanted["url"])
            assert fetched.status_code == 200
            assert fetched.headers["content-type"] == "text/csv; charset=utf-8"
            assert fetched.headers["content-disposition"] == (
                f'attachment; filename="members-{today}.csv"'
            )
            mark = sim.mark()
            await sim.dm(mira, "/members csv")
            [chat] = [m for m in sim.since(mark, MODERATOR_ID) if m.document is not None]
            assert chat.document is not None and chat.document[1] == fetched.content
            assert (await client.get(wanted["url"])).status_code == 404  # used up
            assert await page.is_enabled("#mod-csv")
            # Mira has no /language choice yet: Telegram's language (initData) picks the page's.
            shots = await screenshots(
                context,
                base,
                lambda language: init_data(sim, mira, language=language),
                [("moderation", roster), ("moderation-pending", pending),
                 ("moderation-log", log), ("moderation-missing", missing)],
                SCREEN,
            )  # fmt: skip

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
        finally:
            await browser.close()
    assert not [p for p in problems if "Content Security Policy" in p], problems
    assert len(shots) == 16
    print(f"screenshots: {artifacts()}")
