"""/calendar: the deadlines as an .ics file; in private chat also the person's subscription
address (served by web/calendar_feed.py), with buttons to replace or stop it.

The address holds a secret shown once, to its owner: the database keeps only its digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from handlers.common import in_group
from handlers.order import Stage
from handlers.render import esc_attr
from i18n import _, date_text, ngettext
from moderation import calendar_feed as feeds
from moderation.calendar import build_calendar
from runtime.context import App, BotContext, Services
from storage.calendar_feeds import CalendarFeedRepository
from storage.deadlines import DeadlineRepository
from storage.roster import RosterRepository

CB_FEED = "cfeed"  # cfeed:new:<user id> / cfeed:stop:<user id>
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
    await message.reply_text(text, reply_markup=markup)


def _buttons(user_id: int, live: bool) -> InlineKeyboardMarkup:
    row = [InlineKeyboardButton(_("New link"), callback_data=f"{CB_FEED}:new:{user_id}")]
    if live:
        row.append(
            InlineKeyboardButton(_("Stop the link"), callback_data=f"{CB_FEED}:stop:{user_id}")
        )
    return InlineKeyboardMarkup([row])


def _shown(public_url: str, secret: str) -> str:
    return _(
        "Subscribe to the deadlines in Outlook or Google Calendar with this address; your "
        "calendar then follows every change by itself:\n<code>{url}</code>\n"
        "Keep it to yourself: anyone who has it sees the deadlines. I show it only now (I keep "
        'just a fingerprint of it). "New link" replaces it; "Stop the link" ends it.',
        url=esc_attr(feeds.feed_url(public_url, secret)),
    )


def _issue(services: Services, session: Session, user_id: int) -> str:
    secret = feeds.new_secret()
    CalendarFeedRepository(session).issue(
        user_id, feeds.secret_digest(secret), services.clock.now()
    )
    return secret


def _offer(services: Services, user_id: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """What /calendar adds in private chat: a new address, or what became of the last one."""
    public_url = services.settings.http.public_url
    if public_url is None:
        return (
            _(
                "The operator has not set a public address for the bot, so there is no "
                "subscription link; the file above is what I can send."
            ),
            None,
        )
    with services.db.transaction() as session:
        if not may_have_feed(services, session, user_id):
            return _("Subscription links are for members of the group and moderators."), None
        feed = CalendarFeedRepository(session).of(user_id)
        if feed is None:
            return _shown(public_url, _issue(services, session, user_id)), _buttons(user_id, True)
        made = date_text(feed.created_at, ZoneInfo(services.settings.timezone))
        if feed.revoked_at is not None:
            stopped = date_text(feed.revoked_at, ZoneInfo(services.settings.timezone))
            return (
                _(
                    'You stopped your subscription link on {date}. "New link" makes a new one.',
                    date=stopped,
                ),
                _buttons(user_id, False),
            )
    return (
        _(
            "You have had a subscription link since {date}. I cannot show it again: I keep only a "
            'fingerprint of it. "New link" makes a new address and stops the old one.',
            date=made,
        ),
        _buttons(user_id, True),
    )


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
    public_url = services.settings.http.public_url
    with services.db.transaction() as session:
        allowed = public_url is not None and may_have_feed(services, session, user_id)
        if not allowed:
            text = _("Subscription links are for members of the group and moderators.")
            markup = None
        elif matched[1] == "new":
            assert public_url is not None
            text, markup = (
                _shown(public_url, _issue(services, session, user_id)),
                _buttons(user_id, True),
            )
        else:
            stopped = CalendarFeedRepository(session).revoke(user_id, services.clock.now())
            text = (
                _(
                    "Stopped: calendar apps using that address get nothing more from it. "
                    '"New link" makes a new one.'
                )
                if stopped
                else _("There was no link to stop.")
            )
            markup = _buttons(user_id, False)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


def register(app: App) -> None:
    app.add_handler(CommandHandler("calendar", calendar_command), group=Stage.FEATURES)
    app.add_handler(
        CallbackQueryHandler(on_feed_button, pattern=rf"^{CB_FEED}:"), group=Stage.FEATURES
    )
