"""The Mini App in a real browser: Debian's Chromium driven by Playwright, against the bot's real
HTTP server and the fake Bot API. Telegram's ``telegram-web-app.js`` is replaced by a local
stand-in that hands the page signed initData and a theme, as Telegram does; nothing else may
leave the machine (tests/browser.py). Screenshots of each screen in English and Arabic, light
and dark, at 360 px go to the artifacts folder (``$IMBOT_ARTIFACTS``, else
artifacts/screenshots), named in the test's output.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, Route, async_playwright

from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage.models import ContactRequest
from tests.browser import (
    CHROMIUM,
    DARK,
    LIGHT,
    TELEGRAM_SCRIPT,
    artifacts,
    open_app,
    save,
    screenshots,
    stand_in,
)
from tests.miniapp import init_data, served
from tests.test_contacts import add_contact, member, rows

NOTE = "About WASH kits in Odesa"


async def search(page: Page, text: str) -> None:
    await page.fill("#q", text)  # typing: the page searches once the typing pauses
    await page.wait_for_selector("li.card")


async def searched(page: Page) -> None:
    await search(page, "unicef")


async def asking(page: Page) -> None:
    """The ask's form open under the card, the note typed, not sent."""
    card = page.locator("li.card").first
    await card.locator("button.ask").click()
    await card.locator("textarea").fill(NOTE)


async def test_a_member_searches_and_asks_in_english_then_arabic_in_dark(
    sim: Simulator,
) -> None:
    olena = await member(sim, "Olena", "Koval")
    cid = add_contact(
        sim, olena.id, name="Olena Koval", organisation="UNICEF", role="WASH <b>IMO</b>",
        phone="+380441234567",
    )  # fmt: skip
    ivan: FakeUser = await member(sim, "Ivan", "Petrenko")
    petro = await member(sim, "Petro", "Shevchenko")
    await sim.dm(petro, "/language ar")
    problems: list[str] = []
    async with served(sim) as client, async_playwright() as playwright:
        base = str(client.base_url).rstrip("/")
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(viewport={"width": 360, "height": 720})
            context.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page = await context.new_page()
            hosts = await open_app(page, base, init_data(sim, ivan), LIGHT)
            await search(page, "unicef")
            card = page.locator(f"li.card[data-id='{cid}']")
            text = await card.inner_text()
            assert "Olena Koval" in text and "UNICEF" in text
            assert "WASH <b>IMO</b>" in text  # shown as typed, never as markup
            assert "+380441234567" not in await page.content()  # private, no yes given
            shots = await screenshots(
                context,
                base,
                lambda language: init_data(sim, ivan, language=language),
                [("directory", searched), ("directory-ask", asking)],
            )
            await card.locator("button.ask").click()
            await card.locator("textarea").fill(NOTE)
            mark = sim.mark()
            await card.locator("button[type=submit]").click()
            await card.locator("p.sent").wait_for()
            assert "I asked them" in await card.locator("p.sent").inner_text()
            [question] = sim.since(mark, olena.id)
            assert NOTE in question.text
            assert len(rows(sim, ContactRequest)) == 1  # the variants asked nothing
            shots.append(await save(page, "asked-en-light"))
            assert set(hosts) <= {urlsplit(base).netloc, "telegram.org"}, hosts

            arabic = await context.new_page()
            # The menu button opens the page without a language; it follows Petro's choice.
            await open_app(arabic, base, init_data(sim, petro), DARK)
            assert await arabic.get_attribute("html", "dir") == "rtl"
            assert await arabic.get_attribute("html", "lang") == "ar"
            assert await arabic.inner_text("h1") == "الدليل"
            await search(arabic, "unicef")
            background = await arabic.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(23, 33, 43)"  # Telegram's dark theme colour
            wide: Any = await arabic.evaluate("document.documentElement.scrollWidth")
            assert wide <= 360  # nothing wider than a small phone
        finally:
            await browser.close()
    assert not [p for p in problems if "Content Security Policy" in p], problems
    assert len(shots) == 9 and all(shot.stat().st_size > 0 for shot in shots)
    print(f"screenshots: {artifacts()}")


async def test_a_forged_initdata_shows_the_reopen_message_and_no_search(
    sim: Simulator,
) -> None:
    await member(sim, "Olena", "Koval")
    stranger = sim.user("Stranger", "Outside")
    forged = init_data(sim, stranger).replace("hash=", "hash=0")[:-1]
    async with served(sim) as client, async_playwright() as playwright:
        base = str(client.base_url).rstrip("/")
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = await browser.new_page(viewport={"width": 360, "height": 640})

            async def route(route: Route) -> None:
                if route.request.url == TELEGRAM_SCRIPT:
                    await route.fulfill(
                        body=stand_in(forged, LIGHT), content_type="text/javascript"
                    )
                elif route.request.url.startswith(base):
                    await route.continue_()
                else:
                    await route.abort()

            await page.route("**/*", route)
            await page.goto(base + "/app")
            status = page.locator("#status")
            await status.wait_for()
            await refused(page)
            assert "open the app again" in await status.inner_text()
            assert await page.locator("#search").is_hidden()
            assert await page.locator("#tabs").is_hidden()  # no screen to go to
            # The page in each language (as the chat's buttons open it) and theme.
            context = await browser.new_context(viewport={"width": 360, "height": 640})
            shots = await screenshots(
                context,
                base,
                lambda _language: forged,
                [("refused", refused)],
                path="/app?lang={language}",
                ready=None,
            )
        finally:
            await browser.close()
    assert len(shots) == 4


async def refused(page: Page) -> None:
    """The page once the server refused the initData: only the message."""
    await page.wait_for_function("document.getElementById('status').textContent !== ''")
