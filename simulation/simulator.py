"""The real bot, wired to the fake Bot API: used by the tests, the console and benchmarks.

Every call goes through PTB's ``Application.process_update`` with real-shaped update JSON;
updates Telegram would send back because of what the bot did (a restriction, an approval)
are fed in afterwards, as Telegram would.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from telegram import Update

from bot import ops
from bot.app import build_application, build_services, on_startup
from config.loader import LoadedConfig
from moderation.clock import FakeClock
from runtime.context import App, Services
from simulation.faketg import JSON, FakeGroup, FakeTelegram, FakeUser, SentMessage

FAKE_TOKEN = "123456:SIMULATED-TOKEN-not-real"
MAX_CHAIN = 50  # bot actions → updates → bot actions…: a loop guard
MAX_STOPS = 100_000  # advance_through: beyond this many stops the rest of the stretch is one jump


class Simulator:
    def __init__(
        self,
        config: LoadedConfig,
        clock: FakeClock | None = None,
        telegram: FakeTelegram | None = None,
    ) -> None:
        """``telegram``: an existing fake world, to restart the bot against it."""
        self.clock = clock or FakeClock()
        self.telegram = telegram or FakeTelegram(self.clock)
        self.services: Services = build_services(config, self.clock)
        self.app: App = build_application(
            self.services, FAKE_TOKEN, request=self.telegram.request(), rate_limit=False
        )
        for group in config.settings.groups:
            if group.chat_id not in self.telegram.groups:
                self.telegram.add_group(group.chat_id, group.title)
        self.errors: list[BaseException] = []
        self.presses: Counter[str] = Counter()  # callback query id → times delivered

    # ---- life cycle --------------------------------------------------------------------
    async def start(self, migrate: bool = True) -> None:
        if migrate:
            self.services.db.upgrade()
        await self.app.initialize()
        self.app.add_error_handler(self._remember_error)
        await on_startup(self.app)
        await self.run_sweeps()

    async def stop(self) -> None:
        await self.app.shutdown()
        self.services.db.dispose()

    async def _remember_error(self, update: object, context: Any) -> None:
        if context.error is not None:
            self.errors.append(context.error)

    # ---- feeding updates ---------------------------------------------------------------
    async def feed(self, *updates: JSON) -> None:
        """Process updates, then whatever Telegram sends back because of the bot's calls."""
        queue = list(updates)
        for _ in range(MAX_CHAIN):
            for data in queue:
                if "callback_query" in data:
                    self.presses[str(data["callback_query"]["id"])] += 1
                update = Update.de_json(data, self.app.bot)
                await self.app.process_update(update)
            if not self.telegram.pending:
                return
            queue = list(self.telegram.pending)
            self.telegram.pending.clear()
        raise RuntimeError("the bot and the fake Telegram kept answering each other")

    async def run_sweeps(self) -> None:
        for sweep in self.services.sweeps:
            await ops.run_sweep(self.app, sweep, raise_errors=True)
            await self.feed()

    async def advance(self, delta: timedelta) -> None:
        """Move the clock forward and run the recurring sweeps, as the job queue would."""
        self.clock.advance(delta)
        self.services.write_behind()  # the job queue's one-second timer would have run
        await self.run_sweeps()

    async def advance_through(self, delta: timedelta) -> int:
        """Move the clock forward as a real stretch of time would pass: stop at every moment a
        sweep has work (a reminder falls due, a request runs out, …), run the sweeps there, and
        end at ``now + delta``. Returns the number of stops (the last one included)."""
        end = self.clock.now() + delta
        stops = 0
        while stops < MAX_STOPS:
            now = self.clock.now()
            moments = [
                moment
                for sweep in self.services.sweeps
                if sweep.next_due is not None
                and (moment := sweep.next_due(self.services, now)) is not None
                and now < moment < end
            ]
            if not moments:
                break
            await self.advance(min(moments) - now)
            stops += 1
        await self.advance(end - self.clock.now())
        return stops + 1

    # ---- the world ---------------------------------------------------------------------
    def user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> FakeUser:
        return self.telegram.add_user(first_name, last_name, username, language_code)

    @property
    def group(self) -> FakeGroup:
        """The first configured group."""
        return next(iter(self.telegram.groups.values()))

    def _chat(self, chat_id: int | None) -> int:
        return self.group.id if chat_id is None else chat_id

    async def say(
        self,
        user: FakeUser,
        text: str,
        chat_id: int | None = None,
        reply_to: int | None = None,
        thread: int | None = None,
    ) -> JSON:
        """``thread``: the forum topic the user writes in (None: General or a plain group)."""
        update = self.telegram.message(user.id, self._chat(chat_id), text, reply_to, thread)
        await self.feed(update)
        return update

    async def post_as(
        self,
        channel_id: int,
        text: str,
        thread: int | None = None,
        automatic_forward: bool = False,
        chat_id: int | None = None,
    ) -> JSON:
        """A post sent as a channel in the group (or the linked channel's automatic forward)."""
        update = self.telegram.channel_post(
            channel_id, self._chat(chat_id), text, thread, automatic_forward
        )
        await self.feed(update)
        return update

    async def edit(self, sent: JSON, text: str) -> JSON:
        """The author edits a message they sent (``sent`` is the update ``say`` returned)."""
        update = self.telegram.edit(sent, text)
        await self.feed(update)
        return update

    async def dm(self, user: FakeUser, text: str) -> JSON:
        """The user writes to the bot in private chat."""
        return await self.say(user, text, chat_id=user.id)

    async def join(
        self,
        user: FakeUser,
        chat_id: int | None = None,
        link: str | None = None,
        added_by: FakeUser | None = None,
    ) -> None:
        await self.feed(
            *self.telegram.join(
                user.id, self._chat(chat_id), link, added_by.id if added_by else None
            )
        )

    async def leave(self, user: FakeUser, chat_id: int | None = None) -> None:
        await self.feed(*self.telegram.leave(user.id, self._chat(chat_id)))

    async def request_join(
        self, user: FakeUser, chat_id: int | None = None, link: str | None = None
    ) -> None:
        await self.feed(*self.telegram.request_join(user.id, self._chat(chat_id), link))

    async def press(self, user: FakeUser, message: SentMessage, label: str) -> None:
        """Press the button whose text contains ``label`` on a message the bot sent."""
        matches = [b for b in message.buttons() if label.lower() in b["text"].lower()]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} buttons match {label!r} on: {message.text!r}")
        await self.feed(
            self.telegram.press(
                user.id, message.chat_id, message.message_id, matches[0]["callback_data"]
            )
        )

    # ---- reading what the bot did ------------------------------------------------------
    def last(self, chat_id: int) -> SentMessage:
        sent = self.telegram.sent(chat_id)
        if not sent:
            raise LookupError(f"the bot sent nothing to chat {chat_id}")
        return sent[-1]

    def mark(self) -> int:
        """A position in the message log; pass it to ``since`` to see only newer messages."""
        return len(self.telegram.sent())

    def since(self, mark: int, chat_id: int | None = None) -> list[SentMessage]:
        return [m for m in self.telegram.sent()[mark:] if chat_id is None or m.chat_id == chat_id]

    def unique_reply(self, mark: int, chat_id: int) -> SentMessage:
        """The one message the bot sent to ``chat_id`` since ``mark``; fails on none or several."""
        replies = self.since(mark, chat_id)
        if len(replies) != 1:
            raise AssertionError(
                f"expected exactly one reply in {chat_id}, got {[m.text for m in replies]}"
            )
        return replies[0]

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
