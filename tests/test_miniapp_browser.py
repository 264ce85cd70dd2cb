"""The Mini App in a real browser: Debian's Chromium driven by Playwright, against the bot's real
HTTP server and the fake Bot API. Telegram's ``telegram-web-app.js`` is replaced by a local
stand-in that hands the page signed initData and a theme, as Telegram does; nothing else may
leave the machine. Screenshots (English light, Arabic dark, at 360 px) are saved under the
test's temporary directory, named in the test's output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, Route, async_playwright

from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage.models import ContactRequest
from tests.miniapp import init_data, served
from tests.test_contacts import add_contact, member, rows

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
LIGHT = {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#707579",
         "button_color": "#2481cc", "button_text_color": "#ffffff",
         "secondary_bg_color": "#f1f1f4"}  # fmt: skip
DARK = {"bg_color": "#17212b", "text_color": "#f5f5f5", "hint_color": "#708499",
        "button_color": "#5288c1", "button_text_color": "#ffffff",
        "secondary_bg_color": "#232e3c"}  # fmt: skip


def stand_in(raw: str, theme: dict[str, str]) -> str:
    """What Telegram's script gives a page: Telegram.WebApp with initData, and the theme as
    --tg-theme-* CSS variables on the root element; the t.me links it is asked to open are
    kept in ``window.__opened``."""
    variables = {f"--tg-theme-{k.replace('_', '-')}": v for k, v in theme.items()}
    return f"""
window.Telegram = {{ WebApp: {{
  initData: {json.dumps(raw)},
  themeParams: {json.dumps(theme)},
  ready: function () {{ window.__ready = true; }},
  expand: function () {{}},
  openTelegramLink: function (url) {{ (window.__opened = window.__opened || []).push(url); }},
}} }};
(function () {{
  var vars = {json.dumps(variables)};
  for (var k in vars) document.documentElement.style.setProperty(k, vars[k]);
}})();
"""


async def open_app(
    page: Page, base: str, raw: str, theme: dict[str, str], path: str = "/app"
) -> list[str]:
    """Load the page as Telegram would; returns the list of hosts it asked anything of."""
    hosts: list[str] = []

    async def telegram(route: Route) -> None:
        await route.fulfill(body=stand_in(raw, theme), content_type="text/javascript")

    async def anything(route: Route) -> None:
        url = route.request.url
        hosts.append(urlsplit(url).netloc)
        if url == TELEGRAM_SCRIPT:
            await telegram(route)
        elif url.startswith(base):
            await route.continue_()
        else:
            await route.abort()

    await page.route("**/*", anything)
    await page.goto(base + path)
    await page.wait_for_selector("body[data-ready='1']")
    return hosts


async def search(page: Page, text: str) -> None:
    await page.fill("#q", text)  # typing: the page searches once the typing pauses
    await page.wait_for_selector("li.card")


async def test_a_member_searches_and_asks_in_english_then_arabic_in_dark(
    sim: Simulator, tmp_path: Path
) -> None:
    olena = await member(sim, "Olena", "Koval")
    cid = add_contact(
        sim, olena.id, name="Olena Koval", organisation="UNICEF", role="WASH <b>IMO</b>",
        phone="+380441234567",
    )  # fmt: skip
    ivan: FakeUser = await member(sim, "Ivan", "Petrenko")
    petro = await member(sim, "Petro", "Shevchenko")
    await sim.dm(petro, "/language ar")
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
            hosts = await open_app(page, base, init_data(sim, ivan), LIGHT)
            await search(page, "unicef")
            card = page.locator(f"li.card[data-id='{cid}']")
            text = await card.inner_text()
            assert "Olena Koval" in text and "UNICEF" in text
            assert "WASH <b>IMO</b>" in text  # shown as typed, never as markup
            assert "+380441234567" not in await page.content()  # private, no yes given
            await page.screenshot(path=str(shots / "directory-en-light.png"), full_page=True)
            await card.locator("button.ask").click()
            await card.locator("textarea").fill("About WASH kits in Odesa")
            mark = sim.mark()
            await card.locator("button[type=submit]").click()
            await card.locator("p.sent").wait_for()
            assert "I asked them" in await card.locator("p.sent").inner_text()
            [question] = sim.since(mark, olena.id)
            assert "About WASH kits in Odesa" in question.text
            assert len(rows(sim, ContactRequest)) == 1
            await page.screenshot(path=str(shots / "asked-en-light.png"), full_page=True)
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
            await arabic.screenshot(path=str(shots / "directory-ar-dark.png"), full_page=True)
        finally:
            await browser.close()
    assert not [p for p in problems if "Content Security Policy" in p], problems
    saved = sorted(p.name for p in shots.iterdir())
    assert saved == ["asked-en-light.png", "directory-ar-dark.png", "directory-en-light.png"]
    print(f"screenshots: {shots}")


async def test_a_forged_initdata_shows_the_reopen_message_and_no_search(
    sim: Simulator, tmp_path: Path
) -> None:
    await member(sim, "Olena", "Koval")
    stranger = sim.user("Stranger", "Outside")
    async with served(sim) as client, async_playwright() as playwright:
        base = str(client.base_url).rstrip("/")
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = await browser.new_page(viewport={"width": 360, "height": 640})
            forged = init_data(sim, stranger).replace("hash=", "hash=0")[:-1]

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
            await page.wait_for_function("document.getElementById('status').textContent !== ''")
            assert "open the app again" in await status.inner_text()
            assert await page.locator("#search").is_hidden()
            await page.screenshot(path=str(tmp_path / "refused.png"))
        finally:
            await browser.close()
