"""The moderators' log chat, worked from: every mirrored action carries its undo button.

``note_action`` posts an action to ``moderation.log_chat_id``; a mute (or a flood mute) gets
*Unmute*, a ban *Unban*, a warning *Unwarn*, a removal *Readmit*. A press is checked like every
moderator button (``handlers.common.button`` with the action's group as the scope, so the
presser must moderate *that* group, asked live), then the entry is claimed with a conditional
update (``storage.log_entries``): a second press, a replayed one or a press on another replica
finds it taken and changes nothing. The undo is carried out in Telegram, recorded in the audit
log (actor: the presser, detail ``log chat``) and the entry is edited to say who undid it and
when. Data naming no entry, another action than the entry's, or another message than the one
the entry was posted as is refused politely.
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from config.schema import GroupConfig
from handlers.common import send_private
from handlers.moderation.actions import ban_sender, held, restrict
from handlers.moderation.common import (
    Outcome,
    Right,
    describe_action,
    language_of,
    names_of,
    refused,
    when,
)
from handlers.render import esc
from i18n import _, use_locale
from moderation.channels import is_channel_id
from runtime.context import BotContext, Services
from storage.log_entries import LogEntryRepository
from storage.models import ModerationAction
from storage.moderation import ModerationRepository

log = logging.getLogger(__name__)

CB_LOG = "lg"
DATA = re.compile(rf"^{CB_LOG}:(\d{{1,18}}):([a-z]{{1,16}})$")

# What each kind of action is undone by (kinds without an undo get no button).
UNDO_OF = {
    "mute": "unmute",
    "flood": "unmute",
    "ban": "unban",
    "warn": "unwarn",
    "remove": "readmit",
}


def _label(undo: str) -> str:
    labels = {
        "unmute": _("🔈 Unmute"),
        "unban": _("✅ Unban"),
        "unwarn": _("↩️ Unwarn"),
        "readmit": _("🚪 Readmit"),
    }
    return labels[undo]


def _done_words(undo: str) -> str:
    words = {
        "unmute": _("Unmuted"),
        "unban": _("Unbanned"),
        "unwarn": _("Warning withdrawn"),
        "readmit": _("Readmitted"),
    }
    return words[undo]


def entry_group(services: Services, data: str) -> int | None:
    """The group the pressed entry's action is about (the scope of the moderator check)."""
    match = DATA.match(data)
    if match is None:
        return None
    with services.db.transaction() as session:
        found = LogEntryRepository(session).entry(int(match.group(1)))
    return None if found is None else found[1].chat_id


def _entry_text(services: Services, action: ModerationAction) -> str:
    names = names_of(services, {i for i in (action.actor_id, action.target_id) if i})
    group = services.settings.group(action.chat_id)
    return describe_action(services, action, names, group.title if group else "")


async def note_action(context: BotContext, action: ModerationAction) -> None:
    """Mirror a recorded action to the log chat, with its undo button when it has one."""
    services = context.services
    chat_id = services.settings.moderation.log_chat_id
    if chat_id is None:
        return
    text = _entry_text(services, action)
    undo = UNDO_OF.get(action.kind) if action.target_id is not None else None
    markup = None
    entry_id = None
    if undo is not None:
        with services.db.transaction() as session:
            entry_id = LogEntryRepository(session).add(action.id, chat_id, undo).id
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(_label(undo), callback_data=f"{CB_LOG}:{entry_id}:{undo}")]]
        )
    try:
        sent = await context.bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramError as exc:
        log.warning("cannot write to the moderation log chat %s: %s", chat_id, exc)
        return
    if entry_id is not None:
        with services.db.transaction() as session:
            LogEntryRepository(session).posted(entry_id, sent.message_id)


# --------------------------------------------------------------------------- the press
def _refused(outcome: Outcome, group: GroupConfig, name: str, right: Right) -> str:
    """A plain-text answer (a callback answer is never parsed as markup)."""
    if outcome is Outcome.NO_RIGHT:
        return _(
            "I could not do that: in {group} I lack the admin right to {right}.",
            group=group.title,
            right=right.label(),
        )
    if outcome is Outcome.NOT_PRESENT:
        return _("{name} is not in {group}.", name=name, group=group.title)
    if outcome is Outcome.PROTECTED:
        return _("Telegram does not let me act on {name}: they are an admin.", name=name)
    return _("Telegram refused that; nothing was changed. Please try again later.")


async def _unban(context: BotContext, group: GroupConfig, user_id: int) -> Outcome:
    if is_channel_id(user_id):
        return await ban_sender(context, group, user_id, False)
    try:
        await context.bot.unban_chat_member(group.chat_id, user_id, only_if_banned=True)
    except (BadRequest, Forbidden) as exc:
        return await refused(context, group, Right.RESTRICT, exc)
    return Outcome.DONE


async def _carry_out(
    context: BotContext, group: GroupConfig, action: ModerationAction, undo: str, by_id: int
) -> str | None:
    """Undo the action in Telegram and the tables; None when done, else why not (plain text)."""
    services = context.services
    user_id = action.target_id
    assert user_id is not None
    name = names_of(services, {user_id}).get(user_id, str(user_id))
    now = services.clock.now()
    if undo == "unmute":
        if held(services, group, user_id):
            return _(
                "{name} is read-only until their introduction is complete; that lifts by "
                "itself when it is done.",
                name=name,
            )
        outcome = await restrict(context, group, user_id, None)
        if outcome is not Outcome.DONE:
            return _refused(outcome, group, name, Right.RESTRICT)
        with services.db.transaction() as session:
            ModerationRepository(session).end_mutes(group.chat_id, user_id, now)
        with use_locale(language_of(services, user_id)):
            told = _("You can write in {group} again.", group=esc(group.title))
        await send_private(context, user_id, told)
    elif undo in ("unban", "readmit"):
        outcome = await _unban(context, group, user_id)
        if outcome is not Outcome.DONE:
            return _refused(outcome, group, name, Right.RESTRICT)
    elif undo == "unwarn":
        with services.db.transaction() as session:
            withdrawn = ModerationRepository(session).revoke_warning(action, by_id, now)
        if not withdrawn:
            return _("That warning was already withdrawn.")
        with use_locale(language_of(services, user_id)):
            told = _(
                "The moderators of {group} withdrew your warning of {at}.",
                group=esc(group.title),
                at=esc(when(services, group, action.at)),
            )
        await send_private(context, user_id, told)
    return None


async def undo_button(update: Update, context: BotContext) -> None:
    """A moderator pressed an entry's undo button (the moderator check ran before)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    match = DATA.match(query.data)
    found = None
    if match is not None:
        with services.db.transaction() as session:
            found = LogEntryRepository(session).entry(int(match.group(1)))
    message = query.message
    group = None if found is None else services.settings.group(found[1].chat_id)
    if (
        match is None
        or found is None
        or group is None
        or found[0].undo != match.group(2)
        or message is None
        or (message.chat.id, message.message_id) != (found[0].chat_id, found[0].message_id)
    ):
        await query.answer(_("Sorry, that button is not valid."), show_alert=True)
        return
    entry, action = found
    if entry.undone_at is not None:
        await query.answer(_("This was already undone."), show_alert=True)
        return
    presser = query.from_user
    now = services.clock.now()
    with services.db.transaction() as session:
        claimed = LogEntryRepository(session).claim(entry.id, presser.id, now)
    if not claimed:
        await query.answer(_("This was already undone."), show_alert=True)
        return
    problem = await _carry_out(context, group, action, entry.undo, presser.id)
    if problem is not None:
        with services.db.transaction() as session:
            LogEntryRepository(session).release(entry.id, presser.id, now)
        await query.answer(problem, show_alert=True)
        return
    with services.db.transaction() as session:
        ModerationRepository(session).record(
            group.chat_id,
            entry.undo,
            action.target_id,
            now,
            actor_id=presser.id,
            reason=action.reason if entry.undo == "unwarn" else "",
            detail="log chat",
        )
    text = (
        _entry_text(services, action)
        + "\n"
        + _(
            "{done} by {name}, {at}",
            done=_done_words(entry.undo),
            name=esc(presser.full_name),
            at=esc(when(services, group, now)),
        )
    )
    try:
        await query.edit_message_text(text, reply_markup=None)
    except TelegramError as exc:
        log.warning("cannot edit the log entry %s: %s", entry.id, exc)
    if entry.undo == "readmit":
        await query.answer(
            _(
                "Done: they may come back through a sponsor. /readmit in private with me gives "
                "you a fresh sponsored link."
            )
        )
    else:
        await query.answer(_("Done."))
