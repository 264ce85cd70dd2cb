"""Telegram's webhook POSTs, on the shared HTTP server: the secret token checked on each."""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import TYPE_CHECKING

from telegram import Update

from web.http import RouteSpec, WebRequest, WebResponse

if TYPE_CHECKING:
    from runtime.context import App, Services

log = logging.getLogger(__name__)

HEADER = "x-telegram-bot-api-secret-token"


def webhook_route(app: App, path: str, secret: str) -> RouteSpec:
    """POST ``/<path>``: a valid update with the right secret goes on the update queue."""
    expected = secret.encode()

    async def receive(_services: Services, request: WebRequest) -> WebResponse:
        given = request.headers.get(HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.debug("webhook POST refused: missing or wrong secret token")
            return WebResponse(403)
        try:
            data = json.loads(request.body)
            update = Update.de_json(data, app.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError):
            update = None
        if update is None:
            log.warning("webhook POST refused: the body is not a Telegram update")
            return WebResponse(400)
        await app.update_queue.put(update)
        return WebResponse(200)

    return RouteSpec("/" + re.escape(path.strip("/")), receive, methods=("POST",))
