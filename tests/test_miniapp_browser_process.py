"""The Mini App in a real browser against a real ``imbot run`` process: Debian's Chromium driven
by Playwright loads the page from the process's own HTTP server, the process talks to the fake
Bot API over HTTP, and the stand-in ``telegram-web-app.js`` (tests/browser.py) hands the page
initData signed as Telegram signs it.

A member opens the directory, searches and asks to be put in touch; the oracle is the README
("Contact directory and consent", *Put me in touch*): the person asked gets one message in
private chat naming the requester, with the note as text (never markup) and the answer buttons,
"Share with this person" among them; the page says it asked; nothing the member typed is in the
process's log. A real process reads the system clock, so the initData is signed with that same
clock (``datetime.now``; under ``faketime`` the test and the process see the same moved clock);
no assertion reads the date.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page, async_playwright

from simulation.faketg import FakeMember, FakeUser
from simulation.http import Call, FakeTelegramServer
from storage.contacts.repository import ContactRepository
from storage.contacts.values import ContactValues
from storage.db import Database
from tests.browser import CHROMIUM, LIGHT, artifacts, open_app, screenshots
from tests.conftest import GROUP_ID
from tests.miniapp import auth, sign
from tests.processes import TOKEN, BotProcess, wait_for, write_config

PHONE = "+380441234567"
NOTE = "About WASH kits <i>in Odesa</i>"


def listed(database_url: str, olena: FakeUser) -> int:
    """Olena's directory entry, as /profile leaves it (listed; the phone private by default),
    written before the process starts, as the process tests seed their partners."""
    database = Database(database_url)
    database.upgrade()
    now = datetime.now(UTC)
    values = ContactValues(name="Olena Koval", organisation="UNICEF", role="WASH IMO", phone=PHONE)
    with database.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.new(olena.id, "profile", now)
        repo.apply(contact, values, now)
        contact.consent = "given"
        session.flush()
        contact_id = contact.id
    database.dispose()
    return contact_id


def signed(person: FakeUser, language: str = "en") -> str:
    """Telegram's initData for the page, signed now by the process's token."""
    user = {"id": person.id, "first_name": person.first_name, "language_code": language}
    return sign(TOKEN, user, datetime.now(UTC))


def private_messages(server: FakeTelegramServer, person: FakeUser) -> list[Call]:
    return [c for c in server.sent() if str(c.params.get("chat_id")) == str(person.id)]


def buttons(call: Call) -> list[str]:
    markup: Any = call.params.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def eventually(condition: Any, what: str, seconds: float = 30) -> None:
    await asyncio.to_thread(wait_for, condition, seconds, what)


async def searched(page: Page) -> None:
    await page.fill("#q", "unicef")
    await page.wait_for_selector("li.card")


async def test_a_member_searches_and_asks_through_a_real_imbot_run(
    database_url: str, tmp_path: Path, server: FakeTelegramServer
) -> None:
    telegram = server.telegram
    olena = telegram.add_user("Olena", "Koval", "olena_k", user_id=7_300_001)
    ivan = telegram.add_user("Ivan", "Petrenko", "ivan_p", user_id=7_300_002)
    for person in (olena, ivan):
        telegram.groups[GROUP_ID].members[person.id] = FakeMember("member")
    cid = listed(database_url, olena)
    extra: dict[str, object] = {"miniapp": {"url": "https://bot.example.org/app", "max_age": "10m"}}
    bot = BotProcess(
        "a", write_config(tmp_path, "30s", extra), database_url, server.url(), tmp_path
    )
    problems: list[str] = []
    try:
        base = f"http://127.0.0.1:{await asyncio.to_thread(bot.http_port)}"
        await eventually(lambda: "receives updates" in bot.output(), "polling to start")
        # Both speak in the group (the bot learns its members on sight); Olena starts the bot,
        # so it can write to her.
        for person in (olena, ivan):
            server.push_update(telegram.message(person.id, GROUP_ID, "hello"))
        server.push_update(telegram.message(olena.id, olena.id, "/start"))
        await eventually(lambda: private_messages(server, olena) != [], "the answer to /start")
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for _attempt in range(150):
                me = await client.get("/app/api/me", headers=auth(signed(ivan)))
                if me.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert me.status_code == 200, me.text
        before = len(private_messages(server, olena))

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM)
            try:
                context = await browser.new_context(viewport={"width": 360, "height": 720})
                context.on(
                    "console", lambda m: problems.append(m.text) if m.type == "error" else None
                )
                page = await context.new_page()
                hosts = await open_app(page, base, signed(ivan), LIGHT)
                assert await page.get_attribute("html", "lang") == "en"
                await searched(page)
                card = page.locator(f"li.card[data-id='{cid}']")
                text = await card.inner_text()
                assert "Olena Koval" in text and "UNICEF" in text and "WASH IMO" in text
                assert PHONE not in await page.content()  # private: no yes given
                shots = await screenshots(
                    context,
                    base,
                    lambda language: signed(ivan, language),
                    [("run-directory", searched)],
                )
                await card.locator("button.ask").click()
                await card.locator("textarea").fill(NOTE)
                await card.locator("button[type=submit]").click()
                await card.locator("p.sent").wait_for()
                assert "I asked them" in await card.locator("p.sent").inner_text()
                assert set(hosts) <= {urlsplit(base).netloc, "telegram.org"}, hosts
            finally:
                await browser.close()

        await eventually(
            lambda: len(private_messages(server, olena)) > before, "the question to Olena"
        )
        [question] = private_messages(server, olena)[before:]
        text = str(question.params["text"])
        assert "Ivan Petrenko" in text and "asks to be put in touch with you" in text
        assert "About WASH kits &lt;i&gt;in Odesa&lt;/i&gt;" in text  # the note, as text
        assert "<i>in Odesa" not in text
        assert any("Share with this person" in label for label in buttons(question))
        assert PHONE not in str(private_messages(server, ivan))  # nothing shared before a yes
        assert "Odesa" not in bot.output() and "unicef" not in bot.output()
    finally:
        bot.stop_quietly()
    assert not [p for p in problems if "Content Security Policy" in p], problems
    assert len(shots) == 4
    print(f"screenshots: {artifacts()}")
