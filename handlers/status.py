"""/status for moderators: is the bot healthy, and can it do its job in each group?"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler, filters

from handlers.order import Stage
from handlers.roster import bot_rights
from handlers.status_report import (
    DatabaseDown,
    DatabaseUp,
    GroupCheck,
    Status,
    SweepState,
    status_text,
)
from moderation.permissions import CommandSpec, Role, Where
from runtime.context import App, BotContext, Services
from runtime.replica import heartbeat
from storage.db import current_revision, head_revision
from storage.ops import OpsRepository

COMMANDS = [
    CommandSpec(
        "status",
        "Health: database, updates, reminders waiting, sweeps, my rights",
        Role.MODERATOR,
        Where.PRIVATE,
    )
]

ALIVE_AFTER = timedelta(minutes=2)


def read_database(services: Services, now: datetime) -> DatabaseUp | DatabaseDown:
    """What the database says: reachability, schema, reminders, sweeps, live replicas."""
    try:
        with services.db.transaction() as session:
            session.execute(text("SELECT 1"))
            repo = OpsRepository(session)
            outbox, runs, replicas = repo.outbox(now), repo.sweep_runs(), repo.replicas()
        revision = current_revision(services.db.engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        return DatabaseDown(reason)
    return DatabaseUp(
        revision=revision,
        head=head_revision(),
        outbox=outbox,
        sweeps=[SweepState(s.name, s.every, runs.get(s.name)) for s in services.sweeps],
        replicas=[
            r for r in replicas if r.stopped_at is None and now - r.last_seen_at < ALIVE_AFTER
        ],
    )


async def check_groups(context: BotContext) -> list[GroupCheck]:
    """Ask Telegram, now, what the bot is in each configured group."""
    checks = []
    for group in context.services.settings.groups:
        try:
            member = await context.bot.get_chat_member(group.chat_id, context.bot.id)
        except TelegramError as exc:
            checks.append(GroupCheck(group.title, error=exc.message))
            continue
        is_admin, missing = bot_rights(member)
        checks.append(GroupCheck(group.title, None, is_admin, member.status, missing))
    return checks


async def status_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    await heartbeat(cast(App, context.application))  # the replica answering is alive
    now = services.clock.now()
    status = Status(
        replica=services.replica_id,
        role=services.role,
        started_at=services.started_at,
        last_update_at=services.last_update_at,
        now=now,
        database=read_database(services, now),
        groups=await check_groups(context),
    )
    await message.reply_text(status_text(status))


def register(app: App) -> None:
    app.add_handler(
        CommandHandler("status", status_command, filters=filters.ChatType.PRIVATE),
        group=Stage.FEATURES,
    )
