"""Looking at the membership: /whois for members, /members and /pending for moderators."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import CommandHandler, filters

from config.schema import GroupConfig
from handlers.common import button, reply, role_here
from handlers.member_cards import (
    PAGE_BUTTON,
    Match,
    MembersPage,
    PendingIntro,
    PendingJoin,
    RosterLine,
    WhoisCard,
    members_page_keyboard,
    members_page_text,
    pending_lines,
    several_matches,
    whois_card,
)
from handlers.order import Stage
from handlers.render import chunk_lines, esc
from handlers.targets import find_members
from handlers.targets import roster_name as _name
from handlers.topics import replied_to
from handlers.webapp import with_open_row
from i18n import N_, _, ngettext
from moderation.introductions import IntroStatus
from moderation.permissions import CommandSpec, Role, Where
from moderation.spreadsheet import safe_row
from runtime.context import App, BotContext, Services
from storage.introductions import IntroductionRepository
from storage.models import Introduction, Membership, User
from storage.roster import RosterRepository

COMMANDS = [
    CommandSpec("whois", "A member's introduction", usage=N_("@username | name (or reply)")),
    CommandSpec(
        "members",
        "List the members; add csv for a file",
        Role.MODERATOR,
        Where.PRIVATE,
        usage="[csv]",
    ),
    CommandSpec(
        "pending", "Join requests and unfinished introductions", Role.MODERATOR, Where.PRIVATE
    ),
]


MEMBERS_PER_PAGE = 25  # one message on a phone; 25 mention links stay far below 100 entities


async def whois(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services

    async def answer(render: Callable[[], str]) -> None:
        await reply(update, context, render)

    query = " ".join(context.args or [])
    target_id = None
    replied = replied_to(message)
    if replied is not None and replied.from_user is not None:
        target_id = replied.from_user.id
    elif not query:
        await answer(
            lambda: _(
                "Whom should I look up? Reply to their message with /whois, "
                "or send /whois @username or /whois First Last."
            )
        )
        return
    if len(query) > 100:
        await answer(lambda: _("That name is too long; send at most 100 characters."))
        return
    with services.db.transaction() as session:
        roster, repo = RosterRepository(session), IntroductionRepository(session)
        groups = [
            g
            for g in services.settings.groups
            if (m := roster.membership(g.chat_id, user.id)) is not None and m.present
        ]
        if not groups and await role_here(update, context) is not Role.MODERATOR:
            allowed = False
        else:
            allowed = True
            group = groups[0] if groups else services.settings.groups[0]
            rows = list(repo.members(group.chat_id))
            matches = (
                [r for r in rows if r[1].id == target_id]
                if target_id is not None
                else find_members(rows, query)
            )
            sponsors = {r[2].sponsor_id for r in matches if r[2] and r[2].sponsor_id}
            sponsor_names = {
                uid: u.display_name for uid in sponsors if (u := roster.user(uid)) is not None
            }
    if not allowed:
        await answer(lambda: _("Only members of the group can look people up."))
        return
    if not matches:
        if query:
            await answer(lambda: _("No current member matches {query}.", query=esc(query)))
        else:
            await answer(lambda: _("No current member matches that message."))
        return
    if len(matches) > 1:
        found = [Match(_name(u, i), u.username) for _m, u, i in matches]
        await answer(lambda: several_matches(found))
        return
    membership, member, intro = matches[0]
    card = WhoisCard(
        member=Match(_name(member, intro), member.username),
        intro=intro,
        sponsor=sponsor_names.get(intro.sponsor_id or 0) if intro else None,
        joined_at=membership.joined_at,
        zone=services.settings.group_timezone(group),
    )
    await answer(lambda: whois_card(card))


async def members(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    as_csv = bool(context.args) and context.args[0].lower() == "csv"  # type: ignore[index]
    for group in services.settings.groups:
        if as_csv:
            content, filename, caption = members_csv(services, group)
            await message.reply_document(content, filename=filename, caption=caption)
            continue
        text, markup = members_page(services, group, 0)
        await message.reply_text(text, reply_markup=markup)


def members_of(
    services: Services, group: GroupConfig
) -> tuple[list[tuple[Membership, User, Introduction | None]], dict[int, str]]:
    """A group's present members (alphabetical) with their sponsors' names: what /members,
    its CSV and the Mini App's roster show."""
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        rows = list(IntroductionRepository(session).members(group.chat_id))
        sponsors = {r[2].sponsor_id for r in rows if r[2] and r[2].sponsor_id}
        names = {uid: u.display_name for uid in sponsors if (u := roster.user(uid))}
    return rows, names


def members_csv(services: Services, group: GroupConfig) -> tuple[bytes, str, str]:
    """/members csv: the file's content, its name and its caption (current language)."""
    rows, names = members_of(services, group)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "user_id",
            "username",
            "name",
            "organisation",
            "role",
            "category",
            "end_date",
            "sponsor",
            "status",
            "introduction",
            "joined_at",
        ]
    )
    for membership, user, intro in rows:
        writer.writerow(
            safe_row(
                [
                    user.id,
                    user.username or "",
                    _name(user, intro),
                    intro.organisation if intro else "",
                    intro.role if intro else "",
                    intro.category.value if intro and intro.category else "",
                    intro.end_date.isoformat() if intro and intro.end_date else "",
                    names.get(intro.sponsor_id or 0, "") if intro else "",
                    membership.status.value,
                    intro.status.value if intro else "",
                    membership.joined_at.isoformat(),
                ]
            )
        )
    caption = ngettext(
        "{group}: {n} member", "{group}: {n} members", len(rows), group=esc(group.title)
    )
    return buffer.getvalue().encode("utf-8-sig"), f"members-{group.chat_id}.csv", caption


def members_page(
    services: Services, group: GroupConfig, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of a group's members (alphabetical), read now, with Previous/Next buttons."""
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        rows = list(IntroductionRepository(session).members(group.chat_id))
        pages = max(1, -(-len(rows) // MEMBERS_PER_PAGE))
        page = min(max(page, 0), pages - 1)
        shown = rows[page * MEMBERS_PER_PAGE : (page + 1) * MEMBERS_PER_PAGE]
        sponsors = {r[2].sponsor_id for r in shown if r[2] and r[2].sponsor_id}
        names = {uid: u.display_name for uid in sponsors if (u := roster.user(uid))}
        lines = [
            RosterLine(
                user_id=user.id,
                name=_name(user, intro),
                organisation=intro.organisation if intro else None,
                category=intro.category if intro else None,
                sponsor=names.get(intro.sponsor_id or 0) if intro else None,
                status=intro.status if intro else None,
            )
            for _membership, user, intro in shown
        ]
    result = MembersPage(group.chat_id, group.title, len(rows), page, pages, lines)
    markup = members_page_keyboard(result)
    return members_page_text(result), with_open_row(services, markup, screen="moderation")


def page_group(services: Services, data: str) -> int | None:
    """The group a roster page button shows: only that group's moderators may turn its pages."""
    raw_chat = data.removeprefix(PAGE_BUTTON).rpartition(":")[0]
    group = services.settings.group(int(raw_chat))
    return None if group is None else group.chat_id


async def members_page_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    raw_chat, _sep, raw_page = query.data.removeprefix(PAGE_BUTTON).rpartition(":")
    group = context.services.settings.group(int(raw_chat))
    if group is None:  # forged: not a configured group
        await query.answer(_("This button is not valid."), show_alert=True)
        return
    text, markup = members_page(context.services, group, int(raw_page))
    await query.answer()
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:  # the same page again: Telegram refuses an edit that changes nothing
        if "not modified" not in exc.message.lower():
            raise


async def pending(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        repo, roster = IntroductionRepository(session), RosterRepository(session)
        requests = list(repo.open_join_requests())
        intros = list(repo.incomplete())
        users = {
            uid: roster.user(uid)
            for uid in {r.user_id for r in requests} | {i.user_id for i in intros}
        }

    def name(user_id: int) -> str:
        user = users.get(user_id)
        return user.display_name if user else str(user_id)

    lines = pending_lines(
        [
            PendingJoin(name(r.user_id), r.status == "sponsored", now - r.requested_at)
            for r in requests
        ],
        [
            PendingIntro(
                name(i.user_id),
                held=i.status is IntroStatus.HELD,
                sponsor_done=i.sponsor_done_at is not None,
                confirmed=i.confirmed_at is not None,
                waited=now - i.joined_at if i.joined_at else None,
            )
            for i in intros
        ],
    )
    chunks = chunk_lines(lines)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        await message.reply_text(
            chunk, reply_markup=with_open_row(services, None, "moderation") if last else None
        )


def register(app: App) -> None:
    app.add_handler(CommandHandler("whois", whois), group=Stage.FEATURES)
    app.add_handler(
        CommandHandler("members", members, filters=filters.ChatType.PRIVATE), group=Stage.FEATURES
    )
    app.add_handler(
        button(members_page_button, r"^mem:-?\d{1,16}:\d{1,5}$", Role.MODERATOR, page_group),
        group=Stage.FEATURES,
    )
    app.add_handler(
        CommandHandler("pending", pending, filters=filters.ChatType.PRIVATE), group=Stage.FEATURES
    )
