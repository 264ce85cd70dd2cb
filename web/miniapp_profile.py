"""The Mini App's profile screen: one's own directory entry, each detail's sharing level saved
per tap, what each audience sees, the shares one can take back, /mydata and "forget me".

Every part is the chat's own code: the levels are checked as /profile's buttons check them
(``check_level``) and stored by the same ``set_levels`` as /profile's *Save*; the previews are
the one consent policy (``moderation.contact_preview`` → ``disclosed``); the data and the shares
are /mydata's ``my_data``; Revoke is its button's ``take_back``; "forget me" asks /forgetme's
question and runs its ``erase``.
"""

from __future__ import annotations

import html
import re
from typing import Any

from handlers.contacts.forgetme import confirmation, erase
from handlers.contacts.mydata import my_data, take_back
from handlers.contacts.profile import check_level
from handlers.contacts.shared import defaults
from i18n import _
from moderation.contact_preview import previews
from moderation.contacts import FIELDS, InvalidValue, Level, field_label, level_label
from runtime.context import App, Services, services_of
from storage.contacts import ContactRepository, decode_levels, subject_of, values_of
from web.http import RouteSpec, WebRequest, WebResponse
from web.miniapp_auth import (
    PREFIX,
    Caller,
    answer,
    authenticated,
    claim_once,
    json_body,
    whole_number,
)

TAG = re.compile(r"<[^>]+>")  # the chat's own markup (values in it are escaped)
TITLE = re.compile(r"^<b>(.*)</b>$", re.DOTALL)


def strings() -> dict[str, str]:
    return {
        "title": _("My profile"),
        "fields": _("Who may see each detail"),
        "previews": _("What others see"),
        "shares": _("People you agreed to share with"),
        "no_shares": _("None."),
        "revoke": _("Take back"),
        "data": _("My data"),
        "forget": _("Erase my contact data"),
        "confirm": confirmation(),
        "keep": _("Keep it"),
        "nothing": _("nothing"),
        "empty": _("(empty)"),
    }


def no_entry() -> str:
    return _("You have no directory entry yet. Send /profile in the chat to write one.")


def _text(line: str) -> str:
    return html.unescape(TAG.sub("", line))


def sections(lines: list[str]) -> list[dict[str, Any]]:
    """/mydata's lines as titled sections of plain text (the page shows them as text)."""
    found: list[dict[str, Any]] = []
    for line in lines:
        bare = line.strip("\n")
        title = TITLE.match(bare)
        if title is not None or line.startswith("\n") or not found:
            found.append({"title": _text(title.group(1)) if title else "", "lines": []})
        if title is None:
            found[-1]["lines"].append(_text(bare))
    return found


def shown(values: dict[str, str]) -> list[dict[str, str]]:
    return [
        {
            "field": f,
            "label": field_label(f),
            "value": _("yes") if f == "focal_point" else values[f],
        }
        for f in FIELDS
        if f in values
    ]


def profile_of(services: Services, user_id: int) -> dict[str, Any]:
    """The screen's data, read afresh: the entry, its levels, the previews, /mydata."""
    lines, shares = my_data(services, user_id)
    body: dict[str, Any] = {
        "entry": False,
        "listed": False,
        "notice": "",
        "levels": [{"level": v.value, "label": level_label(v.value)} for v in Level],
        "fields": [],
        "previews": [],
        "shares": [{"id": s.grant_id, "who": s.who, "fields": s.fields} for s in shares],
        "data": sections(lines),
    }
    with services.db.transaction() as session:
        contact = ContactRepository(session).by_user(user_id)
        if contact is None:
            body["notice"] = no_entry()
            return body
        values = values_of(contact)
        levels = decode_levels(contact.levels, defaults(services))
        subject = subject_of(contact, defaults(services))
        body["entry"], body["listed"] = True, contact.consent == "given"
    if not body["listed"]:
        body["notice"] = _(
            "You are not listed in the directory, so nobody else sees your entry. Saving "
            "/profile in the chat lists you."
        )
    body["fields"] = [
        {
            "field": f,
            "label": field_label(f),
            "value": (_("yes") if values[f] else _("no")) if f == "focal_point" else values[f],
            "level": levels[f].value,
        }
        for f in FIELDS
    ]
    body["previews"] = [
        {"audience": key, "label": label, "fields": shown(seen)}
        for key, label, seen in previews(subject, values)
    ]
    return body


async def profile(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    return answer(200, profile_of(services_of(app), caller.init.user.id))


async def level_route(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    """One detail's level, as /profile's buttons set it (and stored as its *Save* stores it)."""
    services = services_of(app)
    expected = _("Expected a detail and a level.")
    data = json_body(request, expected)
    if isinstance(data, WebResponse):
        return data
    # The page adds a fresh "nonce" to each tap, so setting a level back is not a replay.
    nonce = data.get("nonce", "")
    try:
        field, level = check_level(data.get("field"), data.get("level"))
    except InvalidValue:
        return answer(400, {"error": expected})
    if not isinstance(nonce, str) or len(nonce) > 64:
        return answer(400, {"error": expected})
    refused = claim_once(services, caller, request)
    if refused is not None:
        return refused
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.by_user(caller.init.user.id)
        if contact is not None:
            levels = decode_levels(contact.levels, defaults(services))
            repo.set_levels(contact, {**levels, field: level}, services.clock.now())
    if contact is None:
        return answer(409, {"error": no_entry()})
    return answer(200, {"message": _("Saved"), **profile_of(services, caller.init.user.id)})


async def revoke_route(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    """/mydata's "Take back" button: only one's own shares."""
    services = services_of(app)
    expected = _("Expected the number of a sharing of yours.")
    data = json_body(request, expected)
    if isinstance(data, WebResponse):
        return data
    grant_id = whole_number(data.get("id"))
    if grant_id is None:
        return answer(400, {"error": expected})
    refused = claim_once(services, caller, request)
    if refused is not None:
        return refused
    if not take_back(services, caller.init.user.id, grant_id):
        return answer(
            409, {"error": _("This is not a sharing of yours, or it is already taken back.")}
        )
    return answer(
        200,
        {
            "message": _(
                "Taken back: that person no longer sees what you shared. /mydata shows the rest."
            ),
            **profile_of(services, caller.init.user.id),
        },
    )


async def forget_route(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    """/forgetme's "Erase my contact data", after the page asked the same question."""
    services = services_of(app)
    expected = _("Expected the confirmation that you want your contact data erased.")
    data = json_body(request, expected)
    if isinstance(data, WebResponse):
        return data
    if data.get("confirm") is not True:
        return answer(400, {"error": expected})
    refused = claim_once(services, caller, request)
    if refused is not None:
        return refused
    erase(services, caller.init.user.id)
    return answer(
        200,
        {
            "message": _("Erased. Your contact data and consents are gone."),
            **profile_of(services, caller.init.user.id),
        },
    )


def routes(app: App) -> list[RouteSpec]:
    return [
        RouteSpec(rf"{PREFIX}/profile", authenticated(app, profile), methods=("GET",)),
        RouteSpec(rf"{PREFIX}/profile/level", authenticated(app, level_route), methods=("POST",)),
        RouteSpec(rf"{PREFIX}/profile/revoke", authenticated(app, revoke_route), methods=("POST",)),
        RouteSpec(rf"{PREFIX}/profile/forget", authenticated(app, forget_route), methods=("POST",)),
    ]
