"""The Mini App's shared ground: verified callers, JSON answers, refusals.

Every request carries Telegram's signed initData in ``Authorization: tma <initData>``; it is
verified on every request (web/initdata.py), then the person's live role and membership are
asked exactly as the chat asks them (``handlers.common.current_role``, ``requester_of``).
Every screen's routes (web/miniapp*.py) are wrapped by ``authenticated`` (members) or
``moderators`` (moderators of a group, asked live); a state-changing request is accepted once
per initData (``claim_once``, storage/miniapp.py, shared by replicas).

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
from handlers.contacts.shared import requester_of
from i18n import _, use_locale
from moderation.contacts import Requester
from moderation.permissions import Role
from runtime.context import App, BotContext, Services
from storage.miniapp import claim_write
from web.http import Route, WebRequest, WebResponse
from web.initdata import SKEW, InitData, InitDataError, verify, write_key

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


def moderators(app: App, handler: Handler) -> Route:
    """``authenticated``, and the caller must be a moderator (asked live, on every request);
    anyone else is refused with nothing disclosed."""

    async def only_moderators(app: App, caller: Caller, request: WebRequest) -> WebResponse:
        if caller.role is not Role.MODERATOR:
            return answer(403, {"error": _("This part of the app is for moderators.")})
        return await handler(app, caller, request)

    return authenticated(app, only_moderators)


def json_body(request: WebRequest, expected: str) -> dict[str, Any] | WebResponse:
    """The request's JSON object, or the refusal to send: too long, or not a JSON object
    (``expected`` says, in the person's language, what the request should hold)."""
    if len(request.body) > MAX_WRITE_BODY:
        return answer(413, {"error": _("This request is too long.")})
    try:
        data = json.loads(request.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return answer(400, {"error": expected})
    return data


def claim_once(services: Services, caller: Caller, request: WebRequest) -> WebResponse | None:
    """Accept a state-changing request once per initData: the same path and body sent again
    (a replay) is refused. None when this is the first time."""
    now = services.clock.now()
    expires = caller.init.auth_date + services.settings.miniapp.max_age + SKEW
    with services.db.transaction() as session:
        fresh = claim_write(
            session, write_key(caller.init, request.path, request.body), expires, now
        )
    return None if fresh else answer(409, {"error": _("This request was already sent.")})


def whole_number(value: object) -> int | None:
    """A positive id from JSON (not a bool, not a float, not absurdly large), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**62:
        return value
    return None
