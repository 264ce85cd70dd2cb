"""The one place that assembles the bot: config → Application → features → scheduled sweeps."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from bot import ops
from bot.instrument import MeasuredUpdates, count_database_errors
from bot.message_log import MessageLog
from bot.ratelimit import WindowRateLimiter
from config.loader import LoadedConfig
from handlers import (
    contacts,
    deadline_admin,
    deadlines,
    errors,
    forms,
    introductions,
    joins,
    language,
    lifecycle,
    members,
    mentions,
    moderation,
    roster,
    start,
    status,
    topics,
)
from handlers.common import guard_commands, personal_language
from handlers.language import command_menu
from handlers.webapp import set_menu_button
from i18n import DEFAULT_LANGUAGE, LANGUAGES, use_locale
from moderation.clock import Clock, SystemClock
from moderation.permissions import Role, Where
from runtime.context import App, BotContext, Services, Sweep, services_of
from runtime.presses import PressApplication
from storage.db import Database

log = logging.getLogger(__name__)

# Every feature module, in registration order. The unknown-command fallback goes last.
FEATURES = [
    topics,
    language,
    roster,
    introductions,
    joins,
    members,
    contacts,
    deadlines,
    deadline_admin,
    mentions,
    moderation,
    lifecycle,
    status,
    start,
]

# How often noted group messages and members' last_seen are written (Services.write_behind).
WRITE_BEHIND_EVERY = timedelta(seconds=1)

ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.CHAT_MEMBER,
    Update.MY_CHAT_MEMBER,
    Update.CHAT_JOIN_REQUEST,
]


def build_services(config: LoadedConfig, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    # A session left idle in a transaction (a stopped or starved process) ends after a
    # reminder's lease, and so does a frozen sweep's lock (bot/ops.py): see the README.
    database = Database(config.database_url, idle_limit=config.settings.reminders.lease)
    services = Services(config=config, db=database, clock=clock, started_at=clock.now())
    # /start and /help first in every menu; then features in order.
    for feature in [start, *[f for f in FEATURES if f is not start]]:
        services.commands.extend(getattr(feature, "COMMANDS", []))
        services.sweeps.extend(getattr(feature, "SWEEPS", []))
    services.sweeps.append(Sweep("admin-check", timedelta(hours=6), check_admin_rights))
    services.sweeps.extend(forms.SWEEPS)
    count_database_errors(services.db.engine, services.metrics)
    ops.configure(services)
    return services


SWITCH_INTERVAL = 0.001  # seconds a thread may hold the interpreter lock when another waits


def build_application(
    services: Services,
    token: str,
    request: BaseRequest | None = None,
    rate_limit: bool = True,
) -> App:
    # Worker threads (the contact index's build, lookups from the database's index meanwhile)
    # run Python while the event loop waits on the database: each time an answer comes back
    # the loop must wait for the interpreter lock, by default up to 5 ms, several times a
    # statement. At 1 ms the loop's stalls during a build fell by half (bench/README.md).
    sys.setswitchinterval(SWITCH_INTERVAL)
    builder = (
        ApplicationBuilder()
        .application_class(PressApplication)
        .token(token)
        .base_url(services.config.bot_api_url)
        .base_file_url(services.config.bot_api_file_url)
        .local_mode(services.config.bot_api_local)
        .context_types(ContextTypes(context=BotContext))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
        )
        .post_init(on_startup)
        .post_shutdown(on_shutdown)
        .concurrent_updates(MeasuredUpdates(services.metrics))
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    # WindowRateLimiter paces requests within Telegram's flood limits (sliding windows, not
    # PTB's leaky bucket, which overshoots and then stalls on 429s) and retries instead of
    # losing; MessageLog around it notes the bot's own group messages (for /purge).
    limiter = WindowRateLimiter(max_retries=5) if rate_limit else None
    builder = builder.rate_limiter(MessageLog(services, limiter))  # type: ignore[arg-type]
    app: App = builder.build()  # type: ignore[assignment]
    app.bot_data["services"] = services
    for feature in FEATURES:
        feature.register(app)
    guard_commands(app, services.commands)  # each command's role, as its CommandSpec says
    start.register_fallback(app)
    errors.register(app)
    return app


async def check_admin_rights(app: App) -> None:
    """Ask Telegram what the bot is in each configured group and who the admins are.

    Warns the moderators when the bot is not an admin (it then cannot see members).
    """
    services = services_of(app)
    context = BotContext(app)
    for group in services.settings.groups:
        try:
            member = await app.bot.get_chat_member(group.chat_id, app.bot.id)
            admins = await app.bot.get_chat_administrators(group.chat_id)
        except TelegramError as exc:
            log.warning("cannot check my status in group %s: %s", group.chat_id, exc)
            continue
        await roster.record_bot_status(context, group.chat_id, group.title, member)
        roster.record_admins(
            services, group.chat_id, group.title, [a for a in admins if a.user.id != app.bot.id]
        )


async def set_command_menus(app: App) -> None:
    """Members and moderators see different command lists in Telegram's menu, in each
    language: English by default, the others for people whose Telegram speaks them; a
    moderator's own menu is in their language (a /language choice sets a personal menu too).
    """
    services = services_of(app)
    menus: list[tuple[list[BotCommand], BotCommandScope, str | None]] = []
    for code in LANGUAGES:
        with use_locale(code):
            private = command_menu(services, Role.MEMBER, Where.PRIVATE)
            group = command_menu(services, Role.MEMBER, Where.GROUP)
        language_code = None if code == DEFAULT_LANGUAGE else code
        menus.append((private, BotCommandScopeAllPrivateChats(), language_code))
        menus.append((group, BotCommandScopeAllGroupChats(), language_code))
    # At once, not one round trip after the other: polling starts only when they are done.
    await asyncio.gather(
        *(
            app.bot.set_my_commands(menu, scope=scope, language_code=code)
            for menu, scope, code in menus
        )
    )
    for moderator_id in services.settings.moderators:
        with use_locale(personal_language(services, moderator_id)):
            menu = command_menu(services, Role.MODERATOR, Where.PRIVATE)
        try:
            await app.bot.set_my_commands(menu, scope=BotCommandScopeChat(moderator_id))
        except TelegramError as exc:  # a moderator who never started the bot
            log.info("no private command menu for moderator %s: %s", moderator_id, exc)


def schedule_sweeps(app: App) -> None:
    if app.job_queue is None:
        return
    for sweep in services_of(app).sweeps:

        async def run(_context: BotContext, sweep: Sweep = sweep) -> None:
            await ops.run_sweep(app, sweep)  # one replica at a time (advisory lock)

        app.job_queue.run_repeating(
            run, interval=sweep.every, first=sweep.first, name=sweep.name, job_kwargs=ops.RUN_LATE
        )


async def on_startup(app: App) -> None:
    # Sweeps (the admin check among them) run about a second after start (the contact index's
    # build later: ``Sweep.first``), then regularly.
    await set_command_menus(app)
    await set_menu_button(app)
    schedule_sweeps(app)
    if app.job_queue is not None:
        # Every replica writes its own (not a sweep: no lock, no turn-taking).
        async def write_behind(_context: BotContext) -> None:
            services_of(app).write_behind()

        app.job_queue.run_repeating(
            write_behind,
            interval=WRITE_BEHIND_EVERY,
            first=1,
            name="write-behind",
            job_kwargs=ops.RUN_LATE,
        )


async def on_shutdown(app: App) -> None:
    services = services_of(app)
    services.write_behind()
    services.db.dispose()
