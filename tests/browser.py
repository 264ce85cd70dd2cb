"""What the Mini App's browser tests share: Debian's Chromium, a local stand-in for Telegram's
``telegram-web-app.js`` (signed initData and a theme, as Telegram hands them to the page), and
the screenshots.

Screenshots go to one fixed folder, ``$IMBOT_ARTIFACTS`` if set, else ``artifacts/screenshots``
at the top of the repository (ignored by git; CI keeps it as an artifact). Each screen is saved
in four variants — ``<screen>-en-light.png``, ``-en-dark``, ``-ar-light``, ``-ar-dark`` — at
360 px wide, each from the page opened afresh with initData in that language and that theme
(the flow itself is run once, not per variant).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Page, Route

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
WIDTH = 360  # a small phone: nothing may be wider
LIGHT = {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#707579",
         "button_color": "#2481cc", "button_text_color": "#ffffff",
         "secondary_bg_color": "#f1f1f4"}  # fmt: skip
DARK = {"bg_color": "#17212b", "text_color": "#f5f5f5", "hint_color": "#708499",
        "button_color": "#5288c1", "button_text_color": "#ffffff",
        "secondary_bg_color": "#232e3c"}  # fmt: skip
THEMES = {"light": LIGHT, "dark": DARK}
BACKGROUNDS = {"light": "rgb(255, 255, 255)", "dark": "rgb(23, 33, 43)"}  # bg_color, computed
VARIANTS = (("en", "light"), ("en", "dark"), ("ar", "light"), ("ar", "dark"))
READY = "body[data-ready='1']"

# The tabs shown but not wholly in sight (a tab bar that scrolls would hide the last ones).
TABS_CUT_OFF = """[...document.querySelectorAll('#tabs button')]
  .filter((tab) => !tab.closest('[hidden]') && !tab.hidden)
  .filter((tab) => { const r = tab.getBoundingClientRect();
                     return r.left < 0 || r.right > window.innerWidth; })
  .map((tab) => tab.textContent)"""

# Brings a freshly opened page to the state a screenshot shows (a search typed, a part opened).
Prepare = Callable[[Page], Awaitable[None]]


def artifacts() -> Path:
    """The screenshots' folder, created: ``$IMBOT_ARTIFACTS``, else artifacts/screenshots."""
    folder = Path(os.environ.get("IMBOT_ARTIFACTS") or ROOT / "artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stand_in(raw: str, theme: dict[str, str]) -> str:
    """What Telegram's script gives a page: Telegram.WebApp with initData, and the theme as
    --tg-theme-* CSS variables on the root element; the t.me links it is asked to open are
    kept in ``window.__opened``, the files it is asked to download (``downloadFile``, Bot API
    8.0) in ``window.__downloads``."""
    variables = {f"--tg-theme-{k.replace('_', '-')}": v for k, v in theme.items()}
    return f"""
window.Telegram = {{ WebApp: {{
  initData: {json.dumps(raw)},
  themeParams: {json.dumps(theme)},
  ready: function () {{ window.__ready = true; }},
  expand: function () {{}},
  openTelegramLink: function (url) {{ (window.__opened = window.__opened || []).push(url); }},
  version: "8.0",
  isVersionAtLeast: function (v) {{ return parseFloat(v) <= 8.0; }},
  downloadFile: function (params, callback) {{
    (window.__downloads = window.__downloads || []).push(params);
    if (callback) callback(true);
  }},
}} }};
(function () {{
  var vars = {json.dumps(variables)};
  for (var k in vars) document.documentElement.style.setProperty(k, vars[k]);
}})();
"""


async def open_app(
    page: Page,
    base: str,
    raw: str,
    theme: dict[str, str],
    path: str = "/app",
    ready: str | None = READY,
) -> list[str]:
    """Load the page as Telegram would; returns the list of hosts it asked anything of.
    Anything but the bot's server and Telegram's script is refused."""
    hosts: list[str] = []

    async def anything(route: Route) -> None:
        url = route.request.url
        hosts.append(urlsplit(url).netloc)
        if url == TELEGRAM_SCRIPT:
            await route.fulfill(body=stand_in(raw, theme), content_type="text/javascript")
        elif url.startswith(base):
            await route.continue_()
        else:
            await route.abort()

    await page.route("**/*", anything)
    await page.goto(base + path)
    if ready is not None:
        await page.wait_for_selector(ready)
    return hosts


async def nothing(page: Page) -> None:
    """The screen as it opens."""


async def save(page: Page, name: str) -> Path:
    """One screenshot of the whole page, into the artifacts folder."""
    path = artifacts() / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def screenshots(
    context: BrowserContext,
    base: str,
    signed: Callable[[str], str],
    shots: Sequence[tuple[str, Prepare]],
    path: str = "/app",
    ready: str | None = READY,
) -> list[Path]:
    """Every screen in ``shots`` in the four variants: for each language and theme the page is
    opened afresh with ``signed(language)`` (initData whose language_code is that language)
    and the theme, then each shot's ``prepare`` runs and the page is saved as
    ``<name>-<language>-<theme>.png``. ``path`` may name ``{language}`` (``?lang=``). Checked
    on each: the page is in that language, direction and theme, nothing is wider than 360 px
    and every tab shown is wholly in sight."""
    saved: list[Path] = []
    for language, theme in VARIANTS:
        page = await context.new_page()
        try:
            raw = signed(language)
            await open_app(page, base, raw, THEMES[theme], path.format(language=language), ready)
            assert await page.get_attribute("html", "lang") == language
            assert await page.get_attribute("html", "dir") == ("rtl" if language == "ar" else "ltr")
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == BACKGROUNDS[theme], (theme, background)
            for name, prepare in shots:
                await prepare(page)
                wide: Any = await page.evaluate("document.documentElement.scrollWidth")
                assert wide <= WIDTH, (name, language, theme, wide)
                cut: Any = await page.evaluate(TABS_CUT_OFF)
                assert cut == [], (name, language, theme, cut)
                saved.append(await save(page, f"{name}-{language}-{theme}"))
        finally:
            await page.close()
    return saved
