"""The container image and compose.yaml, checked without a Docker daemon.

What can be checked here is: the Dockerfile passes hadolint; compose.yaml is valid per the
Compose specification's JSON schema (check-jsonschema's copy); the files say what the README
promises (multi-stage, slim base, the lock with hashes, a non-root user, a health check,
PostgreSQL + two replicas + Caddy with health checks on /readyz); and the commands they run —
the image's entrypoint and default command, its HEALTHCHECK, compose's migration, replica and
health-check commands — work when run as processes against the fake Bot API. What cannot be
checked here is the image build itself and the containers talking to each other.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from simulation.http import FakeTelegramServer
from tests.deployment import (
    BIN,
    ROOT,
    Container,
    dockerfile_env,
    dockerfile_stages,
    exec_form,
    interpolate,
    on_port,
    run_command,
    with_port_zero,
)
from tests.processes import wait_for

COMPOSE_ENV = {
    "BOT_TOKEN": "123456:COMPOSE-test-token",
    "WEBHOOK_SECRET": "compose_Secret-1",
    "POSTGRES_PASSWORD": "pw-in-env",
    "IMBOT_DOMAIN": "bot.example.org",
}
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    text = interpolate((ROOT / "compose.yaml").read_text(), env or COMPOSE_ENV)
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@pytest.fixture
def containers() -> Iterator[list[Container]]:
    started: list[Container] = []
    yield started
    for container in started:
        container.stop()


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    answer = lint(ROOT / "Dockerfile")
    assert (answer.returncode, answer.stdout, answer.stderr) == (0, "", "")
    # The linter is really looking: a careless Dockerfile is refused.
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install imbot\nRUN cd /src && make\n")
    answer = lint(careless)
    assert answer.returncode != 0
    assert "DL3007" in answer.stdout and "DL3013" in answer.stdout, answer.stdout


def test_compose_file_is_valid_per_the_compose_specification(tmp_path: Path) -> None:
    def validate(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    answer = validate(ROOT / "compose.yaml")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    # And the schema bites: a misspelt key under a service is refused.
    broken = tmp_path / "compose.yaml"
    broken.write_text((ROOT / "compose.yaml").read_text().replace("healthcheck:", "helthcheck:"))
    assert validate(broken).returncode != 0


def test_dockerfile_is_multi_stage_from_the_lock_as_a_non_root_user() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert {stage.base for stage in stages} == {"python:3.11-slim"}
    build, final = stages[0], stages[-1]
    installs = " ".join(build.all("RUN"))
    assert "--require-hashes -r requirements/lock.txt" in installs
    assert "--no-deps ." in installs  # the bot itself adds nothing unlocked
    assert "i18n check" in installs  # every catalog complete, or the build fails
    assert any("requirements/lock.txt" in copy for copy in build.all("COPY"))
    assert all("--from=" in copy for copy in final.all("COPY"))  # no sources in the image
    user = final.last("USER")
    assert user is not None and user.split(":")[0] not in {"root", "0"}
    assert "useradd" in " ".join(final.all("RUN")) and "10001" in " ".join(final.all("RUN"))
    assert exec_form(final.last("ENTRYPOINT") or "[]") == ["imbot"]
    healthcheck = final.last("HEALTHCHECK") or ""
    assert healthcheck.split(" CMD ")[1].startswith('["imbot", "healthcheck"')


def test_the_image_configuration_is_valid_for_check_config() -> None:
    # The image copies config/example.yaml to the path IMBOT_CONFIG names.
    final = dockerfile_stages()[-1]
    env = dockerfile_env(final)
    copied = [c.split()[-2:] for c in final.all("COPY") if c.split()[-1] == env["IMBOT_CONFIG"]]
    assert copied == [["/src/config/example.yaml", "/etc/imbot/imbot.yaml"]]
    answer = run_command(["imbot", "check-config", str(ROOT / "config" / "example.yaml")])
    assert answer.returncode == 0 and "valid" in answer.stdout, answer.stderr


def test_image_default_command_and_healthcheck_run(
    server: FakeTelegramServer, containers: list[Container], tmp_path: Path
) -> None:
    """ENTRYPOINT + CMD as the image runs them (polling, SQLite in its volume), then HEALTHCHECK."""
    final = dockerfile_stages()[-1]
    env = dockerfile_env(final)
    assert env["DATABASE_URL"] == "sqlite:////var/lib/imbot/imbot.sqlite3"
    assert final.last("WORKDIR") == "/var/lib/imbot" and '"/var/lib/imbot"' in (
        final.last("VOLUME") or ""
    )
    argv = exec_form(final.last("ENTRYPOINT") or "[]") + exec_form(final.last("CMD") or "[]")
    assert argv == ["imbot", "run", "--listen", "0.0.0.0", "--port", "8080"]
    env.pop("PATH")
    env["IMBOT_CONFIG"] = str(ROOT / "config" / "example.yaml")  # the copied file
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'imbot.sqlite3'}"  # the volume
    env["BOT_TOKEN"], env["BOT_API_URL"] = "123456:IMAGE-test-token", server.url("image")
    bot = Container(with_port_zero(argv), env, tmp_path / "image.log")
    containers.append(bot)
    port = bot.port()
    wait_for(lambda: "receives updates" in bot.output(), 60, "polling")
    check = exec_form((final.last("HEALTHCHECK") or "").split(" CMD ")[1])
    assert run_command(on_port(check, port)).returncode == 0
    assert bot.stop() == 0  # docker stop sends SIGTERM (STOPSIGNAL): a clean exit
    assert final.last("STOPSIGNAL") == "SIGTERM"
    failed = run_command(on_port(check, port))
    assert failed.returncode == 1  # the container would be marked unhealthy


def test_compose_runs_postgresql_two_replicas_and_caddy_with_health_checks() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "bot-1", "bot-2", "caddy"}
    bots = [services["bot-1"], services["bot-2"]]
    assert bots[0] == bots[1]  # two identical replicas
    bot = bots[0]
    assert bot["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://imbot:pw-in-env@db:")
    assert bot["healthcheck"]["test"][:3] == ["CMD", "imbot", "healthcheck"]
    assert "http://127.0.0.1:8080/readyz" in bot["healthcheck"]["test"]
    assert bot["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert bot["command"][:2] == ["run", "--no-migrate"] and "--webhook-url" in bot["command"]
    assert bot["stop_signal"] == "SIGTERM"
    assert services["db"]["image"].startswith("postgres:")
    assert services["db"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    caddy = services["caddy"]
    assert caddy["image"].startswith("caddy:")
    assert caddy["depends_on"] == {
        "bot-1": {"condition": "service_healthy"},
        "bot-2": {"condition": "service_healthy"},
    }
    assert caddy["environment"]["IMBOT_REPLICAS"].split() == ["bot-1:8080", "bot-2:8080"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert caddyfile.count("{$IMBOT_REPLICAS:") == 2 and "health_uri /readyz" in caddyfile
    # Caddy passes Telegram's POSTs on the path the replicas registered with Telegram.
    url = bot["command"][bot["command"].index("--webhook-url") + 1]
    assert url == "https://bot.example.org" + caddy["environment"]["WEBHOOK_PATH"]
    assert "path {$WEBHOOK_PATH:" in caddyfile


def test_compose_refuses_to_start_without_its_secrets() -> None:
    for missing in COMPOSE_ENV:
        env = {k: v for k, v in COMPOSE_ENV.items() if k != missing}
        with pytest.raises(ValueError, match=missing):
            compose(env)


def test_compose_commands_run_migration_replica_and_healthcheck(
    server: FakeTelegramServer, containers: list[Container], tmp_path: Path
) -> None:
    """The migrate service, then a replica in webhook mode, as compose runs them."""
    services = compose()["services"]
    bot = services["bot-1"]
    config_volume = next(v for v in bot["volumes"] if v.endswith(":/etc/imbot/imbot.yaml:ro"))
    host_config = ROOT / config_volume.split(":")[0]
    assert host_config.is_file()
    env = {**bot["environment"], "IMBOT_CONFIG": str(host_config)}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'imbot.sqlite3'}"  # PostgreSQL in compose
    env["BOT_API_URL"] = server.url("compose")
    migrate = run_command(["imbot", *services["migrate"]["command"]], env)
    assert migrate.returncode == 0, migrate.stderr
    replica = Container(with_port_zero(["imbot", *bot["command"]]), env, tmp_path / "bot-1.log")
    containers.append(replica)
    port = replica.port()
    wait_for(lambda: "receiving updates by webhook" in replica.output(), 60, "the webhook")
    registered = [c for c in server.calls if c.method == "setWebhook"]
    assert registered[-1].params["url"] == "https://bot.example.org/tg-webhook"
    assert run_command(on_port(bot["healthcheck"]["test"][1:], port)).returncode == 0
    with httpx.Client(timeout=10) as client:
        # What Caddy would pass on: a POST to the webhook path, with Telegram's secret header.
        answer = client.post(
            f"http://127.0.0.1:{port}/tg-webhook",
            content=b'{"update_id": 1}',
            headers={HEADER: COMPOSE_ENV["WEBHOOK_SECRET"]},
        )
        assert answer.status_code == 200
        assert client.get(f"http://127.0.0.1:{port}/readyz").json()["role"] == "webhook"
    assert replica.stop() == 0
    assert COMPOSE_ENV["BOT_TOKEN"] not in replica.output()
