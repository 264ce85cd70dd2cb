"""The Mini App's JSON API under /app/api, on the bot's own HTTP server.

Every request carries Telegram's signed initData in ``Authorization: tma <initData>``; it is
verified on every request (web/initdata.py), then the person's live role and membership are
asked exactly as the chat asks them (``handlers.common.current_role``, ``requester_of``). The
directory goes through the same code as ``/contact`` (``open_lookup``, ``result_page``: the one
consent policy, the same rate limit, every disclosure recorded) and "ask to be put in touch"
through the same ``ask`` as ``/ask``. A state-changing request is accepted once per initData
(the same path and body sent again is refused: storage/miniapp.py, shared by replicas).

Refusals are JSON ``{"error": "..."}`` in the person's language when they are known; a refusal
of identity says nothing about why beyond "sign in again", and nothing the person typed is
echoed or logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handlers.common import current_role, personal_language
from handlers.contacts.lookup import open_lookup, result_page
from handlers.contacts.shared import requester_of
from handlers.contacts.touch import ask
from i18n import _, is_rtl, ngettext, use_locale
from moderation.contacts import FIELDS, InvalidValue, Requester, check_note, check_query
from moderation.contacts import field_label as label_of
from moderation.permissions import Role
from runtime.context import App, BotContext, Services, services_of
from storage.miniapp import claim_write
from web import miniapp_page
from web.http import Route, RouteSpec, WebRequest, WebResponse
from web.initdata import SKEW, InitData, InitDataError, verify, write_key
from web.miniapp_page import ui_strings

log = logging.getLogger(__name__)

PREFIX = "/app/api"
MAX_WRITE_BODY = 4096
API_HEADERS = (
    ("Content-Type", "application/json; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def answer(status: int, data: dict[str, Any]) -> WebResponse:
    return WebResponse(status, json.dumps(data, ensure_ascii=True).encode(), API_HEADERS)


@dataclass(frozen=True)
class Caller:
    """A verified person: who, in which language, and their live standing."""

    init: InitData
    language: str
    role: Role
    requester: Requester


Handler = Callable[[App, Caller, WebRequest], Awaitable[WebResponse]]


def init_data_of(request: WebRequest) -> str | None:
    scheme, _sep, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "tma" and value.strip() else None


def authenticated(app: App, handler: Handler) -> Route:
    """Verify the initData, then re-check role and membership live; refuse non-members."""

    async def route(services: Services, request: WebRequest) -> WebResponse:
        try:
            init = verify(
                init_data_of(request),
                app.bot.token,
                services.clock.now(),
                services.settings.miniapp.max_age,
            )
        except InitDataError as exc:
            log.info("Mini App request refused: initData %s", exc.problem.value)
            return answer(
                401, {"error": _("Please close and open the app again from the bot's chat.")}
            )
        language = personal_language(services, init.user.id, init.user.language_code or None)
        with use_locale(language):
            role = await current_role(BotContext(app), init.user.id)
            with services.db.transaction() as session:
                requester = requester_of(services, session, init.user.id, role)
            if not requester.is_member:
                return answer(403, {"error": _("The directory is for members of the group.")})
            return await handler(app, Caller(init, language, role, requester), request)

    return route


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


def card(contact_id: int, shown: dict[str, str], askable: bool) -> dict[str, Any]:
    """A directory card from the already-filtered values only; labels in the current language."""
    fields = [
        {
            "field": name,
            "label": label_of(name),
            "value": _("yes") if name == "focal_point" else shown[name],
        }
        for name in FIELDS
        if name != "name" and name in shown
    ]
    return {"id": contact_id, "name": shown.get("name", ""), "fields": fields, "can_ask": askable}


async def directory(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    services = services_of(app)
    try:
        key = check_query(request.query.get("q", ""))
    except InvalidValue as exc:
        problem = str(exc)
        return answer(400, {"error": problem[:1].upper() + problem[1:]})
    page_text = request.query.get("page", "1")
    page = int(page_text) - 1 if page_text.isdigit() and len(page_text) < 6 else 0
    requester, lookup_id, refusal = open_lookup(services, caller.init.user.id, caller.role, key)
    if lookup_id is None:
        return answer(429, {"error": refusal})
    found = result_page(services, requester, key, page)
    return answer(
        200,
        {
            "total": found.total,
            "summary": ngettext(
                "{n} found (page {page}/{pages})",
                "{n} found (page {page}/{pages})",
                found.total,
                page=found.page + 1,
                pages=found.pages,
            ),
            "page": found.page + 1,
            "pages": found.pages,
            "results": [card(c.id, s, c.id in found.askable) for c, s in found.cards],
        },
    )


async def ask_route(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    services = services_of(app)
    if len(request.body) > MAX_WRITE_BODY:
        return answer(413, {"error": _("This request is too long.")})
    try:
        data = json.loads(request.body)
    except ValueError:
        data = None
    contact_id = data.get("id") if isinstance(data, dict) else None
    raw_note = data.get("note", "") if isinstance(data, dict) else None
    if (
        not isinstance(contact_id, int)
        or isinstance(contact_id, bool)
        or not 0 < contact_id < 2**62
        or not isinstance(raw_note, str)
    ):
        return answer(400, {"error": _("Expected the directory entry's number and a note.")})
    try:
        note = check_note(raw_note)
    except InvalidValue as exc:
        return answer(400, {"error": _("Sorry: {problem}. Nothing was sent.", problem=str(exc))})
    now = services.clock.now()
    expires = caller.init.auth_date + services.settings.miniapp.max_age + SKEW
    with services.db.transaction() as session:
        fresh = claim_write(
            session, write_key(caller.init, request.path, request.body), expires, now
        )
    if not fresh:
        return answer(409, {"error": _("This request was already sent.")})
    problem = await ask(BotContext(app), caller.init.user.id, contact_id, note)
    if problem is not None:
        return answer(409, {"error": problem})
    return answer(
        200, {"message": _("I asked them. You will hear from me in the chat when they answer.")}
    )


def routes(app: App) -> list[RouteSpec]:
    return [
        *miniapp_page.ROUTES,
        RouteSpec(rf"{PREFIX}/me", authenticated(app, me), methods=("GET",)),
        RouteSpec(rf"{PREFIX}/directory", authenticated(app, directory), methods=("GET",)),
        RouteSpec(rf"{PREFIX}/ask", authenticated(app, ask_route), methods=("POST",)),
    ]
