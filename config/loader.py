"""Load and validate the YAML configuration and the environment.

A wrong file stops the program with the file, the line, the key path and what was expected.
Secrets (the bot token, database passwords) come only from the environment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator

from config.schema import Settings

DEFAULT_BOT_API_URL = "https://api.telegram.org/bot"
DEFAULT_BOT_API_FILE_URL = "https://api.telegram.org/file/bot"


class ConfigError(Exception):
    """Every problem found in a configuration, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Environment(BaseModel):
    """Deployment values and secrets, read from environment variables only.

    Each field from the variable of its name in any case (``BOT_TOKEN``), as pydantic-settings'
    ``BaseSettings`` read them (without importing it: its providers for cloud secret stores and
    command lines cost ~0.1 s at every start); values given to the constructor win.
    """

    model_config = ConfigDict(extra="ignore")

    bot_token: SecretStr | None = None
    database_url: str | None = None
    bot_api_url: str | None = None
    bot_api_file_url: str | None = None
    bot_api_local: bool | None = None
    webhook_secret: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, given: Any) -> Any:
        if not isinstance(given, dict):
            return given
        fields = cls.model_fields
        found = {name.lower(): v for name, v in os.environ.items() if name.lower() in fields}
        return {**found, **given}


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    path: Path
    environment: Environment

    @property
    def database_url(self) -> str:
        """``DATABASE_URL``, else an SQLite file next to the config file."""
        if self.environment.database_url:
            return self.environment.database_url
        return f"sqlite:///{self.path.resolve().parent / 'imbot.sqlite3'}"

    @property
    def bot_api_url(self) -> str:
        return self.environment.bot_api_url or self.settings.bot_api_url or DEFAULT_BOT_API_URL

    @property
    def bot_api_file_url(self) -> str:
        """``BOT_API_FILE_URL``, else the setting, else derived from the Bot API address."""
        explicit = self.environment.bot_api_file_url or self.settings.bot_api_file_url
        return explicit or file_url_for(self.bot_api_url)

    @property
    def bot_api_local(self) -> bool:
        """Whether the Bot API server runs with ``--local`` (file paths on its own disk)."""
        if self.environment.bot_api_local is not None:
            return self.environment.bot_api_local
        return self.settings.bot_api_local

    def problems(self) -> list[str]:
        """What the environment and the file allow separately but not together."""
        found = []
        if self.bot_api_local and self.bot_api_url == DEFAULT_BOT_API_URL:
            found.append(
                "bot_api_local (BOT_API_LOCAL) needs a self-hosted Bot API server started with "
                "--local: set bot_api_url (BOT_API_URL) to its address, or turn bot_api_local off"
            )
        for name, value in (
            ("BOT_API_URL", self.environment.bot_api_url),
            ("BOT_API_FILE_URL", self.environment.bot_api_file_url),
        ):
            if value is not None and not URL.fullmatch(value):
                found.append(f"{name} must be an http:// or https:// address (got {value[:60]!r})")
        return found


URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")


def file_url_for(bot_api_url: str) -> str:
    """Where a Bot API server serves files: ``…/bot`` → ``…/file/bot``, as Telegram and the
    self-hosted telegram-bot-api server (without ``--local``) both do."""
    if bot_api_url.rstrip("/") == DEFAULT_BOT_API_URL:
        return DEFAULT_BOT_API_FILE_URL
    base, _slash, last = bot_api_url.rstrip("/").rpartition("/")
    return f"{base}/file/{last}"


def _line_index(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each key path in the YAML document to its line number (1-based)."""
    index: dict[tuple[str | int, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        index[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (*path, str(key_node.value))
                walk(value_node, key)
                index[key] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                walk(item, (*path, position))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return index
    if root is not None:
        walk(root, ())
    return index


def _allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the schema accepts at ``loc`` (the parent of an unknown key)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        # Unwrap list[X] / X | None to find the nested model.
        for arg in getattr(annotation, "__args__", ()) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                annotation = arg
        current = annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _format_loc(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def format_validation_error(
    error: ValidationError, path: Path, text: str, model: type[BaseModel] = Settings
) -> list[str]:
    lines = _line_index(text)
    problems = []
    for item in error.errors():
        loc = tuple(part for part in item["loc"] if not isinstance(part, str) or part[:1] != "_")
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
        where = f"{path}:{line}" if line else str(path)
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            expected = f"; expected one of: {', '.join(allowed)}" if allowed else ""
            problems.append(f"{where}: {_format_loc(loc)}: unknown key{expected}")
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        got = ""
        if item["type"] not in ("missing",) and not isinstance(item.get("input"), dict | list):
            got = f" (got {str(item.get('input'))[:60]!r})"
        problems.append(f"{where}: {_format_loc(loc)}: {message}{got}")
    return problems


def load_settings(path: Path | str) -> Settings:
    """Read and validate a YAML configuration file, raising ConfigError with every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot be read as UTF-8 text ({exc})"]) from None
    try:
        # libyaml's parser when PyYAML has it: the same values, ~15 ms less at every start.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: invalid YAML: {problem}"]) from None
    except ValueError:
        # PyYAML turns date-shaped scalars into dates itself: 2026-13-01 raises a bare ValueError.
        raise ConfigError(_impossible_dates(text, path)) from None
    if data is None:
        raise ConfigError([f"{path}: the file is empty; expected a mapping with at least 'groups'"])
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of settings at the top level"])
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path, text)) from None


def _impossible_dates(text: str, path: Path) -> list[str]:
    """Every date-shaped scalar that is no date (month 13, 30 February), with its line."""
    loader = yaml.SafeLoader(text)
    problems: list[str] = []

    def walk(node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                loader.construct_yaml_timestamp(node)
            except ValueError as exc:
                problems.append(
                    f"{path}:{node.start_mark.line + 1}: {node.value!r} is not a date ({exc}); "
                    "expected YYYY-MM-DD"
                )
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(key)
                walk(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    finally:
        loader.dispose()
    if root is not None:
        walk(root)
    return problems or [f"{path}: a value cannot be read (not a valid date or number)"]


def load_config(path: Path | str) -> LoadedConfig:
    """Settings from the file plus the environment."""
    return LoadedConfig(settings=load_settings(path), path=Path(path), environment=Environment())
