"""The fake Bot API (bot/faketg.FakeTelegram) served over real HTTP, for multi-process tests.

Real ``imbot run`` processes talk to it through ``BOT_API_URL``. Give each process its own
prefix (``server.url("a")`` → ``http://127.0.0.1:PORT/a/bot``) and the server knows who sent
what. It answers like Telegram in the ways that matter for running several replicas:
``getUpdates`` long-polls (at most ``limit``, 100, updates an answer), and a second process
polling while another is answers 409 Conflict, as Telegram does. ``hold_after`` freezes a
process's sendMessage calls from the Nth on before they are processed (the ones it has under way
at once too), so a test can kill the process at a known point.

Runs tornado (installed with python-telegram-bot's webhooks extra) on its own thread.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import tornado.web

from simulation.faketg import JSON, ApiError, FakeTelegram

# Parameters Telegram takes as text: never JSON-decoded even when they look like numbers.
TEXT_PARAMS = {
    "text",
    "caption",
    "name",
    "title",
    "description",
    "short_description",
    "query",
    "url",
    "secret_token",
    "invite_link",
    "callback_query_id",
    "file_id",
    "parse_mode",
    "language_code",
}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def decode_params(raw: dict[str, str]) -> JSON:
    """PTB sends form fields whose non-string values are JSON-encoded; undo that."""
    params: JSON = {}
    for key, value in raw.items():
        if key not in TEXT_PARAMS and (
            value[:1] in ("{", "[") or value in ("true", "false") or _NUMBER.fullmatch(value)
        ):
            try:
                params[key] = json.loads(value)
                continue
            except ValueError:
                pass
        params[key] = value
    return params


@dataclass(frozen=True)
class Call:
    """One Bot API call as the server processed it."""

    client: str  # the URL prefix the process used ("" without one)
    method: str
    params: JSON
    ok: bool


class FakeTelegramServer:
    def __init__(self, telegram: FakeTelegram, host: str = "127.0.0.1") -> None:
        self.telegram = telegram
        self.host, self.port = host, 0
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.conflicts: list[str] = []  # clients whose getUpdates another poller ended
        self.updates: deque[JSON] = deque()
        self.held = threading.Event()
        self.held_client: str | None = None
        self._hold_after: int | None = None
        self._polling: dict[str, list[asyncio.Event]] = {}  # client → open getUpdates
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self.reject_tokens = False  # answer every call 401 Unauthorized, as for a revoked token
        self.downloads: list[Call] = []  # file downloads: client prefix, method "file", path

    # ---- control (from the test's thread) ------------------------------------------------
    def url(self, client: str = "") -> str:
        prefix = f"/{client}" if client else ""
        return f"http://{self.host}:{self.port}{prefix}/bot"

    def start(self) -> FakeTelegramServer:
        self._thread = threading.Thread(target=self._run, name="fake-telegram", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the fake Telegram server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def hold_after(self, count: int) -> None:
        """The first client to reach ``count`` sendMessage calls has every later one frozen."""
        with self.lock:
            self._hold_after = count

    def push_update(self, update: JSON) -> None:
        with self.lock:
            self.updates.append(update)
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def sent(self, client: str | None = None) -> list[Call]:
        """Messages the fake accepted (sendMessage that succeeded)."""
        with self.lock:
            return [
                c
                for c in self.calls
                if c.method == "sendMessage" and c.ok and (client is None or c.client == client)
            ]

    # ---- the server (its own thread and event loop) --------------------------------------
    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake, self._stop = asyncio.Event(), asyncio.Event()
        app = tornado.web.Application(
            [
                (r"/(?:([\w-]+)/)?file/bot[^/]+/(.+)", _FileHandler, {"server": self}),
                (r"/(?:([\w-]+)/)?bot[^/]+/(\w+)", _ApiHandler, {"server": self}),
            ]
        )
        http = app.listen(0, self.host)
        self.port = next(iter(http._sockets.values())).getsockname()[1]
        self._started.set()
        await self._stop.wait()
        http.stop()
        await http.close_all_connections()

    async def call(self, client: str, method: str, params: JSON, files: Any) -> tuple[int, JSON]:
        if self.reject_tokens:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method == "getUpdates":
            return await self._get_updates(client, params)
        if method == "sendMessage" and self._should_hold(client):
            await asyncio.Event().wait()  # never processed: the process dies waiting
        with self.lock:
            try:
                result = self.telegram.handle(method, params, files)
            except ApiError as error:
                self.calls.append(Call(client, method, params, False))
                body: JSON = {"ok": False, "error_code": error.code}
                body["description"] = error.description
                if error.retry_after is not None:
                    body["parameters"] = {"retry_after": error.retry_after}
                return error.code, body
            self.calls.append(Call(client, method, params, True))
            for update in self.telegram.pending:
                self.updates.append(update)
            self.telegram.pending.clear()
        return 200, {"ok": True, "result": result}

    def _should_hold(self, client: str) -> bool:
        with self.lock:
            if self._hold_after is None:
                return False
            if self.held.is_set():  # the held process's later sends are frozen as well
                return client == self.held_client
            if len(self.sent(client)) < self._hold_after:
                return False
            self.held_client = client
            self.held.set()
            return True

    async def _get_updates(self, client: str, params: JSON) -> tuple[int, JSON]:
        # Like Telegram: a getUpdates from another process ends the open one with 409.
        terminated = asyncio.Event()
        with self.lock:
            for other, events in self._polling.items():
                if other != client:
                    for event in events:
                        event.set()
            self._polling.setdefault(client, []).append(terminated)
        try:
            assert self._wake is not None
            timeout = float(params.get("timeout") or 0)
            if not self.updates and timeout > 0:
                self._wake.clear()
                waiters = [asyncio.ensure_future(e.wait()) for e in (self._wake, terminated)]
                _done, pending = await asyncio.wait(
                    waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in pending:
                    waiter.cancel()
            if terminated.is_set():
                with self.lock:
                    self.conflicts.append(client)
                return 409, {
                    "ok": False,
                    "error_code": 409,
                    "description": "Conflict: terminated by other getUpdates request; make "
                    "sure that only one bot instance is running",
                }
            with self.lock:
                offset = int(params.get("offset") or 0)
                ready = [u for u in self.updates if u["update_id"] >= offset]
                limit = int(params.get("limit") or 100)  # as Telegram: at most 100 at once
                self.updates = deque(ready[limit:])
                ready = ready[:limit]
            return 200, {"ok": True, "result": ready}
        finally:
            with self.lock:
                self._polling[client].remove(terminated)


class _ApiHandler(tornado.web.RequestHandler):
    def initialize(self, server: FakeTelegramServer) -> None:
        self.server = server

    async def post(self, client: str | None, method: str) -> None:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and self.request.body:
            params: JSON = json.loads(self.request.body)
        else:
            raw = {k: v[-1].decode() for k, v in self.request.body_arguments.items()}
            params = decode_params(raw)
        files = {
            name: (parts[0].filename, parts[0].body) for name, parts in self.request.files.items()
        }
        status, body = await self.server.call(client or "", method, params, files)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    get = post

    def check_xsrf_cookie(self) -> None:
        return None


class _FileHandler(tornado.web.RequestHandler):
    def initialize(self, server: FakeTelegramServer) -> None:
        self.server = server

    def get(self, client: str | None, path: str) -> None:
        with self.server.lock:
            try:
                content = self.server.telegram.download(self.request.path)
            except ApiError as error:
                self.server.downloads.append(Call(client or "", "file", {"path": path}, False))
                self.set_status(error.code)
                self.finish(error.description)
                return
            self.server.downloads.append(Call(client or "", "file", {"path": path}, True))
        self.finish(content)
