"""The membership lifecycle: departures, expiring memberships, lost sponsors, check-ins,
leaving, readmission and retention.

Commands: ``/leaving DATE`` (``/leaving @user DATE`` for moderators), ``/leave``,
``/extend @user 30d``, and for moderators ``/expiring``, ``/stale``, ``/readmit @user``.
The sweep (every 15 minutes, from the ``member_lifecycle`` rows) asks ``moderation.lifecycle``
what is due for each member and does it once; every removal goes through
``handlers.removal.remove_member`` and its outcome is remembered, so a refused removal (an
admin, a missing right, someone already gone) is reported once and never loops.
"""

from __future__ import annotations

from datetime import timedelta

from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from handlers.forms import register_form
from handlers.lifecycle.checkin import checkin_answer, checkin_link
from handlers.lifecycle.departure import (
    departure_link,
    departure_no,
    departure_yes,
    new_sponsor,
)
from handlers.lifecycle.extend import expiry_button, extend
from handlers.lifecycle.leave import leave, leave_answer
from handlers.lifecycle.leaving import leaving, leaving_link
from handlers.lifecycle.moderators import expiring, readmit, stale
from handlers.lifecycle.sponsor import sponsor_answer
from handlers.lifecycle.staying import OUT_OF_COUNTRY
from handlers.lifecycle.sweep import next_lifecycle_step, sweep
from handlers.order import Stage
from handlers.start import add_deep_link
from moderation.permissions import CommandSpec, Role, Where
from runtime.context import App, Sweep

COMMANDS = [
    CommandSpec(
        "leaving",
        "Tell me the date you leave the country",
        usage="DATE | cancel",
    ),
    CommandSpec("leave", "Leave the group", where=Where.PRIVATE),
    CommandSpec("extend", "Extend the membership of someone you sponsor", usage="@user 30d"),
    CommandSpec(
        "expiring",
        "Upcoming departures, expiries and sponsorless members",
        Role.MODERATOR,
        Where.PRIVATE,
        usage="[60d]",
    ),
    CommandSpec(
        "stale", "Members who did not answer their check-in", Role.MODERATOR, Where.PRIVATE
    ),
    CommandSpec(
        "readmit",
        "Undo a removal: a fresh sponsored invite link",
        Role.MODERATOR,
        Where.PRIVATE,
        usage="@user [END DATE]",
    ),
]


def register(app: App) -> None:
    private = filters.ChatType.PRIVATE
    register_form(app, OUT_OF_COUNTRY)
    app.add_handler(
        CallbackQueryHandler(departure_yes, pattern=r"^lc:dep:\d{1,12}:y$"), group=Stage.FEATURES
    )
    app.add_handler(
        CallbackQueryHandler(new_sponsor, pattern=r"^lc:ns:\d{1,12}$"), group=Stage.FEATURES
    )
    app.add_handler(
        CallbackQueryHandler(departure_no, pattern=r"^lc:dep:\d{1,12}:n$"), group=Stage.FEATURES
    )
    app.add_handler(
        CallbackQueryHandler(sponsor_answer, pattern=r"^lc:sp:\d{1,12}:[yn]$"), group=Stage.FEATURES
    )
    app.add_handler(
        CallbackQueryHandler(checkin_answer, pattern=r"^lc:ci:\d{1,12}:(y|soon|gone)$"),
        group=Stage.FEATURES,
    )
    app.add_handler(
        CallbackQueryHandler(expiry_button, pattern=r"^lc:(ext|end):\d{1,12}$"),
        group=Stage.FEATURES,
    )
    app.add_handler(
        CallbackQueryHandler(leave_answer, pattern=r"^lc:leave:-?\d{1,20}$"), group=Stage.FEATURES
    )
    app.add_handler(CommandHandler("leaving", leaving), group=Stage.FEATURES)
    app.add_handler(CommandHandler("leave", leave, filters=private), group=Stage.FEATURES)
    app.add_handler(CommandHandler("extend", extend), group=Stage.FEATURES)
    app.add_handler(CommandHandler("expiring", expiring, filters=private), group=Stage.FEATURES)
    app.add_handler(CommandHandler("stale", stale, filters=private), group=Stage.FEATURES)
    app.add_handler(CommandHandler("readmit", readmit, filters=private), group=Stage.FEATURES)
    add_deep_link(app, "departure", departure_link)
    add_deep_link(app, "checkin", checkin_link)
    add_deep_link(app, "leaving", leaving_link)


SWEEPS = [Sweep("lifecycle", timedelta(minutes=15), sweep, next_lifecycle_step)]
