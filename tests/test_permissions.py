"""Permission stated once: a command's role is its CommandSpec, enforced by one installed check;
a moderator button declares its role next to its pattern. Through the real Application."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from handlers.common import NOT_A_MODERATOR
from moderation.permissions import Role
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.test_joins import veteran
from tests.test_moderator_scope import snapshot


def guards(callback: Callable[..., Any]) -> int:
    """How many moderator checks wrap ``callback``."""
    count = 0
    current: Any = callback
    while current is not None:
        if vars(current).get("checks_role") is Role.MODERATOR:  # this layer is a check
            count += 1
        current = getattr(current, "__wrapped__", None)
    return count


def handlers_of(sim: Simulator) -> list[BaseHandler[Any, Any, Any]]:
    """Every handler on the real Application (forms are one router, no nested handlers)."""
    return [handler for group in sim.app.handlers.values() for handler in group]


def test_every_moderator_command_is_checked_exactly_once(sim: Simulator) -> None:
    moderator = {s.name for s in sim.services.commands if s.role is Role.MODERATOR}
    assert len(moderator) >= 20
    seen: set[str] = set()
    for handler in handlers_of(sim):
        if isinstance(handler, CommandHandler) and handler.commands & moderator:
            assert guards(handler.callback) == 1, handler.commands
            seen |= handler.commands
        elif isinstance(handler, CommandHandler):
            assert guards(handler.callback) == 0, f"{handler.commands} is not a moderator command"
    assert seen == moderator  # every declared moderator command is registered, and guarded


async def test_moderator_buttons_refuse_a_member_and_change_nothing(sim: Simulator) -> None:
    guarded = [
        h.pattern.pattern
        for h in handlers_of(sim)
        if isinstance(h, CallbackQueryHandler)
        and isinstance(h.pattern, re.Pattern)
        and guards(h.callback) == 1
    ]
    assert {p.split(":")[0] for p in guarded} >= {"^mem", "^audit", "^held"}
    ivan = await veteran(sim)
    sim.telegram.started.add(ivan.id)
    await sim.join(sim.user("Held"))  # the moderators are asked what to do with a newcomer
    ask = sim.last(MODERATOR_ID)
    held = next(str(b["callback_data"]) for b in ask.buttons() if b.get("callback_data"))
    presses = {"^mem": f"mem:{GROUP_ID}:1", "^audit": "audit:0:1", "^held": held}
    before = snapshot(sim)
    for prefix, data in presses.items():
        update = sim.telegram.forged_press(ivan.id, MODERATOR_ID, ask.message_id, data)
        await sim.feed(update)
        answer = sim.telegram.calls_to("answerCallbackQuery")[-1]
        assert answer["callback_query_id"] == update["callback_query"]["id"], prefix
        assert NOT_A_MODERATOR in answer["text"] and answer["show_alert"] is True, prefix
    assert snapshot(sim) == before
