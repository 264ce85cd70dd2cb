"""/audit: the moderation log, paged, for moderators in private."""

from __future__ import annotations

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from handlers.moderation.common import describe_action, names_of
from handlers.render import chunk_lines
from handlers.targets import TargetError, resolve_target
from i18n import _
from runtime.context import BotContext, Services
from storage.moderation import ModerationRepository

CB_AUDIT = "audit"
AUDIT_PAGE = 25


# --------------------------------------------------------------------------- /audit
def audit_page(
    services: Services, target_id: int | None, offset: int
) -> tuple[list[str], InlineKeyboardMarkup | None]:
    chat_ids = [g.chat_id for g in services.settings.groups]
    with services.db.transaction() as session:
        actions, total = ModerationRepository(session).actions(
            chat_ids, target_id, offset, AUDIT_PAGE
        )
    ids = {i for a in actions for i in (a.actor_id, a.target_id) if i}
    names = names_of(services, ids)
    several = len(chat_ids) > 1
    lines = [
        _(
            "<b>Moderation log</b> ({first}–{last} of {total}, newest first)",
            first=offset + 1 if actions else 0,
            last=offset + len(actions),
            total=total,
        )
    ]
    for action in actions:
        group = services.settings.group(action.chat_id)
        lines.append(
            describe_action(services, action, names, group.title if several and group else "")
        )
    if not actions:
        lines.append(_("Nothing recorded."))
    markup = None
    if offset + len(actions) < total:
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Older"),
                        callback_data=f"{CB_AUDIT}:{target_id or 0}:{offset + AUDIT_PAGE}",
                    )
                ]
            ]
        )
    return lines, markup


async def _send_audit(
    message: Message, lines: list[str], markup: InlineKeyboardMarkup | None
) -> None:
    chunks = chunk_lines(lines)
    for index, chunk in enumerate(chunks):
        await message.reply_text(chunk, reply_markup=markup if index == len(chunks) - 1 else None)


async def audit_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if message.chat.type != Chat.PRIVATE:
        await message.reply_text(_("Send /audit to me privately: the log is for moderators."))
        return
    services = context.services
    target_id: int | None = None
    if context.args:
        try:
            target = resolve_target(
                services, services.settings.groups[0].chat_id, None, list(context.args)
            )
        except TargetError as exc:
            await message.reply_text(str(exc))
            return
        target_id = target.user_id
    lines, markup = audit_page(services, target_id, 0)
    await _send_audit(message, lines, markup)


async def audit_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    parts = query.data.split(":")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        await query.answer()
        return
    await query.answer()
    target_id = int(parts[1]) or None
    lines, markup = audit_page(context.services, target_id, int(parts[2]))
    if isinstance(query.message, Message):
        await _send_audit(query.message, lines, markup)
