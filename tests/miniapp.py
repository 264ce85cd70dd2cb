"""Driving the Mini App from outside: Telegram's side signs initData (from Telegram's
documentation, not the bot's verifier) and the bot's real HTTP server answers."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from web import miniapp
from web.server import HttpServer


def sign(token: str, user: dict[str, Any], at: datetime) -> str:
    """What Telegram hands the Mini App: the fields, and their HMAC as its documentation says."""
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(int(at.timestamp())),
    }
    key = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    fields["hash"] = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)


def init_data(
    sim: Simulator, person: FakeUser, age: timedelta = timedelta(minutes=1), language: str = "en"
) -> str:
    user = {"id": person.id, "first_name": person.first_name, "language_code": language}
    return sign(sim.app.bot.token, user, sim.clock.now() - age)


def auth(raw: str) -> dict[str, str]:
    return {"Authorization": f"tma {raw}"}


@asynccontextmanager
async def served(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """The Mini App's routes on the bot's own HTTP server (tornado), on a free local port."""
    server = HttpServer(sim.services, miniapp.routes(sim.app))
    port = server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        await server.stop()
