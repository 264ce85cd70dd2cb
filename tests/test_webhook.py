"""Webhook mode against a live listener: Telegram's secret token is checked on every POST."""

from __future__ import annotations

import asyncio
import socket

import httpx

from bot import ops
from bot.app import ALLOWED_UPDATES, build_application, build_services
from config.loader import LoadedConfig
from moderation.clock import FakeClock
from simulation.faketg import FakeTelegram
from simulation.simulator import FAKE_TOKEN
from tests.conftest import GROUP_ID

SECRET = "s3cret_Token-42"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_refuses_wrong_or_missing_secret_and_processes_the_right_one(
    config: LoadedConfig, clock: FakeClock
) -> None:
    telegram = FakeTelegram(clock)
    telegram.add_group(GROUP_ID, "Ukraine IM community")
    olena = telegram.add_user("Olena", "Petrenko", "olena_p")
    services = build_services(config, clock)
    services.db.upgrade()
    app = build_application(services, FAKE_TOKEN, request=telegram.request(), rate_limit=False)
    port = free_port()
    stop = asyncio.Event()
    hook = ops.Webhook(f"https://bot.example.org/tg-{port}", "127.0.0.1", port, SECRET)
    serving = asyncio.create_task(ops.serve(app, stop, ALLOWED_UPDATES, hook))
    url = f"http://127.0.0.1:{port}/tg-{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(100):  # until the listener is up
                try:
                    await client.get(url)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            start = telegram.message(olena.id, olena.id, "/start")
            missing = await client.post(url, json=start)
            wrong = await client.post(url, json=start, headers={HEADER: "not-the-secret"})
            assert (missing.status_code, wrong.status_code) == (403, 403)
            await asyncio.sleep(0.3)
            assert telegram.sent(olena.id) == []  # refused updates were not processed
            right = await client.post(url, json=start, headers={HEADER: SECRET})
            assert right.status_code == 200
            for _ in range(100):
                if telegram.sent(olena.id):
                    break
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await serving
    replies = telegram.sent(olena.id)
    assert len(replies) == 1 and "Hello Olena" in replies[0].text  # processed exactly once
    registered = [c for c in telegram.calls if c.method == "setWebhook"]
    assert registered and registered[-1].params["secret_token"] == SECRET
    assert registered[-1].params["url"] == hook.url
    assert "chat_member" in registered[-1].params["allowed_updates"]
    assert services.role == "webhook"
