"""The Mini App's page (/app) and its static script and style, served by the bot.

The page is server-rendered HTML in the language asked for (``?lang=``, which the bot's "Open"
buttons set from the person's choice); the script then asks /app/api/me and switches to the
person's language if Telegram opened the page without one (the menu button). No framework, no
third-party request but Telegram's own ``telegram-web-app.js``; the Content-Security-Policy
allows nothing else. Telegram's theme colours arrive as the ``--tg-theme-*`` CSS variables.
"""

from __future__ import annotations

import json
from html import escape
from importlib.resources import files

from i18n import DEFAULT_LANGUAGE, LANGUAGES, _, is_rtl, use_locale
from runtime.context import Services
from web.http import RouteSpec, WebRequest, WebResponse
from web.miniapp_screens import SCREENS, screen_named

TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
CSP = (
    "default-src 'self'; script-src 'self' https://telegram.org; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self' https://web.telegram.org https://*.telegram.org"
)
PAGE_HEADERS = (
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", CSP),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
STATIC_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
STATIC = {
    item.name: item.read_bytes()
    for item in (files("web") / "static").iterdir()
    if item.name.rsplit(".", 1)[-1] in STATIC_TYPES
}


def ui_strings() -> dict[str, str]:
    """The page's texts in the current language (the page may have been opened in another):
    the shared ones, each tab's label (``tab.<screen>``) and each screen's (``<screen>.<key>``)."""
    texts = {
        "error": _("Something went wrong. Please try again."),
        "tabs": _("Parts of the app"),
    }
    for screen in SCREENS:
        texts[f"tab.{screen.name}"] = screen.label()
        texts.update({f"{screen.name}.{key}": value for key, value in screen.strings().items()})
    return texts


def render_page(language: str, static_prefix: str, wanted: str | None = None) -> str:
    with use_locale(language):
        strings = ui_strings()
    text = {key: escape(value) for key, value in strings.items()}
    direction = "rtl" if is_rtl(language) else "ltr"
    prefix = escape(static_prefix)
    first = (screen_named(wanted) or SCREENS[0]).name
    tabs = "\n".join(
        f'<button type="button" role="tab" data-screen="{s.name}" data-i18n="tab.{s.name}"'
        f"{' data-moderators' if s.moderators_only else ''}"
        f"{' hidden' if s.moderators_only else ''}"
        f' aria-selected="{"true" if s.name == first else "false"}">'
        f"{text['tab.' + s.name]}</button>"
        for s in SCREENS
    )
    sections = "\n".join(
        f'<section id="screen-{s.name}" data-screen="{s.name}" role="tabpanel"'
        f"{'' if s.name == first else ' hidden'}>"
        f"{DIRECTORY_SECTION.format(**_directory_text(text)) if s.name == 'directory' else ''}"
        "</section>"
        for s in SCREENS
    )
    scripts = "\n".join(
        f'<script src="{prefix}static/{s.name}.js" defer></script>' for s in SCREENS
    )
    return f"""<!doctype html>
<html lang="{language}" dir="{direction}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title data-i18n="directory.title">{text["directory.title"]}</title>
<link rel="stylesheet" href="{prefix}static/miniapp.css">
<script src="{TELEGRAM_SCRIPT}"></script>
<script src="{prefix}static/miniapp.js" defer></script>
{scripts}
</head>
<body data-screen="{first}">
<nav id="tabs" role="tablist" data-i18n-label="tabs" aria-label="{text["tabs"]}"{
        "" if len(SCREENS) > 1 else " hidden"
    }>
{tabs}
</nav>
<main>
<p id="status" role="status" aria-live="polite"></p>
{sections}
</main>
<template id="strings">{_json_strings(strings)}</template>
</body>
</html>
"""


DIRECTORY_SECTION = """
<h1 data-i18n="directory.title">{title}</h1>
<form id="search" role="search">
<label for="q" data-i18n="directory.search">{search}</label>
<input id="q" name="q" type="search" dir="auto" autocomplete="off" minlength="3" maxlength="100"
 data-i18n-placeholder="directory.placeholder" placeholder="{placeholder}">
<p class="hint" data-i18n="directory.hint">{hint}</p>
</form>
<p id="summary"></p>
<ul id="results"></ul>
<nav id="pages"></nav>
"""


def _directory_text(text: dict[str, str]) -> dict[str, str]:
    return {key.removeprefix("directory."): value for key, value in text.items()}


def _json_strings(strings: dict[str, str]) -> str:
    """The texts for the script, as JSON inside a template element (escaped as HTML text)."""
    return escape(json.dumps(strings, ensure_ascii=True))


async def page(services: Services, request: WebRequest) -> WebResponse:
    wanted = request.query.get("lang", DEFAULT_LANGUAGE)
    language = wanted if wanted in LANGUAGES else DEFAULT_LANGUAGE
    # Relative links, so the page works behind a proxy that adds a path in front of /app.
    prefix = "" if request.path.endswith("/") else "app/"
    body = render_page(language, prefix, request.query.get("screen")).encode()
    return WebResponse(200, b"" if request.method == "HEAD" else body, PAGE_HEADERS)


async def static(services: Services, request: WebRequest) -> WebResponse:
    name = request.params.get("name", "")
    content = STATIC.get(name)
    if content is None:
        return WebResponse(404)
    headers = (
        ("Content-Type", STATIC_TYPES[name.rsplit(".", 1)[1]]),
        ("Cache-Control", "public, max-age=300"),
        ("X-Content-Type-Options", "nosniff"),
    )
    return WebResponse(200, b"" if request.method == "HEAD" else content, headers)


ROUTES = [
    RouteSpec(r"/app/?", page),
    RouteSpec(r"/app/static/(?P<name>[a-z_]+\.(?:js|css))", static),
]
