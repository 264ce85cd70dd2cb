"""Reading the deployment files (Dockerfile, compose.yaml, Kubernetes) and running their commands
outside a container, for tests/test_container.py and tests/test_kubernetes.py.

There is no Docker daemon on the machines the tests run on, so the commands an image or a pod
would run are run here as processes of the installed ``imbot``, with the environment the file
gives them, paths inside the container mapped to files in the repository, the database an
SQLite file, Telegram the fake Bot API, and the HTTP port 0 (any free port, read from the log)
so that tests running side by side do not collide.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IMBOT = BIN / "imbot"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [value for key, value in self.instructions if key == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def dockerfile_stages(path: Path = ROOT / "Dockerfile") -> list[Stage]:
    """The build stages, each with its instructions (continuation lines joined)."""
    stages: list[Stage] = []
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        logical += (" " if logical else "") + line.removesuffix("\\").strip()
        if line.endswith("\\"):
            continue
        keyword, _space, value = logical.partition(" ")
        keyword, logical = keyword.upper(), ""
        if keyword == "FROM":
            parts = value.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            stages[-1].instructions.append((keyword, value.strip()))
    return stages


def exec_form(value: str) -> list[str]:
    """A JSON-array instruction value (``["imbot", "run"]``); shell form is not accepted."""
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed), value
    return list(parsed)


def dockerfile_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in stage.all("ENV"):
        for key, setting in re.findall(r'(\w+)=("[^"]*"|\S+)', value):
            env[key] = setting.strip('"')
    return env


_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``, as the spec says."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if operator in (":-", "-"):
            return value if value or (operator == "-" and value is not None) else argument
        if operator in (":?", "?"):
            if not value and not (operator == "?" and value is not None):
                raise ValueError(f"{name}: {argument}")
            return value or ""
        return value or ""

    return _VARIABLE.sub(one, text)


def with_port_zero(args: list[str]) -> list[str]:
    """The same arguments with ``--port N`` replaced by ``--port 0`` (any free port)."""
    out = list(args)
    index = out.index("--port")
    out[index + 1] = "0"
    return out


class Container:
    """A command an image or pod would run, run here; stopped with ``stop``."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        assert argv[0] == "imbot", argv  # the entrypoint is the installed command
        self.log = log
        environment = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BOT_", "IMBOT_", "DATABASE_", "WEBHOOK_"))
        }
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(IMBOT), *argv[1:]],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**environment, **env},
                cwd=log.parent,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def port(self) -> int:
        found: list[int] = []

        def logged() -> bool:
            match = re.search(r"HTTP server listening on \S+ port (\d+)", self.output())
            if match:
                found.append(int(match.group(1)))
            assert self.process.poll() is None, self.output()
            return bool(match)

        wait_for(logged, 60, "the HTTP server")
        return found[0]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(60)


def run_command(
    argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A one-shot command (a health check, a migration) with the installed ``imbot``."""
    assert argv[0] == "imbot", argv
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "IMBOT_", "DATABASE_"))
    }
    return subprocess.run(
        [str(IMBOT), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **(env or {})},
        cwd=ROOT,
    )


def on_port(argv: list[str], port: int) -> list[str]:
    """A health check's arguments aimed at ``port`` instead of the container's 8080."""
    return [re.sub(r"(//127\.0\.0\.1):8080/", rf"\1:{port}/", a) for a in argv]
