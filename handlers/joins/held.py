"""Held newcomers: a moderator lets a held arrival speak or removes them.

``decide_held_newcomer`` is the one decision, for the chat's buttons (``decide_held``) and the
Mini App's moderators' screen alike: claimed once in the database (held → pending with the
moderator as sponsor, or held → removed), then carried out (the group's card updated, or the
newcomer removed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.introductions import deep_link, post_or_update_card
from handlers.removal import Removal, remove_member
from i18n import N_, _
from moderation.introductions import IntroStatus
from runtime.context import BotContext, Services
from storage.introductions import IntroductionRepository


@dataclass(frozen=True)
class HeldDecision:
    """A held newcomer decided: sponsored (``link`` opens their introduction) or removed."""

    intro_id: int
    chat_id: int
    user_id: int
    sponsored: bool
    link: str | None  # sponsored: the deep link to introduce them (/start intro_<id>)
    removal: Removal | None = None  # removed: what Telegram's side gave


def held_group(services: Services, data: str) -> int | None:
    """The group a held newcomer's button is about: only its moderators decide."""
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(int(data.split(":")[1]))
        return None if intro is None else intro.chat_id


async def decide_held_newcomer(
    context: BotContext,
    intro_id: int,
    sponsor: bool,
    moderator_id: int,
    acknowledge: Callable[[HeldDecision], Awaitable[None]] | None = None,
) -> HeldDecision | None:
    """A moderator's decision on a held newcomer (the caller has checked they moderate its
    group): sponsor them (they go on as any sponsored newcomer, the moderator to introduce
    them) or remove them. None when there is no such newcomer or they are no longer held
    (decided by someone else). ``acknowledge`` runs once the decision is recorded, before it
    is carried out (the chat's button answers the press there)."""
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        intro = repo.introduction_by_id(intro_id)
        if intro is None or intro.status is not IntroStatus.HELD:
            return None
        if sponsor:
            if not repo.claim_status(intro.id, IntroStatus.HELD, IntroStatus.PENDING, now):
                return None
            intro.sponsor_id = moderator_id
            intro.sponsor_note = N_("a moderator decided to sponsor them")
        elif not repo.claim_status(intro.id, IntroStatus.HELD, IntroStatus.REMOVED, now):
            return None
        link = deep_link(context, f"intro_{intro.id}") if sponsor else None
        decision = HeldDecision(intro.id, intro.chat_id, intro.user_id, sponsor, link)
    if acknowledge is not None:
        await acknowledge(decision)
    if sponsor:
        await post_or_update_card(context, decision.intro_id)
        return decision
    removal = await remove_member(
        context,
        decision.chat_id,
        decision.user_id,
        N_("a moderator decided to remove them"),
        cause="held newcomer removed by a moderator",
        actor_id=moderator_id,
    )
    return replace(decision, removal=removal)


async def decide_held(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, raw_id, decision = query.data.split(":")

    async def answer_press(decided: HeldDecision) -> None:
        if decided.link is not None:
            # Straight to the introduction (/start intro_<id> in this chat); the button stays.
            await query.answer(url=decided.link)
            await query.edit_message_text(
                _("You sponsor them now. Please introduce them:"),
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton(_("Introduce"), url=decided.link)]]
                ),
            )
        else:
            await query.answer()
            await query.edit_message_text(_("Removed. They can come back through a sponsor."))

    decided = await decide_held_newcomer(
        context, int(raw_id), decision == "s", query.from_user.id, answer_press
    )
    if decided is None:
        await query.answer(_("Already decided by someone else."), show_alert=True)
