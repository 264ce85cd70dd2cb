"""The ``imbot`` command line: run, check-config, db, roster, console, i18n."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from config.loader import ConfigError, Environment, LoadedConfig, load_settings
from moderation.clock import Clock, SystemClock
from storage.db import (
    Database,
    DatabaseError,
    current_revision,
    describe_url,
    head_revision,
    reason_of,
)

PACKAGED_EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.yaml"

config_option = click.option(
    "--config",
    "config_path",
    envvar="IMBOT_CONFIG",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The YAML configuration file (or IMBOT_CONFIG).",
)


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load(config_path: Path) -> LoadedConfig:
    """Settings plus environment, or a clear message and exit code 2."""
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        click.echo(f"The configuration has {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    try:
        environment = Environment()
    except ValidationError as exc:
        fail(f"the environment is not valid: {exc}")
    config = LoadedConfig(settings=settings, path=config_path, environment=environment)
    problems = config.problems()
    if problems:
        click.echo(f"The configuration has {len(problems)} problem(s):", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    return config


def open_database(config: LoadedConfig, migrate: bool, check_schema: bool = False) -> Database:
    """The database, migrated if asked; exit 3 with one clear line when it cannot be used."""
    from storage.ops import schema_problem, upgrade_exclusively

    try:
        database = Database(config.database_url)
        database.check()
        if check_schema:
            problem = schema_problem(database.engine, will_migrate=migrate)
            if problem:
                fail(f"refusing to start: {problem}", 3)
        if migrate:
            upgrade_exclusively(database.engine)
    except DatabaseError as exc:
        reason = reason_of(exc, limit=1000)
        fail(f"{reason}. Check DATABASE_URL (e.g. postgresql+psycopg://user@host:5432/imbot).", 3)
    except SQLAlchemyError as exc:
        fail(f"the database failed: {reason_of(exc)}", 3)
    return database


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """imbot: the IM community group bot."""
    # Tests hand in their own clock (``obj=``); a real command line reads the system's.
    if ctx.obj is None:
        ctx.obj = SystemClock()
    if ctx.invoked_subcommand != "run":  # run resumes it once the bot is built
        resume_collector()


def resume_collector() -> None:
    """The garbage collector back on when ``bot.entry`` paused it for start-up (a no-op
    otherwise, as in tests); what start-up made is frozen: it lives as long as the process,
    and later passes need not walk it (see ``bot.entry``)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def now() -> datetime:
    """The time for the running command, from the clock the command line was given."""
    clock: Clock = click.get_current_context().find_root().obj
    return clock.now()


@main.command("check-config")
@click.argument("config_path", type=click.Path(path_type=Path, dir_okay=False))
def check_config(config_path: Path) -> None:
    """Validate a configuration file; exit 0 only when it is valid."""
    config = load(config_path)
    groups = ", ".join(f"{g.title} ({g.chat_id})" for g in config.settings.groups)
    click.echo(f"{config_path}: valid. Groups: {groups}. Time zone: {config.settings.timezone}.")


@main.command()
@config_option
@click.option("--webhook-url", help="Public HTTPS URL Telegram posts updates to (webhook mode).")
@click.option(
    "--listen", help="HTTP server address (health, metrics, webhook); default: http.listen."
)
@click.option(
    "--port", type=click.IntRange(0, 65535), help="HTTP server port (0: any); default: http.port."
)
@click.option(
    "--migrate/--no-migrate",
    default=True,
    show_default=True,
    help="Apply pending migrations at start; with --no-migrate an older schema is refused.",
)
@click.option("--debug", is_flag=True, help="On a start-up failure, show the traceback too.")
def run(
    config_path: Path,
    webhook_url: str | None,
    listen: str | None,
    port: int | None,
    migrate: bool,
    debug: bool,
) -> None:
    """Start the bot (polling by default, webhook with --webhook-url). SIGTERM stops it cleanly.

    The HTTP server (/healthz, /readyz, /metrics; Telegram's POSTs in webhook mode) listens on
    --listen/--port, else the configuration's http.listen/http.port.
    """
    from bot import ops
    from bot.app import ALLOWED_UPDATES, build_application, build_services
    from bot.logs import setup_logging
    from bot.startup import QuietBootstrap, StartupFailure, explain

    config = load(config_path)
    listen = listen if listen is not None else config.settings.http.listen
    port = port if port is not None else config.settings.http.port
    token = config.environment.bot_token.get_secret_value() if config.environment.bot_token else ""
    if not token:
        fail("BOT_TOKEN is not set. Put the token BotFather gave you in the environment.")
    secret = config.environment.webhook_secret
    if webhook_url and (secret is None or not secret.get_secret_value()):
        fail("webhook mode needs WEBHOOK_SECRET in the environment (1-256 of A-Z a-z 0-9 _ -).")
    setup_logging(
        config.settings.log_level,
        [token, secret.get_secret_value() if secret else ""],
        config.settings.log_format,
    )
    if not debug:
        for handler in logging.getLogger().handlers:
            handler.addFilter(QuietBootstrap())
    open_database(config, migrate=migrate, check_schema=True).dispose()
    try:
        services = build_services(config)
    except ValueError as exc:
        fail(f"{config_path}: {exc}")
    app = build_application(services, token)
    resume_collector()
    log = logging.getLogger("imbot")
    log.info("database %s is at revision %s", describe_url(services.db.engine), head_revision())
    webhook = None
    if webhook_url:
        assert secret is not None
        webhook = ops.Webhook(webhook_url, listen, port, secret.get_secret_value())
    http = ops.Listen(listen, port)
    try:
        asyncio.run(ops.run_until_signalled(app, ALLOWED_UPDATES, webhook, http))
    except Exception as exc:
        failure: StartupFailure | None = explain(exc, config.bot_api_url, listen, port)
        if failure is None:
            raise
        if debug:
            import traceback

            click.echo(traceback.format_exc().replace(token, "<token>"), err=True)
        fail(failure.message.replace(token, "<token>"), failure.code)


@main.command()
@click.option(
    "--url",
    default="http://127.0.0.1:8080/readyz",
    show_default=True,
    help="The endpoint to ask (e.g. /healthz for liveness only).",
)
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for the answer.")
def healthcheck(url: str, timeout: float) -> None:
    """Ask the running bot's HTTP server: exit 0 on a 2xx answer, else 1 (for HEALTHCHECK)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            status_code = int(answer.status)
    except urllib.error.HTTPError as exc:
        status_code = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        click.echo(f"unhealthy: cannot reach {url} ({getattr(exc, 'reason', exc)})", err=True)
        sys.exit(1)
    if 200 <= status_code < 300:
        click.echo(f"healthy: {url} answered {status_code}")
        return
    click.echo(f"unhealthy: {url} answered {status_code}", err=True)
    sys.exit(1)


@main.command()
@config_option
def status(config_path: Path) -> None:
    """Health from the shell: database, schema, replicas, sweeps, reminders, groups."""
    from datetime import timedelta

    from bot.app import build_services
    from moderation.durations import format_duration
    from storage.ops import OpsRepository

    config = load(config_path)
    database = open_database(config, migrate=False)
    at = now()
    try:
        services = build_services(config)
    except ValueError as exc:
        fail(f"{config_path}: {exc}")

    def ago(then: datetime | None) -> str:
        if then is None:
            return "never"
        if then > at:
            return f"in {format_duration(then - at)}"
        return f"{format_duration(at - then)} ago" if at - then >= timedelta(minutes=1) else "now"

    current, head = current_revision(database.engine), head_revision()
    click.echo(f"database: {describe_url(database.engine)} reachable")
    click.echo(
        f"schema: {current or 'empty'} (this program: {head})"
        + ("" if current == head else "  <- run `imbot db upgrade`")
    )
    if current != head:
        sys.exit(1)
    with database.transaction() as session:
        repo = OpsRepository(session)
        replicas, runs = repo.replicas(), repo.sweep_runs()
        outbox, groups = repo.outbox(at), repo.groups()
    alive = [
        r for r in replicas if r.stopped_at is None and at - r.last_seen_at < timedelta(minutes=2)
    ]
    click.echo(f"replicas running: {len(alive)}")
    for r in replicas:
        state = "stopped" if r.stopped_at else ("running" if r in alive else "not seen")
        click.echo(
            f"  {r.id} {r.role} {state}; up since {r.started_at:%Y-%m-%d %H:%M} UTC, "
            f"seen {ago(r.last_seen_at)}, last update {ago(r.last_update_at)}"
        )
    click.echo(f"reminders: {outbox.due} due now, {outbox.later} later, {outbox.sending} sending")
    click.echo(f"possibly sent twice: {outbox.maybe_twice}")
    click.echo("sweeps:")
    for sweep in services.sweeps:
        run_row = runs.get(sweep.name)
        if run_row is None:
            click.echo(f"  {sweep.name}: not run yet")
            continue
        result = {True: "ok", False: f"FAILED {run_row.error}", None: "running"}[run_row.ok]
        click.echo(
            f"  {sweep.name}: last {ago(run_row.started_at)} by {run_row.replica} ({result}), "
            f"next {ago(run_row.started_at + sweep.every)}"
        )
    click.echo("groups:")
    for group in config.settings.groups:
        health = groups.get(group.chat_id)
        if health is None or health.checked_at is None:
            click.echo(f"  {group.title} ({group.chat_id}): not checked yet")
            continue
        rights = (
            "every right needed"
            if not health.missing_rights
            else "missing " + ", ".join(health.missing_rights)
        )
        click.echo(
            f"  {group.title} ({group.chat_id}): bot is {health.bot_status}"
            f"{' (admin)' if health.is_admin else ' (NOT admin)'}, {rights}; "
            f"checked {ago(health.checked_at)}"
        )
    services.db.dispose()
    database.dispose()


@main.group()
def db() -> None:
    """Database migrations (DATABASE_URL, else an SQLite file next to the config)."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path) -> None:
    """Apply every pending migration."""
    database = open_database(load(config_path), migrate=True)
    click.echo(
        f"{describe_url(database.engine)} is at revision {current_revision(database.engine)}."
    )


@db.command("current")
@config_option
def db_current(config_path: Path) -> None:
    """Show the database's migration revision and the newest one."""
    database = open_database(load(config_path), migrate=False)
    click.echo(f"current: {current_revision(database.engine)}  newest: {head_revision()}")


@db.command("copy")
@config_option
@click.option("--to", "target_url", required=True, help="Target DATABASE_URL (e.g. PostgreSQL).")
@click.option("--force", is_flag=True, help="Replace the content of a non-empty target.")
def db_copy(config_path: Path, target_url: str, force: bool) -> None:
    """Copy the whole database (e.g. SQLite) into another (e.g. PostgreSQL), verified."""
    from storage.backup import BackupError, copy_database

    source = open_database(load(config_path), migrate=False)
    try:
        target = Database(target_url)
        target.check()
        report = copy_database(source.engine, target.engine, force=force)
    except (BackupError, DatabaseError) as exc:
        fail(str(exc), 1)
    where = describe_url(target.engine)
    if report.already_identical:
        click.echo(f"{where} already holds exactly this data ({report.total} rows); nothing to do.")
        return
    for table, count in report.counts.items():
        click.echo(f"  {table}: {count}")
    click.echo(f"copied and verified {report.total} rows into {where}.")


@main.command("backup")
@config_option
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def backup_command(config_path: Path, path: Path) -> None:
    """Write every table to FILE (gzip JSON lines, format imbot-backup v1)."""
    from storage.backup import BackupError, backup

    database = open_database(load(config_path), migrate=False)
    try:
        counts = backup(database.engine, path, now())
    except (BackupError, OSError) as exc:
        fail(f"backup failed: {exc}", 1)
    click.echo(f"{path}: {sum(counts.values())} rows from {len(counts)} tables.")


@main.command("restore")
@config_option
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Replace the content of a non-empty database.")
def restore_command(config_path: Path, path: Path, force: bool) -> None:
    """Load a backup FILE into the configured database (all or nothing)."""
    from storage.backup import BackupError, restore

    database = open_database(load(config_path), migrate=False)
    try:
        counts = restore(database.engine, path, force=force)
    except BackupError as exc:
        fail(str(exc), 1)
    click.echo(f"restored {sum(counts.values())} rows into {describe_url(database.engine)}.")


@main.command()
@config_option
@click.option("--all", "show_all", is_flag=True, help="Include people who left or were removed.")
def roster(config_path: Path, show_all: bool) -> None:
    """Print each configured group's roster as the bot knows it."""
    from storage.roster import RosterRepository

    config = load(config_path)
    database = open_database(config, migrate=True)
    with database.transaction() as session:
        repository = RosterRepository(session)
        for group in config.settings.groups:
            rows = repository.members(group.chat_id, present_only=not show_all)
            click.echo(f"{group.title} ({group.chat_id}): {len(rows)} people")
            for membership, user in rows:
                handle = f"@{user.username}" if user.username else f"id {user.id}"
                click.echo(
                    f"  {user.display_name} ({handle}) — {membership.status.value}, "
                    f"{membership.join_method.value}, since "
                    f"{membership.joined_at:%Y-%m-%d %H:%M} UTC"
                )


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=PACKAGED_EXAMPLE,
    show_default=True,
    help="The configuration to try.",
)
@click.option("--db", "database", help="Database URL to use (default: a fresh temporary SQLite).")
@click.option("--script", type=click.File("r"), help="Read console lines from a file.")
def console(config_path: Path, database: str | None, script: click.File | None) -> None:
    """Chat with the real bot locally, over a fake Telegram: no token needed."""
    from bot.console import run_console

    config = load(config_path)
    asyncio.run(run_console(config, database, script))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()


@main.command("import-contacts")
@config_option
@click.argument("csv_path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--apply", "apply_", is_flag=True, help="Import; without it, only report (dry run).")
def import_contacts_command(config_path: Path, csv_path: Path, apply_: bool) -> None:
    """Import contacts from CSV: a dry-run report first; nothing is imported if any row is bad.

    Imported people are not findable until they agree (they are asked when they start the bot).
    Progress goes to stderr: a line redrawn in place on a terminal, else one line per 10 %.
    """
    from moderation.contacts import parse_contacts_csv
    from storage.contacts import import_contacts

    config = load(config_path)
    policy = config.settings.contacts
    size = csv_path.stat().st_size
    if size > policy.import_max_bytes:
        fail(
            f"{csv_path} is {size:,} bytes; the limit is {policy.import_max_bytes:,} "
            "(contacts.import_max_bytes); nothing was imported"
        )
    parsed = parse_contacts_csv(
        csv_path.read_bytes(),
        policy.import_max_bytes,
        policy.default_phone_region,
        max_rows=policy.import_max_rows,
        progress=_progress("checked"),
    )
    if parsed.errors:
        click.echo(f"{csv_path}: {len(parsed.errors)} problem(s); nothing was imported:", err=True)
        for error in parsed.errors:
            click.echo(f"  {error}", err=True)
        sys.exit(1)
    database = open_database(config, migrate=True)
    with database.transaction() as session:
        report = import_contacts(
            session,
            parsed.rows,
            now(),
            apply=apply_,
            progress=_progress("imported" if apply_ else "compared"),
        )
    verb = "imported" if apply_ else "dry run, would import"
    click.echo(f"{csv_path}: {verb}: {report.summary()}")
    if not apply_:
        click.echo("Run again with --apply to import.")


def _progress(verb: str) -> Callable[[int, int], None]:
    """Rows done so far, on stderr: redrawn in place on a terminal, else every 10 %."""
    terminal = sys.stderr.isatty()
    shown = [-1]

    def show(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if not terminal and tenth == shown[0]:
            return
        shown[0] = tenth
        line = f"{verb} {done:,} of {total:,} rows ({done * 100 // max(total, 1)} %)"
        if terminal:  # one line redrawn; the last one stays
            click.echo(f"\r{line}", nl=done >= total, err=True)
        else:
            click.echo(line, err=True)

    return show


@main.group("i18n")
def i18n_group() -> None:
    """Translation catalogs (i18n/locales/<lang>/LC_MESSAGES/imbot.po)."""


@i18n_group.command("update")
def i18n_update() -> None:
    """Extract the strings the source uses and merge them into every language's catalog.

    New strings appear untranslated (msgstr ""); strings no longer used are dropped. Then
    translate the empty entries and run `imbot i18n check`.
    """
    from i18n.catalog import TEMPLATE, update_catalogs

    missing = update_catalogs()
    click.echo(f"template: {TEMPLATE}")
    for language, count in missing.items():
        click.echo(f"{language}: {count} string(s) to translate")


@i18n_group.command("check")
def i18n_check() -> None:
    """Fail (exit 1) when a catalog misses a string or its placeholders/HTML/plurals differ."""
    from i18n import LANGUAGES
    from i18n.catalog import problems
    from moderation.audit_details import english_leaks

    found = [str(problem) for problem in problems()]
    # What is composed at read time (the moderation log's details): render each kind in each
    # language and look for English words that are not names.
    found += [
        leak for language in LANGUAGES if language != "en" for leak in english_leaks(language)
    ]
    for problem in found:
        click.echo(problem, err=True)
    if found:
        sys.exit(1)
    click.echo("every catalog is complete")
