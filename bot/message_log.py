"""Remembers the messages the bot itself sends in its groups (for ``/purge``).

Telegram never sends a bot its own messages as updates, and a bot cannot list a chat's
history, so the only way to know which of its messages it may delete later is to note them
as they are sent. PTB routes every Bot API request of an ``ExtBot`` through its rate limiter;
this limiter wraps the real one (or none) and records what the send methods return.

It also moves the metrics of what goes to Telegram: messages sent, 429 answers and the waits
they ask for (each attempt is seen, also those the inner limiter retries).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from runtime import presses
from runtime.context import Services

SENDS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendPoll",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendDice",
        "sendMediaGroup",
        "forwardMessage",
    }
)


class MessageLog(BaseRateLimiter[int]):
    def __init__(self, services: Services, inner: BaseRateLimiter[int] | None = None) -> None:
        self.services = services
        self.inner = inner

    async def initialize(self) -> None:
        if self.inner is not None:
            await self.inner.initialize()

    async def shutdown(self) -> None:
        if self.inner is not None:
            await self.inner.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        metrics = self.services.metrics

        async def attempt(*a: Any, **k: Any) -> bool | JSONDict | list[JSONDict]:
            try:
                return await callback(*a, **k)
            except RetryAfter as exc:
                metrics.flood_limited.inc()
                wait = exc._retry_after  # the public property warns about its future type
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                metrics.retry_wait.inc(seconds)
                raise

        async def send() -> bool | JSONDict | list[JSONDict]:
            if self.inner is None:
                return await attempt(*args, **kwargs)
            return await self.inner.process_request(
                attempt, args, kwargs, endpoint, data, rate_limit_args
            )

        if endpoint == "answerCallbackQuery":  # once per press, late ones swallowed
            return await presses.answer_once(send, data, answered=True)
        result = await send()
        if endpoint in SENDS:
            metrics.messages_sent.labels(endpoint).inc()
            self.remember(result)
        return result

    def remember(self, result: bool | JSONDict | list[JSONDict]) -> None:
        messages = result if isinstance(result, list) else [result]
        for message in messages:
            if not isinstance(message, dict):
                continue
            chat_id = int((message.get("chat") or {}).get("id", 0))
            sender = int((message.get("from") or {}).get("id", 0))
            if sender and self.services.settings.group(chat_id) is not None:
                at = datetime.fromtimestamp(int(message.get("date", 0)), UTC)
                album = message.get("media_group_id")
                self.services.journal.note(chat_id, int(message["message_id"]), sender, at, album)
