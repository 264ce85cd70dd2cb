"""/calendar's longer texts (the subscription link as it stands, and the answer to its
buttons), composed from the typed ``FeedState``.

No database and no sending here: ``handlers.calendar`` reads or changes the link in one unit of
work, gets a ``FeedState`` and replies with what these functions return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.render import esc_attr
from i18n import _, date_text

CB_FEED = "cfeed"  # cfeed:new:<user id> / cfeed:stop:<user id>


@dataclass(frozen=True)
class FeedState:
    """Where a person's subscription link stands (for the chat's /calendar and its buttons,
    and the Mini App's deadline board)."""

    # "no_address" (no http.public_url), "refused" (not a member nor a moderator), "none",
    # "live", "stopped", "issued" (a new address, in ``url``: shown this once), "not_live"
    # (asked to stop a link that was not live)
    kind: str
    since: datetime | None = None  # made (live) or stopped (stopped)
    url: str | None = None


def link_buttons(user_id: int, live: bool) -> InlineKeyboardMarkup:
    """ "New link", and "Stop the link" while there is a live one."""
    row = [InlineKeyboardButton(_("New link"), callback_data=f"{CB_FEED}:new:{user_id}")]
    if live:
        row.append(
            InlineKeyboardButton(_("Stop the link"), callback_data=f"{CB_FEED}:stop:{user_id}")
        )
    return InlineKeyboardMarkup([row])


def _shown(url: str) -> str:
    return _(
        "Subscribe to the deadlines in Outlook or Google Calendar with this address; your "
        "calendar then follows every change by itself:\n<code>{url}</code>\n"
        "Keep it to yourself: anyone who has it sees the deadlines. I show it only now (I keep "
        'just a fingerprint of it). "New link" replaces it; "Stop the link" ends it.',
        url=esc_attr(url),
    )


def feed_text(state: FeedState, zone: ZoneInfo) -> str:
    """What /calendar adds in private chat: the new address, or what became of the last one
    (dates in ``zone``, the bot's time zone)."""
    if state.kind == "no_address":
        return _(
            "The operator has not set a public address for the bot, so there is no "
            "subscription link; the file above is what I can send."
        )
    if state.kind == "refused":
        return _("Subscription links are for members of the group and moderators.")
    if state.kind == "issued" and state.url is not None:
        return _shown(state.url)
    if state.kind == "not_live":
        return _("There was no link to stop.")
    if state.kind == "stopped" and state.since is not None:
        return _(
            'You stopped your subscription link on {date}. "New link" makes a new one.',
            date=date_text(state.since, zone),
        )
    made = date_text(state.since, zone) if state.since is not None else ""
    return _(
        "You have had a subscription link since {date}. I cannot show it again: I keep only a "
        'fingerprint of it. "New link" makes a new address and stops the old one.',
        date=made,
    )


def feed_buttons(user_id: int, state: FeedState) -> InlineKeyboardMarkup | None:
    if state.kind in ("no_address", "refused"):
        return None
    return link_buttons(user_id, state.kind in ("live", "issued"))


def pressed(
    user_id: int, state: FeedState, zone: ZoneInfo
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The message a "New link" or "Stop the link" press leaves, from what the press did."""
    if state.kind in ("no_address", "refused"):
        return _("Subscription links are for members of the group and moderators."), None
    if state.kind == "stopped":
        text = _(
            "Stopped: calendar apps using that address get nothing more from it. "
            '"New link" makes a new one.'
        )
        return text, link_buttons(user_id, False)
    return feed_text(state, zone), feed_buttons(user_id, state)
