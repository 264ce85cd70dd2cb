"""The ``imbot`` command line: run, check-config, db, roster, console, i18n."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import NoReturn

import click
from pydantic import ValidationError

from config.loader import ConfigError, Environment, LoadedConfig, load_settings
from storage.db import Database, DatabaseError, current_revision, describe_url, head_revision

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
    return LoadedConfig(settings=settings, path=config_path, environment=environment)


def open_database(config: LoadedConfig, migrate: bool) -> Database:
    try:
        database = Database(config.database_url)
        database.check()
        if migrate:
            database.upgrade()
    except DatabaseError as exc:
        fail(f"{exc}. Check DATABASE_URL (e.g. postgresql+psycopg://user@host:5432/imbot).", 3)
    return database


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """imbot: the IM community group bot."""


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
@click.option("--listen", default="127.0.0.1", show_default=True, help="Webhook listen address.")
@click.option("--port", default=8443, show_default=True, help="Webhook listen port.")
def run(config_path: Path, webhook_url: str | None, listen: str, port: int) -> None:
    """Start the bot (polling by default, webhook with --webhook-url)."""
    from bot.app import ALLOWED_UPDATES, build_application, build_services
    from bot.logs import setup_logging

    config = load(config_path)
    token = config.environment.bot_token.get_secret_value() if config.environment.bot_token else ""
    if not token:
        fail("BOT_TOKEN is not set. Put the token BotFather gave you in the environment.")
    secret = config.environment.webhook_secret
    if webhook_url and (secret is None or not secret.get_secret_value()):
        fail("webhook mode needs WEBHOOK_SECRET in the environment (1-256 of A-Z a-z 0-9 _ -).")
    setup_logging(config.settings.log_level, [token, secret.get_secret_value() if secret else ""])
    open_database(config, migrate=True).dispose()
    services = build_services(config)
    app = build_application(services, token)
    log = logging.getLogger("imbot")
    log.info("database %s is at revision %s", describe_url(services.db.engine), head_revision())
    if webhook_url:
        assert secret is not None
        path = webhook_url.rstrip("/").rsplit("/", 1)[-1]
        app.run_webhook(
            listen=listen,
            port=port,
            url_path=path,
            webhook_url=webhook_url,
            secret_token=secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        app.run_polling(allowed_updates=ALLOWED_UPDATES)


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
    """
    from moderation.clock import SystemClock
    from moderation.contacts import parse_contacts_csv
    from storage.contacts import import_contacts

    config = load(config_path)
    policy = config.settings.contacts
    size = csv_path.stat().st_size
    if size > policy.import_max_bytes:
        fail(f"{csv_path} is {size:,} bytes; the limit is {policy.import_max_bytes:,}")
    parsed = parse_contacts_csv(
        csv_path.read_bytes(), policy.import_max_bytes, policy.default_phone_region
    )
    if parsed.errors:
        click.echo(f"{csv_path}: {len(parsed.errors)} problem(s); nothing was imported:", err=True)
        for error in parsed.errors:
            click.echo(f"  {error}", err=True)
        sys.exit(1)
    database = open_database(config, migrate=True)
    with database.transaction() as session:
        report = import_contacts(session, parsed.rows, SystemClock().now(), apply=apply_)
    verb = "imported" if apply_ else "dry run, would import"
    click.echo(f"{csv_path}: {verb}: {report.summary()}")
    if not apply_:
        click.echo("Run again with --apply to import.")


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
    from i18n.catalog import problems

    found = list(problems())
    for problem in found:
        click.echo(str(problem), err=True)
    if found:
        sys.exit(1)
    click.echo("every catalog is complete")
