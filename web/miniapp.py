"""The Mini App's JSON API under /app/api, on the bot's own HTTP server: who am I, and every
screen's routes (web/miniapp_screens.py).

Identity, the live role and membership, replays and refusals: web/miniapp_auth.py.
"""

from __future__ import annotations

from i18n import is_rtl
from moderation.permissions import Role
from runtime.context import App
from web import miniapp_page
from web.http import RouteSpec, WebRequest, WebResponse
from web.miniapp_auth import PREFIX, Caller, answer, authenticated
from web.miniapp_page import ui_strings
from web.miniapp_screens import SCREENS


async def me(app: App, caller: Caller, _request: WebRequest) -> WebResponse:
    user = caller.init.user
    return answer(
        200,
        {
            "user": {"id": user.id, "first_name": user.first_name},
            "language": caller.language,
            "dir": "rtl" if is_rtl(caller.language) else "ltr",
            "moderator": caller.role is Role.MODERATOR,
            "strings": ui_strings(),
        },
    )


def routes(app: App) -> list[RouteSpec]:
    return [
        *miniapp_page.ROUTES,
        RouteSpec(rf"{PREFIX}/me", authenticated(app, me), methods=("GET",)),
        *(route for screen in SCREENS for route in screen.routes(app)),
    ]
