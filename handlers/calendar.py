"""/calendar: the deadlines as an .ics file; in private chat also the person's subscription
address (served by web/calendar_feed.py), with buttons to replace or stop it.

The address holds a secret shown once, to its owner: the database keeps only its digest. What
the link's messages say is in ``handlers.calendar_cards``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from handlers.calendar_cards import CB_FEED, FeedState, feed_buttons, feed_text, pressed
from handlers.common import in_group
from handlers.order import Stage
from handlers.webapp import with_open_row
from i18n import _, ngettext
from moderation import calendar_feed as feeds
from moderation.calendar import build_calendar
from runtime.context import App, BotContext, Services
from storage.calendar_feeds import CalendarFeedRepository
from storage.deadlines import DeadlineRepository
from storage.roster import RosterRepository

_BUTTON = re.compile(rf"^{CB_FEED}:(new|stop):([0-9]{{1,15}})$")


@dataclass(frozen=True)
class DeadlineCalendar:
    body: bytes
    count: int
    # When a deadline was last added, changed, paused or removed (None: there are none).
    changed_at: datetime | None


def deadline_calendar(services: Services, session: Session) -> DeadlineCalendar:
    """The calendar everyone gets, in chat and by subscription: the same bytes until a
    deadline changes (its DTSTAMP is that change, RFC 5545 3.8.7.2), so a feed's ETag holds."""
    now = services.clock.now()
    repo = DeadlineRepository(session)
    repo.sync_config(services.settings.deadline_definitions(), now)
    definitions = repo.definitions()
    changed_at = repo.last_change()
    title = services.settings.groups[0].title if services.settings.groups else "imbot"
    body = build_calendar(definitions, changed_at or now, f"{title} deadlines")
    return DeadlineCalendar(body, len(definitions), changed_at)


def may_have_feed(services: Services, session: Session, user_id: int) -> bool:
    roster = RosterRepository(session)
    member = any(
        (m := roster.membership(g.chat_id, user_id)) is not None and m.present
        for g in services.settings.groups
    )
    return feeds.may_have_feed(member, user_id in services.settings.moderators)


async def calendar_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    with services.db.transaction() as session:
        calendar = deadline_calendar(services, session)
    count = calendar.count

    def caption() -> str:
        return ngettext(
            "{n} deadline with its recurrence. Open the file to import it into your calendar; "
            "send /calendar again after the deadlines change.",
            "{n} deadlines with their recurrence. Open the file to import it into your "
            "calendar; send /calendar again after the deadlines change.",
            count,
        )

    chat, user = update.effective_chat, update.effective_user
    chat_id = chat.id if chat else message.chat_id
    await message.reply_document(
        InputFile(calendar.body, filename="deadlines.ics"),
        caption=in_group(services, chat_id, caption),
    )
    # The subscription address holds a secret: only ever in the owner's private chat.
    if chat is None or user is None or chat.type != chat.PRIVATE:
        return
    text, markup = _offer(services, user.id)
    await message.reply_text(text, reply_markup=with_open_row(services, markup, "deadlines"))


def feed_state(services: Services, user_id: int) -> FeedState:
    """The person's link as it stands; changes nothing."""
    if services.settings.http.public_url is None:
        return FeedState("no_address")
    with services.db.transaction() as session:
        if not may_have_feed(services, session, user_id):
            return FeedState("refused")
        feed = CalendarFeedRepository(session).of(user_id)
        if feed is None:
            return FeedState("none")
        if feed.revoked_at is not None:
            return FeedState("stopped", feed.revoked_at)
        return FeedState("live", feed.created_at)


def new_feed(services: Services, user_id: int) -> FeedState:
    """A new address for the person (the old one stops at once): "New link"."""
    public_url = services.settings.http.public_url
    if public_url is None:
        return FeedState("no_address")
    with services.db.transaction() as session:
        if not may_have_feed(services, session, user_id):
            return FeedState("refused")
        secret = feeds.new_secret()
        now = services.clock.now()
        CalendarFeedRepository(session).issue(user_id, feeds.secret_digest(secret), now)
    return FeedState("issued", now, feeds.feed_url(public_url, secret))


def stop_feed(services: Services, user_id: int) -> FeedState:
    """Stop the person's address: "Stop the link"."""
    if services.settings.http.public_url is None:
        return FeedState("no_address")
    with services.db.transaction() as session:
        if not may_have_feed(services, session, user_id):
            return FeedState("refused")
        now = services.clock.now()
        stopped = CalendarFeedRepository(session).revoke(user_id, now)
    return FeedState("stopped", now) if stopped else FeedState("not_live")


def _offer(services: Services, user_id: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """What /calendar adds in private chat: a new address, or what became of the last one."""
    state = feed_state(services, user_id)
    if state.kind == "none":
        state = new_feed(services, user_id)
    return feed_text(state, ZoneInfo(services.settings.timezone)), feed_buttons(user_id, state)


async def on_feed_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None or query.message is None:
        return
    services, user_id = context.services, query.from_user.id
    matched = _BUTTON.fullmatch(query.data or "")
    # Only the owner, in their own private chat: the answer shows the secret.
    if matched is None or int(matched[2]) != user_id or query.message.chat.id != user_id:
        await query.answer(_("This button is not valid any more."))
        return
    act = new_feed if matched[1] == "new" else stop_feed
    state = act(services, user_id)
    text, markup = pressed(user_id, state, ZoneInfo(services.settings.timezone))
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


def register(app: App) -> None:
    app.add_handler(CommandHandler("calendar", calendar_command), group=Stage.FEATURES)
    app.add_handler(
        CallbackQueryHandler(on_feed_button, pattern=rf"^{CB_FEED}:"), group=Stage.FEATURES
    )
