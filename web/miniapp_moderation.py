"""The Mini App's moderators' screen: the roster as a table, join requests and unfinished
introductions, the moderation log and who is missing per deadline.

Every route is ``moderators(...)``: the caller's role is asked live at each request. Each reads
or acts through the chat's own code: the roster and its CSV as /members (``members_of``,
``members_csv``), the pending lists as /pending, a join request's decision as the chat's
Approve/Decline buttons (``decide_request``, recorded the same way, and the request's group is
checked like the button's) and its "I sponsor them" button (``sponsor_request``), a held
newcomer's decision as the chat's "I sponsor them"/"Remove" buttons
(``decide_held_newcomer``, its group checked likewise), the log as /audit
(``resolve_target`` for "who", the same query and labels), the missing list as /missing
(``missing_report``).

The CSV is downloaded where the Telegram client can (``WebApp.downloadFile``, Bot API 8.0):
``csv-link`` hands out a single-use link to ``/members csv``'s file (web/miniapp_download.py).
Elsewhere it is sent to the moderator's private chat, exactly as /members csv sends it: a Blob
link does nothing in some clients, while a document in the chat always arrives and stays there.
"""

from __future__ import annotations

from datetime import UTC
from html import unescape
from typing import Any

from telegram.error import TelegramError

from handlers.common import current_role
from handlers.joins.held import decide_held_newcomer
from handlers.joins.requests import decide_request, mark_notice, mark_sponsored, sponsor_request
from handlers.member_cards import sponsor_note
from handlers.members import members_csv, members_of
from handlers.moderation.audit import AUDIT_PAGE
from handlers.moderation.common import kind_label, kind_labels, names_of
from handlers.reminder_letters import due_line, missing_report, name_of, unit_name
from handlers.targets import TargetError, resolve_target
from handlers.targets import roster_name as name_in_roster
from i18n import _, date_text, datetime_text, duration_text, list_text, ngettext
from moderation import deadlines as deadline_rules
from moderation.audit_details import detail_text
from moderation.introductions import IntroStatus
from moderation.permissions import Role
from moderation.roster import JoinMethod, UserInfo
from runtime.context import App, BotContext, Services, services_of
from storage.deadlines import DeadlineRepository
from storage.introductions import IntroductionRepository
from storage.moderation import ModerationRepository
from storage.roster import RosterRepository
from web.http import RouteSpec, WebRequest, WebResponse
from web.miniapp_auth import PREFIX, Caller, answer, claim_once, json_body, moderators, whole_number
from web.miniapp_download import TOKEN, csv_link, download_route

API = f"{PREFIX}/moderation"


def strings() -> dict[str, str]:
    return {
        "title": _("Moderation"),
        "roster": _("Members"),
        "pending": _("Pending"),
        "audit": _("Moderation log"),
        "missing": _("Missing"),
        "filter": _("Filter"),
        "filter_hint": _("Name, organisation, cluster or sponsor"),
        "all_statuses": _("Every status"),
        "all_categories": _("Every category"),
        "any_end": _("Any end date"),
        "ends_soon": _("Ends within 30 days"),
        "ended": _("Ended"),
        "any_seen": _("Seen any time"),
        "unseen_30": _("Not seen for 30 days"),
        "unseen_90": _("Not seen for 90 days"),
        "never_seen": _("Never seen"),
        "name": _("Name"),
        "group": _("Group"),
        "category": _("Category"),
        "organisation": _("Organisation"),
        "cluster": _("Cluster"),
        "sponsor": _("Sponsor"),
        "status": _("Status"),
        "end": _("Until"),
        "seen": _("Last seen"),
        "csv": _("Send me the CSV file"),
        "download": _("Download the CSV file"),
        "join_requests": _("Join requests"),
        "introductions": _("Unfinished introductions"),
        "approve": _("Approve"),
        "decline": _("Decline"),
        "sponsor_held": _("I sponsor them"),
        "remove_held": _("Remove"),
        "none": _("none"),
        "who": _("Who (@username, user id or name)"),
        "action": _("Action"),
        "all_actions": _("Every action"),
        "show": _("Show"),
        "older": _("Older"),
        "newer": _("Newer"),
        "deadline": _("Deadline"),
        "choose": _("Choose a deadline"),
    }


def _problem(text: str) -> str:
    """A chat refusal (already escaped for Telegram's HTML) as plain text for the page."""
    return unescape(text)


async def roster(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    services = services_of(app)
    several = len(services.settings.groups) > 1
    now = services.clock.now()
    rows: list[dict[str, Any]] = []
    for group in services.settings.groups:
        members, sponsors = members_of(services, group)
        tz = services.settings.group_timezone(group)
        today = now.astimezone(tz).date()
        for membership, user, intro in members:
            sponsor = sponsors.get(intro.sponsor_id or 0) if intro else None
            ends = intro.end_date if intro else None
            rows.append(
                {
                    "id": user.id,
                    "group": group.title if several else "",
                    "name": name_in_roster(user, intro),
                    "username": user.username or "",
                    "category": intro.category.label if intro and intro.category else "",
                    "organisation": intro.organisation or "" if intro else "",
                    "cluster": intro.cluster or "" if intro else "",
                    "sponsor": sponsor or sponsor_note(intro.sponsor_note if intro else None),
                    "status": intro.status.label if intro else _("member before the bot"),
                    "end": date_text(intro.end_date) if intro and intro.end_date else "",
                    "end_key": intro.end_date.isoformat() if intro and intro.end_date else "",
                    "seen": date_text(user.last_seen, tz),
                    "seen_key": user.last_seen.isoformat(),
                    # For the page's filters, by the bot's clock: days until the end date (in
                    # the group's zone; negative once it has passed), whole days since last
                    # seen, and whether nothing was seen of them since they joined (someone
                    # already there before the bot was learned by being seen).
                    "ends_in": (ends - today).days if ends is not None else None,
                    "unseen_days": max(0, (now - user.last_seen).days),
                    "never_seen": membership.join_method is not JoinMethod.UNKNOWN
                    and user.last_seen <= membership.joined_at,
                    "member": membership.status.value,
                }
            )
    return answer(
        200,
        {
            "summary": ngettext("{n} member", "{n} members", len(rows)),
            "members": rows,
        },
    )


async def send_csv(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    data = json_body(request, _("Expected an empty request."))
    if isinstance(data, WebResponse):
        return data
    services = services_of(app)
    refused = claim_once(services, caller, request)
    if refused is not None:
        return refused
    try:
        for group in services.settings.groups:
            content, filename, caption = members_csv(services, group)
            await app.bot.send_document(
                caller.init.user.id, content, filename=filename, caption=caption
            )
    except TelegramError:
        return answer(
            409, {"error": _("I could not send you the file: please start a private chat with me.")}
        )
    return answer(200, {"message": _("Sent: the file is in your private chat with me.")})


async def pending(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    services = services_of(app)
    now = services.clock.now()
    several = len(services.settings.groups) > 1
    with services.db.transaction() as session:
        repo, people = IntroductionRepository(session), RosterRepository(session)
        chat_ids = [g.chat_id for g in services.settings.groups]
        requests = [r for r in repo.open_join_requests() if r.chat_id in chat_ids]
        intros = [i for i in repo.incomplete() if i.chat_id in chat_ids]
        users = {
            uid: people.user(uid)
            for uid in {r.user_id for r in requests} | {i.user_id for i in intros}
        }

    def title(chat_id: int) -> str:
        group = services.settings.group(chat_id)
        return group.title if several and group else ""

    def name(user_id: int) -> str:
        user = users.get(user_id)
        return user.display_name if user else str(user_id)

    joins = [
        {
            "id": r.id,
            "group": title(r.chat_id),
            "name": name(r.user_id),
            "state": _("sponsored, waiting for the introduction")
            if r.status == "sponsored"
            else _("waiting for a sponsor"),
            "waited": duration_text(now - r.requested_at),
            "sponsored": r.status == "sponsored",
        }
        for r in requests
    ]
    unfinished = []
    for intro in intros:
        missing = []
        if intro.status is IntroStatus.HELD:
            missing.append(_("a sponsor (moderators decide)"))
        elif intro.sponsor_done_at is None:
            missing.append(_("the sponsor's introduction"))
        if intro.confirmed_at is None:
            missing.append(_("the newcomer's confirmation"))
        unfinished.append(
            {
                "id": intro.id,
                "group": title(intro.chat_id),
                "name": name(intro.user_id),
                "needs": list_text(missing),
                "waited": duration_text(now - intro.joined_at) if intro.joined_at else "?",
                "held": intro.status is IntroStatus.HELD,
            }
        )
    return answer(200, {"join_requests": joins, "introductions": unfinished})


async def _acting_moderator(
    app: App,
    services: Services,
    caller: Caller,
    request: WebRequest,
    chat_id: int | None,
    missing: str,
) -> BotContext | WebResponse:
    """The context to act in when ``chat_id`` is a configured group the caller moderates
    and this request was not already used; else the answer refusing it (404 ``missing``,
    403, or ``claim_once``'s)."""
    if chat_id is None or services.settings.group(chat_id) is None:
        return answer(404, {"error": missing})
    context = BotContext(app)
    # As the chat's button: the moderator of *that* group, asked now.
    if await current_role(context, caller.init.user.id, chat_id) is not Role.MODERATOR:
        return answer(403, {"error": _("This part of the app is for moderators.")})
    refused = claim_once(services, caller, request)
    if refused is not None:
        return refused
    return context


async def decide(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    expected = _("Expected a join request's number and approve, decline or sponsor.")
    data = json_body(request, expected)
    if isinstance(data, WebResponse):
        return data
    request_id = whole_number(data.get("id"))
    decision = data.get("decision")
    if request_id is None or decision not in ("approve", "decline", "sponsor"):
        return answer(400, {"error": expected})
    services = services_of(app)
    with services.db.transaction() as session:
        found = IntroductionRepository(session).join_request(request_id)
        chat_id = found.chat_id if found is not None else None
    context = await _acting_moderator(
        app, services, caller, request, chat_id, _("There is no such join request.")
    )
    if isinstance(context, WebResponse):
        return context
    user = caller.init.user
    signed = " ".join(part for part in (user.first_name, user.last_name) if part)
    if decision == "sponsor":
        return await _sponsor(context, caller, request_id, signed)
    decided, problem = await decide_request(
        context, request_id, decision == "approve", caller.init.user.id
    )
    if decided is None:
        return answer(409, {"error": _("This request is already decided.")})
    if problem is not None:
        return answer(502, {"error": _("Telegram refused: {error}", error=problem)})
    name = names_of(services, {user.id}).get(user.id, signed)
    await mark_notice(context, decided, decision == "approve", name)
    if decision == "approve":
        return answer(200, {"message": _("Approved.")})
    return answer(200, {"message": _("Declined.")})


def _known(services: Services, caller: Caller) -> None:
    """The caller known by the name in the signed ``initData``, as a press on a chat button
    makes the presser known: the cards and notices name them."""
    user = caller.init.user
    with services.db.transaction() as session:
        RosterRepository(session).upsert_user(
            UserInfo(
                user.id,
                user.first_name,
                user.last_name or None,
                user.username or None,
                user.language_code or None,
            ),
            services.clock.now(),
        )


async def _sponsor(context: BotContext, caller: Caller, request_id: int, name: str) -> WebResponse:
    """ "I sponsor them", as the chat's button (``sponsor_request``): the caller becomes the
    sponsor, the group's notice says so, and the answer carries the introduction's link."""
    _known(context.services, caller)
    sponsored = await sponsor_request(context, request_id, caller.init.user.id)
    if sponsored.link is None or sponsored.request is None:
        return answer(409, {"error": _problem(sponsored.refusal or "")})
    await mark_sponsored(context, sponsored.request, caller.init.user.id, name, sponsored.link)
    return answer(
        200,
        {
            "message": _("You sponsor them now. Please introduce them in our private chat."),
            "link": sponsored.link,
        },
    )


async def decide_held(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    expected = _("Expected a held newcomer's number and sponsor or remove.")
    data = json_body(request, expected)
    if isinstance(data, WebResponse):
        return data
    intro_id = whole_number(data.get("id"))
    decision = data.get("decision")
    if intro_id is None or decision not in ("sponsor", "remove"):
        return answer(400, {"error": expected})
    services = services_of(app)
    with services.db.transaction() as session:
        found = IntroductionRepository(session).introduction_by_id(intro_id)
        chat_id = found.chat_id if found is not None else None
    context = await _acting_moderator(
        app, services, caller, request, chat_id, _("There is no such newcomer.")
    )
    if isinstance(context, WebResponse):
        return context
    _known(services, caller)  # the card names them
    decided = await decide_held_newcomer(
        context, intro_id, decision == "sponsor", caller.init.user.id
    )
    if decided is None:
        return answer(409, {"error": _("This newcomer is already decided.")})
    if decided.link is not None:
        return answer(
            200,
            {
                "message": _("You sponsor them now. Please introduce them in our private chat."),
                "link": decided.link,
            },
        )
    return answer(200, {"message": _("Removed. They can come back through a sponsor.")})


def _page(text: str) -> int:
    return int(text) - 1 if text.isdigit() and 0 < len(text) < 6 and int(text) > 0 else 0


async def audit(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    services = services_of(app)
    kinds = kind_labels()
    who = request.query.get("who", "").strip()
    kind = request.query.get("action", "") or None
    if kind is not None and kind not in kinds:
        return answer(400, {"error": _("Choose an action from the list.")})
    if len(who) > 100:
        return answer(400, {"error": _("That name is too long; send at most 100 characters.")})
    target_id = None
    if who:
        try:
            target = resolve_target(
                services, services.settings.groups[0].chat_id, None, who.split()
            )
        except TargetError as exc:
            return answer(400, {"error": _problem(str(exc))})
        target_id = target.user_id
    page = _page(request.query.get("page", "1"))
    chat_ids = [g.chat_id for g in services.settings.groups]
    with services.db.transaction() as session:
        actions, total = ModerationRepository(session).actions(
            chat_ids, target_id, page * AUDIT_PAGE, AUDIT_PAGE, kind
        )
    names = names_of(services, {i for a in actions for i in (a.actor_id, a.target_id) if i})
    several = len(chat_ids) > 1
    entries = []
    for action in actions:
        group = services.settings.group(action.chat_id)
        tz = services.settings.group_timezone(group) if group else UTC
        entries.append(
            {
                "at": datetime_text(action.at, tz),
                "group": group.title if several and group else "",
                "actor": names.get(action.actor_id, str(action.actor_id))
                if action.actor_id
                else _("automatic:"),
                "did": kind_label(action.kind),
                "target": names.get(action.target_id, str(action.target_id))
                if action.target_id is not None
                else _("the bot"),
                "reason": action.reason,
                "detail": detail_text(action.detail) if action.detail else "",
            }
        )
    return answer(
        200,
        {
            "summary": _(
                "{first}–{last} of {total}, newest first",
                first=page * AUDIT_PAGE + 1 if actions else 0,
                last=page * AUDIT_PAGE + len(actions),
                total=total,
            ),
            "page": page + 1,
            "more": page * AUDIT_PAGE + len(actions) < total,
            "entries": entries,
            "actions": [{"kind": k, "label": label} for k, label in kinds.items()],
        },
    )


async def deadlines(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    services = services_of(app)
    with services.db.transaction() as session:
        found = DeadlineRepository(session).definitions()
    return answer(200, {"deadlines": [{"id": d.id, "title": d.title} for d in found]})


async def missing(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    services = services_of(app)
    wanted = request.query.get("id", "")
    try:
        deadline_rules.check_id(wanted)
    except deadline_rules.DeadlineError:
        return answer(400, {"error": _("That is not a deadline id; choose one from the list.")})
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        deadline = repo.deadline(wanted)
        report = missing_report(services, repo, deadline) if deadline is not None else None
    if report is None:
        return answer(404, {"error": _("There is no such deadline. /deadlines lists them.")})
    if report.occurrence is None:
        return answer(200, {"title": report.deadline.title, "over": _("No occurrence any more.")})
    units = [
        {
            "unit": unit_name(unit, report.names),
            "people": [
                {
                    "name": person.name or name_of(None, person.user_id),
                    "unreachable": not person.reachable,
                }
                for person in report.people.get(unit, [])
            ],
        }
        for unit in report.missing
    ]
    return answer(
        200,
        {
            "title": report.deadline.title,
            "summary": _(
                "Due {due}: {answered} of {total} answered.",
                due=due_line(report.deadline, report.occurrence),
                answered=report.total - len(report.missing),
                total=report.total,
            ),
            "missing": units,
            "nobody": _("Nobody is missing."),
            "no_partner": _("no partner subscribed"),
            "unreachable": _("cannot be reached privately"),
        },
    )


def routes(app: App) -> list[RouteSpec]:
    return [
        RouteSpec(f"{API}/roster", moderators(app, roster), methods=("GET",)),
        RouteSpec(f"{API}/csv", moderators(app, send_csv), methods=("POST",)),
        RouteSpec(f"{API}/csv-link", moderators(app, csv_link), methods=("POST",)),
        RouteSpec(rf"/app/download/(?P<token>{TOKEN})", download_route(app), methods=("GET",)),
        RouteSpec(f"{API}/pending", moderators(app, pending), methods=("GET",)),
        RouteSpec(f"{API}/decide", moderators(app, decide), methods=("POST",)),
        RouteSpec(f"{API}/held", moderators(app, decide_held), methods=("POST",)),
        RouteSpec(f"{API}/audit", moderators(app, audit), methods=("GET",)),
        RouteSpec(f"{API}/deadlines", moderators(app, deadlines), methods=("GET",)),
        RouteSpec(f"{API}/missing", moderators(app, missing), methods=("GET",)),
    ]
