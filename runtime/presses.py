"""Every button press answered exactly once, and presses that arrive late still confirmed.

Telegram accepts one ``answerCallbackQuery`` per press, and only for about 15 seconds after
it: a second answer, or a late one, fails with "query is too old and response timeout
expired or query ID is invalid". Presses queued while the bot was down arrive past that
window. Handlers need not care:

- ``PressApplication.process_update`` opens a :class:`Press` for every callback query, runs
  the handlers, and answers the press itself when no handler did (a plain answer, so the
  button stops spinning);
- the bot's request path (``bot.message_log``) sends every answer of the open press through
  :func:`answer_once`: the first answer goes to Telegram with the text and alert the handler
  chose; any further answer is dropped; a "too old" refusal is swallowed and marks the press
  late, so the handler goes on and applies the press if it is still valid;
- after a late press, the person is told in private what happened to it: the handler's own
  answer when it gave one (e.g. "This request is already decided."), otherwise that their
  choice was recorded; if the handler failed, they are asked to press again.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, TypeHandler

from i18n import N_, _

log = logging.getLogger(__name__)

TOO_OLD = "query is too old"  # part of Telegram's refusal of a late or repeated answer

NOT_VALID = N_("This button is not valid any more.")

T = TypeVar("T")


@dataclass
class Press:
    """One callback query while its update is being handled."""

    query_id: str
    user_id: int
    label: str  # the pressed button's text, or "" when the message is not readable
    answered: bool = False
    text: str | None = None  # what the handler answered (toast or alert)
    late: bool = False  # Telegram refused the answer: the press arrived too late
    failed: bool = False  # a handler raised


_press: ContextVar[Press | None] = ContextVar("imbot_press", default=None)


def current() -> Press | None:
    return _press.get()


def mark_failed() -> None:
    """Called by the error handler: the open press (if any) was not handled."""
    press = _press.get()
    if press is not None:
        press.failed = True


async def answer_once(send: Callable[[], Awaitable[T]], data: dict[str, Any], answered: T) -> T:
    """Send an ``answerCallbackQuery`` unless the open press was already answered.

    ``answered`` is returned instead of Telegram's result when the answer is dropped or
    refused as too old (the handler carries on either way).
    """
    press = _press.get()
    if press is None or str(data.get("callback_query_id")) != press.query_id:
        return await send()
    if press.answered:
        log.debug("press %s: a second answer dropped", press.query_id)
        return answered
    press.answered = True
    text = data.get("text")
    press.text = str(text) if text else None
    try:
        return await send()
    except BadRequest as exc:
        if TOO_OLD not in str(exc).lower():
            raise
        log.info("press %s arrived too late to answer", press.query_id)
        press.late = True
        return answered


def _label(query: CallbackQuery) -> str:
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return ""
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return ""


def late_note(press: Press) -> str:
    """What a person is told in private about a press that arrived too late to answer."""
    if press.failed:
        return _(
            "Your press on “{label}” arrived while I was unavailable and could not be "
            "handled. Please press the button again.",
            label=html.escape(press.label),
        )
    if press.text:
        return _(
            "Your press on “{label}” arrived while I was unavailable. My answer: {answer}",
            label=html.escape(press.label),
            answer=html.escape(press.text),
        )
    return _("Your choice “{label}” was recorded.", label=html.escape(press.label))


class PressApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application that settles every callback query once its handlers have run."""

    def _mark_for_persistence_update(self, *, update: object = None, job: Any = None) -> None:
        # PTB notes every update's user and chat for its persistence and empties the notes only
        # when it saves them: with no persistence (ours) they would grow for the whole life of
        # the process, ~0.5 MB a 10,000 members.
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)

    async def process_update(self, update: object) -> None:
        query = update.callback_query if isinstance(update, Update) else None
        if query is None:
            await super().process_update(update)
            return
        press = Press(query.id, query.from_user.id, _label(query))
        matched = any(  # a TypeHandler sees every update; it does not take buttons
            h.check_update(update)
            for g in self.handlers.values()
            for h in g
            if not isinstance(h, TypeHandler)
        )
        token = _press.set(press)
        try:
            await super().process_update(update)
            if not press.answered:  # a button no handler takes is one no longer valid
                await self._answer(query, None if matched else _(NOT_VALID))
            if press.late:
                await self._tell(press)
        finally:
            _press.reset(token)

    async def _answer(self, query: CallbackQuery, text: str | None) -> None:
        try:
            await self.bot.answer_callback_query(query.id, text)
        except TelegramError as exc:  # never let settling a press fail the update
            log.warning("press %s: could not answer: %s", query.id, exc)

    async def _tell(self, press: Press) -> None:
        try:
            await self.bot.send_message(press.user_id, late_note(press))
        except TelegramError as exc:  # blocked the bot, never started it…
            log.info("press %s: cannot tell its sender: %s", press.query_id, exc)
