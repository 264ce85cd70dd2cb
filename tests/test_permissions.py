"""Permission stated once: a command's role is its CommandSpec, enforced by one installed check;
a moderator button (or upload) declares its role where it is registered, and the function behind
it carries no check of its own. Every button pattern on the real Application is either declared
for moderators or listed below as the presser's own, with why. Through the real Application."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler

from config.loader import LoadedConfig
from handlers.common import NOT_A_MODERATOR
from handlers.contacts.buttons import ACTIONS
from handlers.contacts.identity import LINK_PATTERN, NOT_A_LINKER
from handlers.contacts.transfer import IMPORT_PATTERN, NOT_AN_IMPORTER
from handlers.forms import FORMS, FormRouter
from moderation.clock import FakeClock
from moderation.permissions import Role
from simulation.faketg import JSON, FakeUser
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.moderation_support import LOG_CHAT, custom, member
from tests.test_contacts import add_contact
from tests.test_contacts_import import GOOD
from tests.test_moderator_scope import READ_ONLY, snapshot

# Buttons any member may press. Each handler checks that the presser is the one entitled, or
# changes nothing; a new pattern fails the test until it is declared for moderators
# (``button(..., Role.MODERATOR)``) or listed here with its reason.
MEMBER_BUTTONS: dict[str, str] = {
    r"^lang:": "the presser's own language choice",
    r"^jr:\d{1,12}:s$": "“I sponsor them”: any member may vouch (sponsor_problem checks them)",
    r"^ct:": "the directory's own buttons (DIRECTORY_ACTIONS below), each checks the presser",
    r"^cfeed:": "the presser's own calendar feed: the id in the data must be the presser's",
    r"^dl:": "a reminder's answer: the outbox row must be the presser's",
    r"^dlsub:": "the presser's own /subscribe choice, in their own private chat",
    r"^dla:": "a button of the old /deadline form: only says the form is closed",
    r"^tag:": "the presser's own mention tags",
    r"^tagr:": "the presser's own reach setting",
    r"^lc:dep:\d{1,12}:y$": "the member's own departure question (own_row: the row is theirs)",
    r"^lc:dep:\d{1,12}:n$": "the member's own departure question (own_row: the row is theirs)",
    r"^lc:ns:\d{1,12}$": "the member names their own new sponsor (own_row: the row is theirs)",
    r"^lc:sp:\d{1,12}:[yn]$": "the named sponsor's answer: may_answer_request checks the presser",
    r"^lc:ci:\d{1,12}:(y|soon|gone)$": "the member's own check-in (own_row: the row is theirs)",
    r"^lc:(ext|end):\d{1,12}$": "extend a membership: its sponsor or a moderator (may_extend)",
    r"^lc:leave:-?\d{1,20}$": "the presser leaves a group: acts on their own membership only",
    r"^help:[a-z]{1,20}$": "a /help page: changes nothing",
}

# ct:<action>:… taken by the directory's dispatcher (its moderator buttons, ct:lk and
# ct:imp/imx, have patterns of their own, declared for moderators and registered before it).
DIRECTORY_ACTIONS: dict[str, str] = {
    "pg": "the presser's own search results: the lookup must be theirs",
    "ask": "the presser asks to be put in touch, as themselves",
    "t": "the asked person ticks what to share: the request must be addressed to the presser",
    "y": "the asked person's answer: the request must be addressed to the presser",
    "n": "the asked person's answer: the request must be addressed to the presser",
    "rv": "the person takes back their own sharing: the grant must be theirs",
    "cy": "the person's own listing consent: the entry must be linked to the presser",
    "cn": "the person's own listing consent: the entry must be linked to the presser",
    "fg": "the person's own erase: checks the presser owns it",
    "fk": "keeps the person's own data: checks the presser owns it, changes nothing",
}

# Forms (handlers/forms.py): a form's buttons reach only the form the presser has open in that
# chat, so each is the presser's own.
FORM_OWNERS: dict[str, str] = {
    "inv": "the sponsor's own /invite form",
    "cf": "the newcomer's own confirmation form",
    "pl": "the person's own /profile form",
    "dlf": "the /deadline form: opened by the guarded command; saving checks the role again",
    "lcf": "the member's own out-of-country form",
}

# What a refused presser is told (English), when it is not NOT_A_MODERATOR.
REFUSALS = {IMPORT_PATTERN: NOT_AN_IMPORTER, LINK_PATTERN: NOT_A_LINKER}


def guards(callback: Callable[..., Any]) -> int:
    """How many moderator checks wrap ``callback``."""
    count = 0
    current: Any = callback
    while current is not None:
        if vars(current).get("checks_role") is Role.MODERATOR:  # this layer is a check
            count += 1
        current = getattr(current, "__wrapped__", None)
    return count


def unwrapped(callback: Callable[..., Any]) -> Callable[..., Any]:
    while hasattr(callback, "__wrapped__"):
        callback = callback.__wrapped__
    return callback


def handlers_of(sim: Simulator) -> list[BaseHandler[Any, Any, Any]]:
    """Every handler on the real Application, every group (forms are one router)."""
    return [handler for group in sim.app.handlers.values() for handler in group]


def buttons_of(sim: Simulator) -> list[CallbackQueryHandler[Any, Any]]:
    found = [h for h in handlers_of(sim) if isinstance(h, CallbackQueryHandler)]
    for handler in found:
        assert isinstance(handler.pattern, re.Pattern), f"{handler.callback} has no regex"
    return found


def moderator_buttons(sim: Simulator) -> dict[str, CallbackQueryHandler[Any, Any]]:
    return {
        h.pattern.pattern: h  # type: ignore[union-attr]
        for h in buttons_of(sim)
        if guards(h.callback) == 1
    }


def takers(sim: Simulator, update: JSON) -> list[BaseHandler[Any, Any, Any]]:
    """The button handler that takes ``update`` in each group, as PTB picks it (the first that
    accepts; every group is tried). Handlers that see every update (the language, the roster)
    are not button handlers and left out."""
    parsed = Update.de_json(update, sim.app.bot)
    taken: list[BaseHandler[Any, Any, Any]] = []
    for group in sorted(sim.app.handlers):
        for handler in sim.app.handlers[group]:
            if not isinstance(handler, CallbackQueryHandler | FormRouter):
                continue
            if handler.check_update(parsed) not in (None, False):
                taken.append(handler)
                break
    return taken


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


def test_every_button_is_declared_for_moderators_or_listed_as_the_pressers_own(
    sim: Simulator,
) -> None:
    patterns = [h.pattern.pattern for h in buttons_of(sim)]  # type: ignore[union-attr]
    assert len(patterns) == len(set(patterns)), "a pattern is registered twice"
    moderator = moderator_buttons(sim)
    for handler in buttons_of(sim):
        pattern = handler.pattern.pattern  # type: ignore[union-attr]
        checks = guards(handler.callback)
        assert checks <= 1, f"{pattern} is checked {checks} times"
        if checks == 0:
            assert pattern in MEMBER_BUTTONS, f"{pattern}: declare Role.MODERATOR or list it"
        else:
            assert pattern not in MEMBER_BUTTONS, f"{pattern} is declared and listed"
    assert set(MEMBER_BUTTONS) <= set(patterns), "a listed pattern is no longer registered"
    assert {
        r"^mem:-?\d{1,16}:\d{1,5}$",
        r"^audit:",
        r"^held:\d{1,12}:[sr]$",
        r"^jr:\d{1,12}:[ad]$",
        r"^rp:",
        r"^lg:",
        r"^dla:(rm:.*|keep)$",
        LINK_PATTERN,
        IMPORT_PATTERN,
    } <= set(moderator)
    assert set(ACTIONS) == set(DIRECTORY_ACTIONS), "list a new directory action, or declare it"
    assert set(FORMS) and {f.prefix for f in FORMS.values()} == set(FORM_OWNERS)
    # Declared where registered: the function behind a moderator button or upload, as its
    # module has it, carries no check of its own (no decorator stating the role again).
    declared = [h for h in handlers_of(sim) if not isinstance(h, CommandHandler | FormRouter)]
    for registered in declared:
        if guards(registered.callback) == 1:
            inner = unwrapped(registered.callback)
            named = getattr(sys.modules[inner.__module__], inner.__name__)
            assert guards(named) == 0, f"{inner.__qualname__} is guarded by hand"
    uploads = [h for h in declared if isinstance(h, MessageHandler) and guards(h.callback)]
    assert [unwrapped(h.callback).__name__ for h in uploads] == ["document_entry"]


@pytest.fixture
async def logged(config: LoadedConfig, clock: FakeClock) -> AsyncIterator[Simulator]:
    """A simulator with a moderators' log chat (its entries carry undo buttons)."""
    async with custom(config, clock, log_chat_id=LOG_CHAT) as simulator:
        yield simulator


async def moderator_work(sim: Simulator) -> FakeUser:
    """Real objects with moderator buttons: a join request, a held newcomer, a report and a
    log entry, a /deadline removal question, a CSV dry run, a username claim. Returns the
    plain member who will press them."""
    mira = sim.telegram.users[MODERATOR_ID]
    ivan = await member(sim, "Ivan")
    olga = await member(sim, "Olga")
    await sim.request_join(sim.user("Anna"))  # the group's notice: sponsor / approve / decline
    await sim.join(sim.user("Held"))  # no sponsor: the moderators decide
    said = await sim.say(olga, "buy cheap followers here")
    await sim.say(ivan, "/report", reply_to=said["message"]["message_id"])
    await sim.say(mira, "/mute @olga 2h spamming")  # a log entry with "Unmute"
    await sim.dm(mira, "/deadline remove sitrep")
    await sim.feed(sim.telegram.document(MODERATOR_ID, MODERATOR_ID, "c.csv", GOOD))
    add_contact(sim, None, consent="pending", name="Petro Imported", telegram="@petro_i")
    claimer = sim.user("Not", "Petro", "petro_i")
    sim.telegram.started.add(claimer.id)
    await sim.dm(claimer, "/start")  # the moderators are asked to link the entry
    return ivan


async def test_moderator_buttons_refuse_a_member_and_change_nothing(logged: Simulator) -> None:
    """Every moderator pattern pressed by a plain member with the data of a real object, on
    the real message: it reaches the guarded handler and no other (registered in the right
    order, in every group), refused with an alert, nothing changed in the database or in
    Telegram."""
    sim = logged
    moderator = moderator_buttons(sim)
    ivan = await moderator_work(sim)
    presses = [
        (message.chat_id, message.message_id, str(button["callback_data"]))
        for message in list(sim.telegram.messages.values())
        for button in message.buttons()
        if button.get("callback_data")
    ]
    # Pages (only with more than a page of people or entries): the data they would carry.
    page = sim.last(MODERATOR_ID)
    presses += [
        (MODERATOR_ID, page.message_id, f"mem:{GROUP_ID}:1"),
        (MODERATOR_ID, page.message_id, "audit:0:1"),
    ]
    before, calls = snapshot(sim), len(sim.telegram.calls)
    pressed: set[str] = set()
    for chat_id, message_id, data in presses:
        pattern = next((p for p in moderator if moderator[p].pattern.match(data)), None)  # type: ignore[union-attr]
        if pattern is None:
            continue  # a member's own button (listed above)
        update = sim.telegram.forged_press(ivan.id, chat_id, message_id, data)
        assert takers(sim, update) == [moderator[pattern]], data
        await sim.feed(update)
        (answer,) = [
            c
            for c in sim.telegram.calls_to("answerCallbackQuery")
            if c["callback_query_id"] == update["callback_query"]["id"]
        ]
        assert answer["text"] == REFUSALS.get(pattern, NOT_A_MODERATOR), data
        assert answer["show_alert"] is True, data
        pressed.add(pattern)
    assert pressed == set(moderator), f"not pressed: {set(moderator) - pressed}"
    made = {c.method for c in sim.telegram.calls[calls:]}
    assert made <= READ_ONLY - {"sendMessage"}, made
    assert snapshot(sim) == before
    assert sim.errors == []
