"""The Mini App's directory screen: search as you type and "ask to be put in touch".

The search goes through the same code as ``/contact`` (``open_lookup``, ``result_page``: the
one consent policy, the same rate limit, every disclosure recorded; another page reuses the
first search's lookup through ``reopen_lookup``, as the chat's page buttons do) and the ask
through the same ``ask`` as ``/ask``.
"""

from __future__ import annotations

from typing import Any

from handlers.contacts.lookup import open_lookup, reopen_lookup, result_page
from handlers.contacts.touch import ask
from i18n import _, ngettext
from moderation.contacts import FIELDS, InvalidValue, check_note, check_query
from moderation.contacts import field_label as label_of
from runtime.context import App, BotContext, services_of
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


def strings() -> dict[str, str]:
    """The directory's texts (server-rendered in the page; the script swaps them on a language
    change)."""
    return {
        "title": _("Directory"),
        "search": _("Search"),
        "placeholder": _("Name, organisation, role, cluster or place"),
        "hint": _("At least 3 letters. Phone numbers and e-mails are not searchable."),
        "loading": _("Searching…"),
        "none": _("Nobody found. Try another spelling, an organisation or a place."),
        "ask": _("Ask to be put in touch"),
        "note": _("A short note for them (optional, at most 300 characters)"),
        "send": _("Send"),
        "cancel": _("Cancel"),
        "previous": _("◂ Previous"),
        "next": _("Next ▸"),
    }


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
    """A new search (``q``: recorded, counted toward the limit), or another page of an earlier
    one (``lookup``: its id from the first answer, the caller's own, not counted again — as the
    chat's page buttons)."""
    services = services_of(app)
    page_text = request.query.get("page", "1")
    page = int(page_text) - 1 if page_text.isdigit() and len(page_text) < 6 else 0
    lookup_text = request.query.get("lookup")
    if lookup_text is not None:
        lookup_id = int(lookup_text) if lookup_text.isdigit() and len(lookup_text) < 10 else None
        found_lookup = (
            reopen_lookup(services, caller.init.user.id, caller.role, lookup_id)
            if lookup_id is not None
            else None
        )
        if lookup_id is None or found_lookup is None:
            # Someone else's search and no such search are the same answer: nothing disclosed.
            return answer(403, {"error": _("This search is not yours.")})
        requester, key = found_lookup
    else:
        try:
            key = check_query(request.query.get("q", ""))
        except InvalidValue as exc:
            problem = str(exc)
            return answer(400, {"error": problem[:1].upper() + problem[1:]})
        requester, new_id, refusal = open_lookup(services, caller.init.user.id, caller.role, key)
        if new_id is None:
            return answer(429, {"error": refusal})
        lookup_id = new_id
    found = await result_page(services, requester, key, page)
    return answer(
        200,
        {
            "lookup": lookup_id,
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
    expected = _("Expected the directory entry's number and a note.")
    data = json_body(request, expected)
    if isinstance(data, WebResponse):
        return data
    contact_id = whole_number(data.get("id"))
    raw_note = data.get("note", "")
    if contact_id is None or not isinstance(raw_note, str):
        return answer(400, {"error": expected})
    try:
        note = check_note(raw_note)
    except InvalidValue as exc:
        return answer(400, {"error": _("Sorry: {problem}. Nothing was sent.", problem=str(exc))})
    refused = claim_once(services_of(app), caller, request)
    if refused is not None:
        return refused
    problem = await ask(BotContext(app), caller.init.user.id, contact_id, note)
    if problem is not None:
        return answer(409, {"error": problem})
    return answer(
        200, {"message": _("I asked them. You will hear from me in the chat when they answer.")}
    )


def routes(app: App) -> list[RouteSpec]:
    return [
        RouteSpec(rf"{PREFIX}/directory", authenticated(app, directory), methods=("GET",)),
        RouteSpec(rf"{PREFIX}/ask", authenticated(app, ask_route), methods=("POST",)),
    ]
