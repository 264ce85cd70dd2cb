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
from handlers.render import esc
from handlers.roster import RIGHT_NAMES, bot_rights
from i18n import N_, _, comma_join, duration_text
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
# What the bot is in a group where it is not an admin (Telegram's ChatMember.status).
MEMBER_STATUS = {
    "member": N_("a member"),
    "restricted": N_("a restricted member"),
    "left": N_("not in the group"),
    "kicked": N_("banned"),
}


def ago(now: datetime, then: datetime | None) -> str:
    if then is None:
        return _("never")
    if then > now:
        return _("in {duration}", duration=duration_text(then - now))
    if now - then < timedelta(minutes=1):
        return _("just now")
    return _("{duration} ago", duration=duration_text(now - then))


def database_lines(services: Services, now: datetime) -> list[str]:
    """What the database says: reachability, schema, reminders, sweeps, other replicas."""
    try:
        with services.db.transaction() as session:
            session.execute(text("SELECT 1"))
            repo = OpsRepository(session)
            outbox, runs, replicas = repo.outbox(now), repo.sweep_runs(), repo.replicas()
        revision = current_revision(services.db.engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        return [_("🔴 <b>Database:</b> unreachable ({reason})", reason=esc(reason))]
    lines = [
        _(
            "🟢 <b>Database:</b> reachable, schema {revision} (this program: {head})",
            revision=esc(revision or "-"),
            head=esc(head_revision() or "-"),
        ),
        _(
            "<b>Reminders waiting:</b> {due} due now, {later} later, {sending} being sent",
            due=outbox.due,
            later=outbox.later,
            sending=outbox.sending,
        ),
        _("<b>Possibly sent twice</b> (a sender died mid-send): {n}", n=outbox.maybe_twice),
        _("<b>Sweeps</b> (last run → next):"),
    ]
    for sweep in services.sweeps:
        run = runs.get(sweep.name)
        if run is None:
            lines.append(_("• {name}: not run yet", name=esc(sweep.name)))
            continue
        values = {
            "state": "✅" if run.ok else ("⏳" if run.ok is None else "❌"),
            "name": esc(sweep.name),
            "last": ago(now, run.started_at),
            "replica": esc(run.replica),
            "next": ago(now, run.started_at + sweep.every),
        }
        if run.error:
            lines.append(
                _(
                    "• {state} {name}: {last} by {replica} → {next}: {error}",
                    error=esc(run.error),
                    **values,
                )
            )
        else:
            lines.append(_("• {state} {name}: {last} by {replica} → {next}", **values))
    alive = [r for r in replicas if r.stopped_at is None and now - r.last_seen_at < ALIVE_AFTER]
    lines.append(_("<b>Replicas running:</b> {count}", count=len(alive)))
    for replica in alive:
        lines.append(
            _(
                "• {id} ({role}), last update {update}",
                id=esc(replica.id),
                role=esc(replica.role),
                update=ago(now, replica.last_update_at),
            )
        )
    return lines


async def group_lines(context: BotContext) -> list[str]:
    """Ask Telegram, now, what the bot is in each configured group."""
    lines = [_("<b>Groups:</b>")]
    for group in context.services.settings.groups:
        try:
            member = await context.bot.get_chat_member(group.chat_id, context.bot.id)
        except TelegramError as exc:
            lines.append(
                _(
                    "• ❌ {title}: cannot check ({error})",
                    title=esc(group.title),
                    error=esc(exc.message),
                )
            )
            continue
        is_admin, missing = bot_rights(member)
        if is_admin and not missing:
            lines.append(_("• ✅ {title}: admin with every right I need", title=esc(group.title)))
        elif is_admin:
            lines.append(
                _(
                    "• ⚠️ {title}: admin, but missing {rights}",
                    title=esc(group.title),
                    rights=esc(comma_join(_(RIGHT_NAMES.get(r, r)) for r in missing)),
                )
            )
        else:
            lines.append(
                _(
                    "• ❌ {title}: I am {status}, not an admin (I need {rights})",
                    title=esc(group.title),
                    status=esc(_(MEMBER_STATUS.get(member.status, member.status))),
                    rights=esc(comma_join(_(RIGHT_NAMES.get(r, r)) for r in missing)),
                )
            )
    return lines


async def status_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    await heartbeat(cast(App, context.application))  # the replica answering is alive
    now = services.clock.now()
    lines = [
        _(
            "<b>Status</b> of {replica} ({role}), up {uptime}",
            replica=esc(services.replica_id),
            role=esc(services.role),
            uptime=duration_text(now - services.started_at),
        ),
        _("<b>Last update received here:</b> {when}", when=ago(now, services.last_update_at)),
        *database_lines(services, now),
        *await group_lines(context),
    ]
    await message.reply_text("\n".join(lines))


def register(app: App) -> None:
    app.add_handler(
        CommandHandler("status", status_command, filters=filters.ChatType.PRIVATE),
        group=Stage.FEATURES,
    )
