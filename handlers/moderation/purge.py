"""/offtopic and /purge."""

from __future__ import annotations

from telegram import Update

from handlers.moderation.actions import delete
from handlers.moderation.common import Outcome, Right, missing_right_reply, record
from handlers.moderation.logchat import note_action
from handlers.moderation.orders import prepare
from handlers.moderation.render import Purged, purge_summary
from handlers.render import esc, esc_attr
from handlers.topics import replied_to
from i18n import _
from moderation.audit_details import purge_detail
from moderation.discipline import deletable
from runtime.context import BotContext
from storage.moderation import ModerationRepository


# --------------------------------------------------------------------------- /offtopic
async def offtopic_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    group = services.settings.group(message.chat.id)
    if group is None:
        return
    replied = replied_to(message)
    if replied is None or replied.from_user is None or replied.from_user.id == context.bot.id:
        await message.reply_text(_("Reply with /offtopic to the message that drifts off-topic."))
        return
    link = services.settings.moderation.offtopic_link
    if link:
        # The link is built outside _(): in Arabic a placeholder value is wrapped in
        # isolates, which must not end up inside href.
        label = _("the off-topic chat")
        chat = f'<a href="{esc_attr(link)}">{label}</a>'
        text = _(
            "🙂 A friendly nudge from the moderators: this is drifting off-topic for {group}. "
            "Please carry on in {chat}, thank you!",
            group=esc(group.title),
            chat=chat,
        )
    else:
        text = _(
            "🙂 A friendly nudge from the moderators: this is drifting off-topic for {group}. "
            "Please carry on privately, thank you!",
            group=esc(group.title),
        )
    await replied.reply_text(text)
    user = update.effective_user
    action = record(
        services, group, "offtopic", replied.from_user.id, actor_id=user.id if user else None
    )
    await note_action(context, action)


# --------------------------------------------------------------------------- /purge
async def purge_command(update: Update, context: BotContext) -> None:
    message, moderator = update.effective_message, update.effective_user
    if message is None or moderator is None:
        return
    services = context.services
    group = services.settings.group(message.chat.id)
    if group is None:
        return
    policy = services.settings.moderation
    args = list(context.args or [])
    usage = _(
        "Usage: /purge N — the bot's last N messages here; /purge N @username (or as a reply) "
        "— that member's. N from 1 to {max}. I can only delete messages I saw, under 48 h old.",
        max=policy.purge_max,
    )
    if not args or not args[0].isdigit() or not 1 <= int(args[0][:4]) <= policy.purge_max:
        await message.reply_text(usage)
        return
    count = int(args[0])
    if replied_to(message) is not None or len(args) > 1:
        context.args = args[1:]
        order = await prepare(update, context, "purge", present=False)
        if order is None:
            return
        who: int | None = order.target.user_id
        name = order.target.name
    else:
        who, name = None, _("the bot")
    author = who if who is not None else context.bot.id
    now = services.clock.now()
    services.journal.flush()  # the messages noted in the last second too
    with services.db.transaction() as session:
        rows = ModerationRepository(session).latest_messages(group.chat_id, author, count + 1)
    # Not the /purge command itself.
    candidates = [r for r in rows if r.message_id != message.message_id][:count]
    deleted, too_old, gone = [], 0, 0
    for row in candidates:
        if not deletable(row.at, now):
            too_old += 1
            continue
        outcome = await delete(context, group, row.message_id, own=who is None)
        if outcome is Outcome.DONE:
            deleted.append(row.message_id)
        elif outcome is Outcome.NOT_PRESENT:
            gone += 1
            deleted.append(row.message_id)  # forget it too
        elif outcome is Outcome.NO_RIGHT:
            await message.reply_text(missing_right_reply(group, Right.DELETE))
            break
        else:
            too_old += 1
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        repo.forget_messages(group.chat_id, deleted)
        done = len(deleted) - gone
        action = repo.record(
            group.chat_id,
            "purge",
            who,
            now,
            actor_id=moderator.id,
            detail=purge_detail(done, count),
        )
    summary = Purged(name, asked=count, known=len(candidates), deleted=done, too_old=too_old)
    await message.reply_text(purge_summary(summary))
    await note_action(context, action)
