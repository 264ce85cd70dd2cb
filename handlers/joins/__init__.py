"""Sponsored joins: every arrival is attributed to a sponsor or held for the moderators.

Ways in: a sponsor's personal link (/invite), a member adding someone directly, a join request
that a member vouches for. Anything else is held (read-only) until a moderator decides.
A sweep reminds incomplete introductions and removes newcomers past the deadline.

Modules: ``arrivals`` (attributing and admitting an arrival), ``held`` (the moderators' decision
on a held newcomer), ``requests`` (join requests), ``sweep`` (the introductions sweep).
"""

from __future__ import annotations

from datetime import timedelta

from telegram.ext import CallbackQueryHandler, ChatJoinRequestHandler, ChatMemberHandler

from handlers.common import button
from handlers.joins.arrivals import on_member_change
from handlers.joins.held import decide_held, held_group
from handlers.joins.requests import (
    decide_join_request,
    on_join_request,
    on_join_request_button,
)
from handlers.joins.sweep import next_introduction_step, sweep
from handlers.order import Stage
from moderation.permissions import Role
from runtime.context import App, Sweep

SWEEPS = [Sweep("introductions", timedelta(minutes=5), sweep, next_introduction_step)]


def register(app: App) -> None:
    app.add_handler(
        ChatMemberHandler(on_member_change, ChatMemberHandler.CHAT_MEMBER), group=Stage.FOLLOW_UP
    )
    app.add_handler(ChatJoinRequestHandler(on_join_request), group=Stage.FEATURES)
    # "I sponsor them" is any member's; Approve / Decline the moderators'.
    app.add_handler(
        CallbackQueryHandler(on_join_request_button, pattern=r"^jr:\d{1,12}:s$"),
        group=Stage.FEATURES,
    )
    app.add_handler(
        button(decide_join_request, r"^jr:\d{1,12}:[ad]$", Role.MODERATOR), group=Stage.FEATURES
    )
    app.add_handler(
        button(decide_held, r"^held:\d{1,12}:[sr]$", Role.MODERATOR, held_group),
        group=Stage.FEATURES,
    )
