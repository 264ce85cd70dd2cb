"""The Mini App's profile screen in a real browser (Debian's Chromium driven by Playwright)
against the bot's real HTTP server and the fake Bot API: a member makes her phone visible to
members with one tap and another member's /contact in chat shows it; a tap back to private and
it is gone. Screenshots of the screen (English and Arabic, light and dark, at 360 px) go to the
artifacts folder.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, async_playwright

from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from tests.browser import CHROMIUM, DARK, LIGHT, artifacts, open_app, screenshots
from tests.miniapp import init_data, served
from tests.test_contacts import add_contact, member

PHONE = "+380441234567"


async def contact_card(sim: Simulator, person: FakeUser) -> str:
    mark = sim.mark()
    await sim.dm(person, "/contact unicef")
    return sim.unique_reply(mark, person.id).text


async def loaded(page: Page) -> None:
    await page.wait_for_selector("#screen-profile[data-loaded='1']")


async def tap(page: Page, field: str, level: str) -> None:
    """Tap a level of a detail and wait until the page shows it saved."""
    await page.click(f"#screen-profile li[data-field='{field}'] button[data-level='{level}']")
    await page.wait_for_selector(
        f"#screen-profile li[data-field='{field}'] "
        f"button[data-level='{level}'][aria-pressed='true']"
    )


async def test_a_member_shows_her_phone_to_members_and_hides_it_again(
    sim: Simulator,
) -> None:
    olena = await member(sim, "Olena", "Koval")
    add_contact(
        sim, olena.id, name="Olena Koval", organisation="UNICEF", role="WASH <b>IMO</b>",
        phone=PHONE,
    )  # fmt: skip
    ivan = await member(sim, "Ivan", "Petrenko")
    hanna = await member(sim, "Hanna", "Saleh")
    add_contact(sim, hanna.id, name="Hanna Saleh", organisation="IRC", phone="+380441234568")
    await sim.dm(hanna, "/language ar")
    problems: list[str] = []
    assert PHONE not in await contact_card(sim, ivan)  # private by default
    async with served(sim) as client, async_playwright() as playwright:
        base = str(client.base_url).rstrip("/")
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(viewport={"width": 360, "height": 720})
            context.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page = await context.new_page()
            hosts = await open_app(
                page, base, init_data(sim, olena), LIGHT, path="/app?screen=profile"
            )
            await page.wait_for_selector("#screen-profile[data-loaded='1']")
            assert await page.is_hidden("#screen-directory")
            phone = page.locator("#screen-profile li[data-field='phone']")
            assert PHONE in await phone.inner_text()
            private = phone.locator("button[data-level='private']")
            assert await private.get_attribute("aria-pressed") == "true"
            role = await page.locator("#screen-profile li[data-field='role']").inner_text()
            assert "WASH <b>IMO</b>" in role  # shown as typed, never as markup
            member_view = page.locator("#screen-profile li[data-audience='member']")
            assert PHONE not in await member_view.inner_text()

            await tap(page, "phone", "public")
            assert await page.inner_text("#profile-said") == "Saved"
            assert PHONE in await member_view.inner_text()  # the preview follows
            assert PHONE in await contact_card(sim, ivan)  # and so does the chat
            shots = await screenshots(  # the phone shown to members, in each variant
                context,
                base,
                lambda language: init_data(sim, olena, language=language),
                [("profile", loaded)],
                "/app?screen=profile",
            )

            await tap(page, "phone", "private")
            assert PHONE not in await member_view.inner_text()
            assert PHONE not in await contact_card(sim, ivan)

            # "Forget me" asks the chat's question first; "Keep it" keeps everything.
            await page.click("#forget")
            assert "Are you sure?" in await page.inner_text("#screen-profile .forget")
            await page.click("#screen-profile .forget button.secondary")
            await page.wait_for_selector("#forget")
            assert PHONE in await phone.inner_text()
            assert set(hosts) <= {urlsplit(base).netloc, "telegram.org"}, hosts

            arabic = await context.new_page()
            hosts = await open_app(
                arabic, base, init_data(sim, hanna), DARK, path="/app?screen=profile"
            )
            await arabic.wait_for_selector("#screen-profile[data-loaded='1']")
            assert await arabic.get_attribute("html", "dir") == "rtl"
            assert await arabic.inner_text("#screen-profile h1") == "ملفي الشخصي"
            background = await arabic.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(23, 33, 43)"  # Telegram's dark theme colour
            wide: Any = await arabic.evaluate("document.documentElement.scrollWidth")
            assert wide <= 360  # nothing wider than a small phone
            assert set(hosts) <= {urlsplit(base).netloc, "telegram.org"}, hosts
        finally:
            await browser.close()
    assert not [p for p in problems if "Content Security Policy" in p], problems
    assert len(shots) == 4
    print(f"screenshots: {artifacts()}")
