"""The deadline board in a real browser (Debian's Chromium, Playwright) against the bot's real
HTTP server and the fake Bot API: a partner marks the SitRep submitted in the app, and the chat
reminder stops for her cluster while another cluster's partner still gets theirs. Screenshots
of the board (English and Arabic, light and dark, at 360 px) go to the artifacts folder."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, async_playwright

from simulation.simulator import Simulator
from storage.models import Submission
from tests.browser import CHROMIUM, DARK, LIGHT, artifacts, open_app, screenshots
from tests.miniapp import init_data, served
from tests.test_contacts import rows
from tests.test_deadlines import SITREP, reminders
from tests.test_miniapp_deadlines import config, partner, until

__all__ = ["config"]  # the fixture: Mini App and public addresses set
SCREEN = "/app?screen=deadlines"


async def board(page: Page) -> None:
    await page.locator("li.deadline[data-id='sitrep']").wait_for()


async def test_a_partner_marks_submitted_in_the_app_and_the_reminder_stops(
    sim: Simulator,
) -> None:
    olena = await partner(sim, "Olena", "WASH")
    petro = await partner(sim, "Petro", "Protection")
    await sim.dm(petro, "/language ar")
    problems: list[str] = []
    async with served(sim) as client, async_playwright() as playwright:
        base = str(client.base_url).rstrip("/")
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(viewport={"width": 360, "height": 720})
            context.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page = await context.new_page()
            hosts = await open_app(page, base, init_data(sim, olena), LIGHT, SCREEN)
            sitrep = page.locator("li.deadline[data-id='sitrep']")
            await sitrep.wait_for()
            text = await sitrep.inner_text()
            assert "SitRep inputs" in text and "Wed, 2 Dec 2026, 12:00 Kyiv time" in text
            assert "Not submitted yet" in text
            shots = await screenshots(
                context,
                base,
                lambda language: init_data(sim, olena, language=language),
                [("deadlines", board)],
                SCREEN,
            )
            await sitrep.locator("button[data-action='submitted']").click()
            await sitrep.locator(".state[data-status='submitted']").first.wait_for()
            assert await page.locator("p.sent").inner_text() == "Recorded."
            assert await sitrep.locator("button[data-action]").count() == 0
            assert set(hosts) <= {urlsplit(base).netloc, "telegram.org"}, hosts

            # The 2-day reminder's time passes with the dispatcher running.
            await until(sim, SITREP - timedelta(days=2) + timedelta(minutes=5))
            assert reminders(sim, olena) == []  # WASH answered: no reminder
            # Protection did not: Petro's reminder (in Arabic, with the reminder's buttons).
            sent = [
                m
                for m in sim.telegram.sent(petro.id)
                if "SitRep inputs" in m.text
                and m.buttons()
                and all(b["callback_data"].startswith("dl:") for b in m.buttons())
            ]
            assert len(sent) == 1 and len(sent[0].buttons()) == 3

            arabic = await context.new_page()
            await open_app(arabic, base, init_data(sim, petro), DARK, SCREEN)
            await arabic.locator("li.deadline[data-id='sitrep']").wait_for()
            assert await arabic.get_attribute("html", "dir") == "rtl"
            assert await arabic.get_attribute("html", "lang") == "ar"
            # Reminded: his board offers the reminder's three answers.
            answers = arabic.locator("li.deadline[data-id='sitrep'] button[data-action]")
            assert await answers.count() == 3
            background = await arabic.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(23, 33, 43)"  # Telegram's dark theme colour
            wide: Any = await arabic.evaluate("document.documentElement.scrollWidth")
            assert wide <= 360
        finally:
            await browser.close()
    assert [(s.unit, s.user_id) for s in rows(sim, Submission)] == [("cluster:WASH", olena.id)]
    assert not [p for p in problems if "Content Security Policy" in p], problems
    assert len(shots) == 4
    print(f"screenshots: {artifacts()}")
