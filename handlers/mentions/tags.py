"""``/tags``: the group's tags with how many people each reaches; opting in and out."""

from __future__ import annotations

import html
import logging

from telegram import (
    Chat,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import TelegramError

from config.schema import GroupConfig
from handlers.common import role
from handlers.mentions.common import group_tags, load_members
from handlers.mentions.reach import CB_REACH, change_reach, reach_button, reach_line
from handlers.mentions.render import TagChange, TagOutcome, tag_change_text, tags_overview_text
from handlers.render import truncate
from i18n import _
from moderation import mentions as rules
from moderation.permissions import Role
from runtime.context import BotContext, Services
from storage.mentions import MentionRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


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


def tags_overview(
    services: Services, group: GroupConfig, user_id: int, private: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The tags of a group with how many people each reaches, and yours (with buttons)."""
    members = load_members(services, group)
    tags = group_tags(services, group, members)
    with services.db.transaction() as session:
        prefs = MentionRepository(session).preferences()
    me = next((m for m in members if m.user_id == user_id), None)
    lines, markup = tags_overview_text(
        group.title, group.mentions, tags, members, prefs, me, private
    )
    if me is not None and private:
        lines.append(reach_line(services, group, user_id))
        rows = [list(row) for row in markup.inline_keyboard] if markup else []
        markup = InlineKeyboardMarkup([*rows, [reach_button(services, group, user_id)]])
    return "\n".join(lines), markup


def change_tag(
    services: Services, group: GroupConfig, user_id: int, typed: str, join: bool | None
) -> TagOutcome:
    """Opt in (True), out (False) or toggle (None); returns what it came to
    (``tag_change_text`` says it)."""
    policy = group.mentions
    key = rules.tag_key(typed.lstrip("@"))
    if key in rules.RESERVED:
        return TagOutcome(TagChange.RESERVED)
    members = load_members(services, group)
    tags = group_tags(services, group, members)
    tag = tags.get(key)
    if tag is None:
        if not policy.tags:
            return TagOutcome(TagChange.NO_TAGS)
        known = [t.name for t in tags.values()]
        return TagOutcome(TagChange.UNKNOWN, typed.lstrip("@"), known)
    me = next((m for m in members if m.user_id == user_id), None)
    if me is None:
        return TagOutcome(TagChange.NOT_A_MEMBER, tag.name, group=group.title)
    with services.db.transaction() as session:
        repo = MentionRepository(session)
        prefs = repo.preferences(user_id)
        now_in = rules.in_tag(me, key, policy.tags, prefs)
        wanted = (not now_in) if join is None else join
        if wanted == now_in:
            return TagOutcome(TagChange.ALREADY_IN if now_in else TagChange.ALREADY_OUT, tag.name)
        derived = key in rules.derived_tags(me, policy.tags)
        # Back to what the introduction says when that is what you want: no row to keep.
        repo.set_preference(
            user_id, key, None if wanted == derived else wanted, services.clock.now()
        )
    return TagOutcome(TagChange.JOINED if wanted else TagChange.LEFT, tag.name)


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
    if action in ("private", "group") and len(args) == 1:
        await message.reply_text(change_reach(services, group, user.id, action == "private"))
        return
    if action not in ("on", "off") or len(args) != 2 or len(args[1]) > 64:
        await message.reply_text(
            _(
                "Send /tags to see the tags, /tags off TAG to leave one or /tags on TAG to join "
                "one (for example /tags off wash); /tags private to be told about @all and "
                "tags by a private message, /tags group to be mentioned in the group."
            )
        )
        return
    outcome = change_tag(services, group, user.id, args[1], action == "on")
    await message.reply_text(tag_change_text(outcome))


async def on_tag_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    services = context.services
    group = _group_for(services, update)
    prefix, _sep, key = (query.data or "").partition(":")
    if group is None or not key or (prefix == CB_REACH and key not in ("p", "g")):
        await query.answer(_("This button is not valid any more."))
        return
    if prefix == CB_REACH:
        answer = change_reach(services, group, query.from_user.id, key == "p")
    else:
        answer = tag_change_text(change_tag(services, group, query.from_user.id, key, None))
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
