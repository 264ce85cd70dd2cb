"""The Mini App's "Open" buttons in chat (/start, /contact) and the bot's menu button.

Only when ``miniapp.url`` is configured; without it there are no buttons and the chat stays the
only way. The page's language follows the person's choice (``?lang=``), so it opens already in
their language.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonDefault,
    MenuButtonWebApp,
    WebAppInfo,
)
from telegram.error import TelegramError

from i18n import DEFAULT_LANGUAGE, _, current_language, use_locale
from runtime.context import App, Services, services_of

log = logging.getLogger(__name__)


def app_url(
    services: Services, language: str | None = None, screen: str | None = None
) -> str | None:
    """The page's address in ``language`` (the current one by default), opening on ``screen``
    (a name from web/miniapp_screens.py; the directory by default). Telegram adds its own
    ``#tgWebAppData…`` fragment, so the choices travel in the query."""
    base = services.settings.miniapp.url
    if base is None:
        return None
    language = language or current_language()
    query = {
        **({"lang": language} if language != DEFAULT_LANGUAGE else {}),
        **({"screen": screen} if screen else {}),
    }
    return f"{base}?{urlencode(query)}" if query else base


def open_button(services: Services, screen: str | None = None) -> InlineKeyboardButton | None:
    url = app_url(services, screen=screen)
    if url is None:
        return None
    label = _("Open in the app") if screen else _("Open the directory app")
    return InlineKeyboardButton(label, web_app=WebAppInfo(url))


def with_open_row(
    services: Services, markup: InlineKeyboardMarkup | None, screen: str | None = None
) -> InlineKeyboardMarkup | None:
    """``markup`` with the "Open" button (on ``screen``) as its last row (private chats only:
    Telegram refuses web_app buttons in groups)."""
    button = open_button(services, screen)
    if button is None:
        return markup
    rows = [list(row) for row in markup.inline_keyboard] if markup is not None else []
    return InlineKeyboardMarkup([*rows, [button]])


async def set_menu_button(app: App) -> None:
    """The bot's menu button opens the Mini App when it is configured, else it is Telegram's
    default (the command list), also undoing an earlier configuration."""
    services = services_of(app)
    url = app_url(services, DEFAULT_LANGUAGE)
    try:
        if url is None:
            await app.bot.set_chat_menu_button(menu_button=MenuButtonDefault())
        else:
            with use_locale(DEFAULT_LANGUAGE):
                text = _("Open")
            await app.bot.set_chat_menu_button(
                menu_button=MenuButtonWebApp(text=text, web_app=WebAppInfo(url))
            )
    except TelegramError as exc:
        log.warning("cannot set the menu button: %s", exc)
