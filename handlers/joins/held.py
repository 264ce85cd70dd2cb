"""Held newcomers: a moderator lets a held arrival speak or removes them."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.introductions import deep_link, post_or_update_card
from handlers.removal import remove_member
from i18n import N_, _
from moderation.introductions import IntroStatus
from runtime.context import BotContext, Services
from storage.introductions import IntroductionRepository


def held_group(services: Services, data: str) -> int | None:
    """The group a held newcomer's button is about: only its moderators decide."""
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(int(data.split(":")[1]))
        return None if intro is None else intro.chat_id


async def decide_held(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, raw_id, decision = query.data.split(":")
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        intro = repo.introduction_by_id(int(raw_id))
        if intro is None or intro.status is not IntroStatus.HELD:
            intro = None
        elif decision == "s":
            intro.status, intro.sponsor_id = IntroStatus.PENDING, query.from_user.id
            intro.sponsor_note = N_("a moderator decided to sponsor them")
            intro.updated_at = now
        else:
            repo.claim_status(intro.id, IntroStatus.HELD, IntroStatus.REMOVED, now)
    if intro is None:
        await query.answer(_("Already decided by someone else."), show_alert=True)
        return
    if decision == "s":
        # Straight to the introduction (/start intro_<id> in this chat); the button stays.
        await query.answer(url=deep_link(context, f"intro_{intro.id}"))
        await query.edit_message_text(
            _("You sponsor them now. Please introduce them:"),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("Introduce"), url=deep_link(context, f"intro_{intro.id}")
                        )
                    ]
                ]
            ),
        )
        await post_or_update_card(context, intro.id)
    else:
        await query.answer()
        await query.edit_message_text(_("Removed. They can come back through a sponsor."))
        await remove_member(
            context,
            intro.chat_id,
            intro.user_id,
            N_("a moderator decided to remove them"),
            cause="held newcomer removed by a moderator",
            actor_id=update.effective_user.id if update.effective_user else None,
        )
