"""Mentions: ``@all``, ``@moderators``, tag groups (``@wash``, ``@unicef``), names of people
without a username, and ``/tags``.

The rules (who a mention reaches, batching, cooldowns, pacing) are in ``moderation.mentions``.
This module reads group messages in its own handler group, so it never swallows a command or
another feature's message. A broadcast is stored as rows (``mention_outbox``) and sent by a
paced dispatcher: the notice goes at once, the remaining batches at most ``per_minute`` a
minute per group, by the ``mention-batches`` sweep, so the update handler never waits.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import cast

from sqlalchemy.orm import Session
from telegram import (
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from config.schema import GroupConfig
from delivery import mentions as paced
from delivery.mentions import Outgoing
from handlers.common import Text, current_role, role, send_private
from handlers.order import Stage
from handlers.render import esc, esc_attr, mention, truncate
from i18n import _, duration_text, ngettext, use_locale
from moderation import mentions as rules
from moderation.mentions import Addressed, Member, NameOutcome, Tag, TagKind
from moderation.permissions import CommandSpec, Role
from runtime.context import App, BotContext, Services, Sweep, services_of
from storage.mentions import MentionRepository, outbox_user_ids
from storage.models import MentionBroadcast, MentionOutbox, User
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

CB_TAG = "tag"
NAME_LENGTH = 40  # a mention shows at most this much of a name
MAX_BUTTONS = 30
MAX_PER_RUN = 3  # mention messages one run of the sweep sends to a group

COMMANDS = [
    CommandSpec(
        "tags",
        "Tag groups such as @wash or @unicef; opt in or out",
        usage="[on|off TAG]",
    ),
]


# --------------------------------------------------------------------------- helpers
def moderator_ids(services: Services, chat_id: int) -> set[int]:
    """The group's moderators: configured ones and, if enabled, its admins (via ``role``)."""
    with services.db.transaction() as session:
        candidates = set(services.settings.moderators) | RosterRepository(session).admin_ids(
            chat_id
        )
    return {uid for uid in candidates if role(services, uid, chat_id) is Role.MODERATOR}


def load_members(services: Services, group: GroupConfig) -> list[Member]:
    moderators = moderator_ids(services, group.chat_id)
    with services.db.transaction() as session:
        return MentionRepository(session).members(group.chat_id, moderators)


def group_tags(services: Services, group: GroupConfig, members: list[Member]) -> dict[str, Tag]:
    settings = services.settings
    return rules.available_tags(
        group.mentions.tags, members, settings.organisations, settings.clusters
    )


def mention_of(user: User) -> str:
    """``@username`` (Telegram turns it into a mention) or a ``tg://user`` link."""
    if user.username:
        return "@" + esc_attr(user.username)
    return mention(user.id, truncate(user.display_name, NAME_LENGTH))


def _label_of(member: Member) -> str:
    name = member.full_names[-1] if member.full_names else str(member.user_id)
    extra = [f"@{member.username}"] if member.username else []
    if member.organisation:
        extra.append(member.organisation)
    return f"{name} ({', '.join(extra)})" if extra else name


# --------------------------------------------------------------------------- group messages
async def on_message(update: Update, context: BotContext) -> None:
    message = update.message
    if message is None:
        return
    user = message.from_user
    text = message.text or message.caption
    # Never the bot itself, other bots, anonymous admins or channels posting in the group.
    if user is None or user.is_bot or message.sender_chat is not None:
        return
    if not text or "@" not in text:
        return
    services = context.services
    group = services.settings.group(message.chat.id)
    if group is None:
        return
    policy = group.mentions
    members = load_members(services, group)
    tags = group_tags(services, group, members)
    who = rules.addressed(text, tags.keys(), policy.anywhere)
    if who.broadcast:
        await broadcast(context, message, group, members, tags, who, text)
    elif who.names and policy.names:
        await name_mentions(context, message, members, who)


async def refuse(context: BotContext, user_id: int, text: Text) -> None:
    """A refused broadcast is explained privately, never in the group (pass a callable: it is
    rendered in the author's own language, not the group's)."""
    if not await send_private(context, user_id, text):
        log.info("could not explain a refused mention to %s privately", user_id)


async def broadcast(
    context: BotContext,
    message: Message,
    group: GroupConfig,
    members: list[Member],
    tags: dict[str, Tag],
    who: Addressed,
    text: str,
) -> None:
    services = context.services
    policy = group.mentions
    author = message.from_user
    assert author is not None
    label = who.label(tags)
    moderator = await current_role(context, author.id, group.chat_id) is Role.MODERATOR
    if who.everyone and not rules.may_use(policy.all, moderator):
        title = esc(group.title)
        if policy.all == "off":
            await refuse(
                context, author.id, lambda: _("@all is turned off in {group}.", group=title)
            )
        else:
            await refuse(
                context,
                author.id,
                lambda: _("Only the moderators can use @all in {group}.", group=title),
            )
        return
    if who.tags and not rules.may_use(policy.tags_by, moderator):
        await refuse(
            context,
            author.id,
            lambda: _(
                "Only the moderators can use tags such as {label} in {group}.",
                label=esc_attr(label),
                group=esc(group.title),
            ),
        )
        return
    kind = "all" if who.everyone else "tag"
    chosen: list[int] = []
    cooldown = policy.all_cooldown if who.everyone else policy.tag_cooldown
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = MentionRepository(session)
        left = rules.cooldown_left(
            repo.last_broadcast(group.chat_id, author.id, kind), now, cooldown
        )
        if left and not moderator:
            wait = rules.minutes_text(left)

            def refusal() -> str:
                return ngettext(
                    "To keep the group quiet, I mention people for you at most every "
                    "{cooldown}: you can send {label} again in {n} minute.",
                    "To keep the group quiet, I mention people for you at most every "
                    "{cooldown}: you can send {label} again in {n} minutes.",
                    wait,
                    label=esc_attr(label),
                    cooldown=duration_text(cooldown),
                )

            refused = True
        else:
            refused = False
            prefs = repo.preferences()
            chosen = rules.recipients(members, author.id, who, policy.tags, prefs)
            if chosen:
                parts = rules.batches(chosen, policy.batch_size)
                due = rules.schedule(
                    now, repo.queue_end(group.chat_id), len(parts), policy.per_minute
                )
                repo.add_broadcast(
                    MentionBroadcast(
                        chat_id=group.chat_id,
                        author_id=author.id,
                        kind=kind,
                        label=label[:255],
                        quote=rules.quote(rules.without_leading(text, tags.keys())),
                        source_message_id=message.message_id,
                        recipients=len(chosen),
                        created_at=now,
                    ),
                    parts,
                    due,
                )
    if refused:
        await refuse(context, author.id, refusal)
        return
    if not chosen:
        await refuse(
            context,
            author.id,
            lambda: _(
                "Nobody else is in {label} yet, so I notified no one.", label=esc_attr(label)
            ),
        )
        return
    # The notice goes now (if the group's pace allows); the batches follow from the sweep.
    await dispatch(cast(App, context.application), group, limit=1)


async def name_mentions(
    context: BotContext, message: Message, members: list[Member], who: Addressed
) -> None:
    """``@Firstname [Lastname]`` at the start: one reply mentioning the people meant."""
    author = message.from_user
    assert author is not None
    found: list[Member] = []
    unclear = []
    for item in who.names:
        match = rules.match_name(item, members, author.id)
        if match.outcome is NameOutcome.ONE and match.member not in found:
            found.append(match.member)
        elif match.outcome is NameOutcome.AMBIGUOUS:
            unclear.append(match)
    if found:
        names = ", ".join(
            mention(m.user_id, truncate(m.full_names[-1], NAME_LENGTH)) for m in found
        )
        await message.reply_text(
            _("🔔 {names}: {author} is writing to you.", names=names, author=esc(author.full_name))
        )
    for match in unclear:
        options = "\n".join(f"• {esc(_label_of(m))}" for m in match.candidates[:10])
        await refuse(context, author.id, _several(esc(match.typed), options))


def _several(name: str, options: str) -> Callable[[], str]:
    def render() -> str:
        return _(
            "Several members are called {name}, so I did not notify anyone:\n{options}\n"
            "Write the full name (@First Last) or reply to their message.",
            name=name,
            options=options,
        )

    return render


# --------------------------------------------------------------------------- paced sending
def render(
    broadcast_row: MentionBroadcast,
    row: MentionOutbox,
    parts: int,
    users: dict[int, User],
    author: User | None,
) -> str | None:
    """The notice (``seq`` 0: quote, link, first mentions) or a later batch of mentions."""
    ids = [uid for uid in outbox_user_ids(row.user_ids) if uid in users]
    mentions = ", ".join(mention_of(users[uid]) for uid in ids)
    author_name = esc(author.display_name if author else _("someone"))
    label = esc(broadcast_row.label)
    if row.seq > 0:
        if not ids:
            return None
        return _(
            "📣 {label} from {author} ({part}/{parts}): {mentions}",
            label=label,
            author=author_name,
            part=row.seq + 1,
            parts=parts,
            mentions=mentions,
        )
    lines = [
        ngettext(
            "📣 {author} → {label} ({n} person): “{quote}”",
            "📣 {author} → {label} ({n} people): “{quote}”",
            broadcast_row.recipients,
            author=author_name,
            label=label,
            quote=esc(broadcast_row.quote),
        )
    ]
    link = rules.message_link(broadcast_row.chat_id, broadcast_row.source_message_id)
    if link is not None:
        # Not a placeholder in href: in Arabic _() would isolate the URL and break it.
        label_text = _("Open the message")
        lines.append(f'<a href="{esc_attr(link)}">{label_text}</a>')
    if mentions:
        lines.append(mentions)
    return "\n".join(lines)


def compose(session: Session, group: GroupConfig, row: MentionOutbox) -> Outgoing | None:
    """The text of a claimed mention message (``delivery.mentions.Compose``)."""
    repo = MentionRepository(session)
    parent = repo.broadcast(row.broadcast_id)
    if parent is None:
        return None
    users = repo.present_users(group.chat_id, outbox_user_ids(row.user_ids))
    author = RosterRepository(session).user(parent.author_id)
    parts = len(repo.outbox(parent.id))
    # One language (the group's first): a second copy would repeat every mention.
    with use_locale(group.languages[0]):
        text = render(parent, row, parts, users, author)
    return Outgoing(row.id, text, parent.source_message_id)


async def dispatch(app: App, group: GroupConfig, limit: int | None = None) -> int:
    """Send the group's due mention messages (``delivery.mentions``); how many were sent."""
    return await paced.dispatch(app, group, compose, limit)


async def dispatch_all(app: App) -> None:
    # A few per run keeps each run short (the sweep runs every 2 s); after downtime the
    # backlog trickles out at the group's pace instead of in one burst.
    for group in services_of(app).settings.groups:
        await dispatch(app, group, limit=MAX_PER_RUN)


SWEEPS = [Sweep("mention-batches", timedelta(seconds=2), dispatch_all)]


# --------------------------------------------------------------------------- /tags
def _group_for(services: Services, update: Update) -> GroupConfig | None:
    """The group /tags is about: this group, or (in private) the first one you are in."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return None
    here = services.settings.group(chat.id)
    if here is not None:
        return here
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        for group in services.settings.groups:
            membership = roster.membership(group.chat_id, user.id)
            if membership is not None and membership.present:
                return group
    if role(services, user.id) is Role.MODERATOR:
        return services.settings.groups[0]
    return None


def _kind_title(kind: TagKind) -> str:
    if kind is TagKind.ORGANISATION:
        return _("Organisations")
    if kind is TagKind.CLUSTER:
        return _("Clusters")
    return _("Locations")


def tags_overview(
    services: Services, group: GroupConfig, user_id: int, private: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The tags of a group with how many people each reaches, and yours (with buttons)."""
    policy = group.mentions
    members = load_members(services, group)
    tags = group_tags(services, group, members)
    with services.db.transaction() as session:
        prefs = MentionRepository(session).preferences()
    me = next((m for m in members if m.user_id == user_id), None)
    people = [m for m in members if not m.is_bot]
    lines = [_("<b>Mentions in {group}</b> (at the start of a message)", group=esc(group.title))]
    if policy.all == "off":
        lines.append(_("@all — turned off here"))
    elif policy.all == "moderators":
        lines.append(_("@all — everyone; only moderators may use it"))
    else:
        lines.append(
            _(
                "@all — everyone; each person at most once every {cooldown}",
                cooldown=duration_text(policy.all_cooldown),
            )
        )
    lines.append(_("@moderators — the moderators"))
    mine: list[Tag] = []
    for kind in policy.tags:
        of_kind = [t for t in tags.values() if kind in t.kinds]
        if not of_kind:
            continue
        shown = []
        for tag in of_kind:
            count = sum(1 for m in people if rules.in_tag(m, tag.key, policy.tags, prefs))
            shown.append(f"@{esc_attr(tag.name)} ({count})")
        lines.append(f"<b>{_kind_title(kind)}</b>: " + ", ".join(shown))
    if policy.tags:
        if policy.tags_by == "moderators":
            lines.append(_("Only moderators may use these tags."))
    else:
        lines.append(_("No tag groups are enabled in this group."))
    if policy.names:
        lines.append(
            _("@Firstname or @Firstname Lastname also reaches a member without a username.")
        )
    markup = None
    if me is not None and policy.tags:
        mine = [t for t in tags.values() if rules.in_tag(me, t.key, policy.tags, prefs)]
        if mine:
            lines.append(
                _("You are in: {tags}.", tags=", ".join(f"@{esc_attr(t.name)}" for t in mine))
            )
        else:
            lines.append(_("You are in no tag group."))
        lines.append(_("Opt in or out: /tags on TAG, /tags off TAG (e.g. /tags off wash)."))
        if private:
            buttons = []
            for tag in list(tags.values())[:MAX_BUTTONS]:
                data = f"{CB_TAG}:{tag.key}"
                if len(data.encode()) > 64:
                    continue
                joined = tag in mine
                buttons.append(
                    InlineKeyboardButton(
                        ("✓ " if joined else "") + f"@{tag.name}", callback_data=data
                    )
                )
            rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
            markup = InlineKeyboardMarkup(rows) if rows else None
        else:
            lines.append(_("Send me /tags privately to use buttons."))
    return "\n".join(lines), markup


def change_tag(
    services: Services, group: GroupConfig, user_id: int, typed: str, join: bool | None
) -> str:
    """Opt in (True), out (False) or toggle (None); returns the answer to show."""
    policy = group.mentions
    key = rules.tag_key(typed.lstrip("@"))
    if key in rules.RESERVED:
        return _(
            "Everyone is in @all and @moderators reaches every moderator; you cannot leave them."
        )
    members = load_members(services, group)
    tags = group_tags(services, group, members)
    tag = tags.get(key)
    if tag is None:
        known = ", ".join(f"@{esc_attr(t.name)}" for t in list(tags.values())[:40])
        if not policy.tags:
            return _("No tag groups are enabled in this group.")
        return _(
            "There is no tag {tag}. Tags here: {known}.",
            tag=esc("@" + truncate(typed.lstrip("@"), 40)),
            known=known or "—",
        )
    me = next((m for m in members if m.user_id == user_id), None)
    if me is None:
        return _("Only members of {group} are in its tags.", group=esc(group.title))
    with services.db.transaction() as session:
        repo = MentionRepository(session)
        prefs = repo.preferences(user_id)
        now_in = rules.in_tag(me, key, policy.tags, prefs)
        wanted = (not now_in) if join is None else join
        if wanted == now_in:
            if now_in:
                return _("You are already in @{tag}.", tag=esc_attr(tag.name))
            return _("You are not in @{tag}.", tag=esc_attr(tag.name))
        derived = key in rules.derived_tags(me, policy.tags)
        # Back to what the introduction says when that is what you want: no row to keep.
        repo.set_preference(
            user_id, key, None if wanted == derived else wanted, services.clock.now()
        )
    if wanted:
        return _("You are in @{tag}: messages for @{tag} will mention you.", tag=esc_attr(tag.name))
    return _("You left @{tag}: messages for @{tag} will not mention you.", tag=esc_attr(tag.name))


async def tags_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    group = _group_for(services, update)
    if group is None:
        await message.reply_text(_("Tags are for members of the group; I don't see you in it."))
        return
    args = context.args or []
    private = message.chat.type == Chat.PRIVATE
    if not args:
        text, markup = tags_overview(services, group, user.id, private)
        await message.reply_text(text, reply_markup=markup)
        return
    action = args[0].lower()
    if action not in ("on", "off") or len(args) != 2 or len(args[1]) > 64:
        await message.reply_text(
            _(
                "Send /tags to see the tags, /tags off TAG to leave one or /tags on TAG to join "
                "one (for example /tags off wash)."
            )
        )
        return
    await message.reply_text(change_tag(services, group, user.id, args[1], action == "on"))


async def on_tag_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    services = context.services
    group = _group_for(services, update)
    key = (query.data or "").partition(":")[2]
    if group is None or not key:
        await query.answer(_("This button is not valid any more."))
        return
    answer = change_tag(services, group, query.from_user.id, key, None)
    await query.answer(truncate(html.unescape(answer), 190))
    if query.message is not None:
        text, markup = tags_overview(services, group, query.from_user.id, private=True)
        try:
            await context.bot.edit_message_text(
                text,
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=markup,
            )
        except TelegramError as exc:
            log.info("could not refresh the /tags message: %s", exc)


def register(app: App) -> None:
    app.add_handler(CommandHandler("tags", tags_command), group=Stage.FEATURES)
    app.add_handler(
        CallbackQueryHandler(on_tag_button, pattern=rf"^{CB_TAG}:"), group=Stage.FEATURES
    )
    app.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS
            & filters.UpdateType.MESSAGE
            & (filters.Regex("@") | filters.CaptionRegex("@"))  # nothing to do without one
            & ~filters.COMMAND
            & ~filters.FORWARDED
            & ~filters.VIA_BOT,
            on_message,
        ),
        group=Stage.MENTIONS,
    )
