"""Group messages that mention: ``@all``, ``@moderators``, tags and names (the rules are in
``moderation.mentions``). A broadcast is stored as rows and sent by ``sending``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

from telegram import (
    Message,
    Update,
)

from config.schema import GroupConfig
from handlers.common import Text, current_role, send_private
from handlers.mentions.common import NAME_LENGTH, group_tags, load_members
from handlers.mentions.sending import dispatch
from handlers.render import esc, esc_attr, mention, truncate
from i18n import _, duration_text, ngettext
from moderation import mentions as rules
from moderation.mentions import Addressed, Member, NameOutcome, Tag
from moderation.permissions import Role
from runtime.context import App, BotContext
from storage.mentions import MentionRepository
from storage.models import MentionBroadcast

log = logging.getLogger(__name__)


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
                # Those who chose it (or the group's default) are told privately instead.
                private = repo.private_recipients(chosen, policy.private_default)
                in_group = [uid for uid in chosen if uid not in private]
                parts = rules.batches(in_group, policy.batch_size) or [[]]  # the notice
                # Due from now, not behind other broadcasts: the sender interleaves them.
                due = rules.schedule(now, len(parts), policy.per_minute)
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
                    [uid for uid in chosen if uid in private],
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
