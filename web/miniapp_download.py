"""The moderators' CSV as a real download: ``POST /app/api/moderation/csv-link`` hands out a
link, ``GET /app/download/<token>`` serves ``/members csv``'s file (the same builder,
``members_csv``, byte for byte) once.

Telegram's ``WebApp.downloadFile`` has the Telegram client fetch the address itself, without
the page's signed initData, so the link carries its own proof: a random token
(``secrets.token_urlsafe``), single-use, valid ``LINK_TTL`` on the bot's clock, made for one
moderator and one group they moderate (asked live). The database keeps only the token's
SHA-256 (storage/miniapp.py), so any replica serves it. The download asks the moderator's role
in that group again; every refusal — unknown, used, expired, no longer a moderator — is the
same bare 404, and the token is never logged (the server logs no paths).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from config.schema import GroupConfig
from handlers.common import current_role, personal_language
from handlers.members import members_csv
from i18n import _, use_locale
from moderation.permissions import Role
from runtime.context import App, BotContext, Services, services_of
from storage.miniapp import Download, add_download, take_download
from web.http import Route, WebRequest, WebResponse
from web.miniapp_auth import Caller, answer, claim_once, json_body

LINK_TTL = timedelta(minutes=5)
TOKEN = r"[A-Za-z0-9_-]{40,64}"
NOT_FOUND = WebResponse(
    404,
    b"Not found\n",
    (("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")),
)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def file_name(services: Services, group: GroupConfig, download: Download) -> str:
    """``members-<date>.csv`` (the day the link was made, in the group's zone); with several
    groups the group's chat id too, as the chat's file names it."""
    day = download.created_at.astimezone(services.settings.group_timezone(group)).date()
    several = len(services.settings.groups) > 1
    return f"members-{group.chat_id}-{day}.csv" if several else f"members-{day}.csv"


def link_of(services: Services, token: str) -> str:
    """Where the link points: under the Mini App's public address when it is configured, else
    a path relative to the page's own address (/app), which the page resolves."""
    base = services.settings.miniapp.url
    return f"{base.rstrip('/')}/download/{token}" if base else f"download/{token}"


async def csv_link(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    data = json_body(request, _("Expected an empty request."))
    if isinstance(data, WebResponse):
        return data
    services = services_of(app)
    context = BotContext(app)
    user_id = caller.init.user.id
    groups = [
        group
        for group in services.settings.groups
        if await current_role(context, user_id, group.chat_id) is Role.MODERATOR
    ]
    if not groups:
        return answer(403, {"error": _("This part of the app is for moderators.")})
    refused = claim_once(services, caller, request)
    if refused is not None:
        return refused
    now = services.clock.now()
    files = []
    with services.db.transaction() as session:
        for group in groups:
            token = secrets.token_urlsafe(32)
            download = Download(user_id, group.chat_id, now)
            add_download(session, digest(token), download, now + LINK_TTL, now)
            files.append(
                {
                    "url": link_of(services, token),
                    "file_name": file_name(services, group, download),
                    "group": group.title,
                }
            )
    return answer(200, {**files[0], "files": files})


def download_route(app: App) -> Route:
    """GET /app/download/<token>: the file once, to the moderator it was made for, still a
    moderator of that group; else a bare 404."""

    async def download(services: Services, request: WebRequest) -> WebResponse:
        token = request.params.get("token", "")
        found = None
        with services.db.transaction() as session:
            found = take_download(session, digest(token), services.clock.now())
        group = services.settings.group(found.chat_id) if found is not None else None
        if found is None or group is None:
            return NOT_FOUND
        role = await current_role(BotContext(app), found.user_id, group.chat_id)
        if role is not Role.MODERATOR:
            return NOT_FOUND
        with use_locale(personal_language(services, found.user_id)):
            content, _name, _caption = members_csv(services, group)
        name = file_name(services, group, found)
        return WebResponse(
            200,
            content,
            (
                ("Content-Type", "text/csv; charset=utf-8"),
                ("Content-Disposition", f'attachment; filename="{name}"'),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "no-referrer"),
            ),
        )

    return download
