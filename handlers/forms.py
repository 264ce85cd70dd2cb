"""Guided forms whose state lives in the database, so a restart or another replica continues them.

A form is a typed pydantic model (the answers so far) plus named steps. One row per person and
chat (``storage.forms``) holds its kind, current step, a step serial and the model as JSON.
Every answer is handled in ONE unit of work: the row is read (locked on PostgreSQL), the step
runs with that session, the new state is written, and only after the commit are the replies
sent and any follow-up Telegram calls made (``Turn.later``). One ``FormRouter`` handler serves
every form: it takes private text and ``/cancel`` from people who have a form open, and the
buttons of every form (callback data ``<prefix>:<serial>:<value>``); a button whose serial is
not the current step's (forged, replayed, from an earlier message) is refused and changes
nothing. An expired form says so and offers a "Start again" button.

Defining a form::

    class Pizza(FormState):
        size: str | None = None
        name: str | None = None

    async def ask_size(turn: Turn[Pizza]) -> str | None:   # the opening turn
        turn.say("Which size?", turn.buttons([("Small", "s"), ("Large", "l")]))
        return "size"

    async def got_size(turn: Turn[Pizza]) -> str | None:
        turn.state.size = turn.value                       # the pressed button's value
        turn.say("Your name?")
        return "name"                                      # the next step

    async def got_name(turn: Turn[Pizza]) -> str | None:
        turn.state.name = turn.text
        turn.later(lambda: bake(turn.context, turn.state)) # after the commit
        turn.say("Thank you!")
        return None                                        # done: the row is deleted

    PIZZA = Form(
        kind="pizza", prefix="pz", model=Pizza, opening=ask_size,
        steps={"size": Step(on_button=got_size), "name": Step(on_text=got_name)},
        expired=lambda state: _("Your order expired; nothing was saved."),
    )

    # an entry point (e.g. a CommandHandler for /pizza):
    await PIZZA.start(update, context, Pizza())
    # once, in the feature's register(): every form goes through the same router
    register_form(app, PIZZA)

A step handler returns the next step's name, its own name to stay (a refused answer: say why),
or ``None`` to end the form. Raise nothing for bad input: say so and stay. Do database work
with ``turn.session`` (the answer's own unit of work) and never call Telegram inside a step:
``turn.say`` and ``turn.later`` run after the commit. Typed answers are taken in private chats
only (buttons work anywhere); commands other than /cancel and the form's own ``commands``
(e.g. /skip, handed to the step as text) pass on to their own handlers, so an entry point
(``form.start``) replaces whatever form the person had open in that chat. ``turn.edit``
changes the message whose button was pressed instead of sending a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.orm import Session
from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler

from handlers.order import Stage
from handlers.topics import answer_in_topic
from i18n import _
from runtime.context import App, BotContext, Services, Sweep, services_of
from storage.forms import FormRepository
from storage.models import FormRow

log = logging.getLogger(__name__)

EXPIRED = "expired"  # the step of a form that timed out: only "Start again" or /cancel
AGAIN = "again"  # the value of the "Start again" button


class FormState(BaseModel):
    """Base of every form's answers: typed, and nothing unknown accepted from the row."""

    model_config = ConfigDict(extra="forbid")


S = TypeVar("S", bound=FormState)
StepHandler = Callable[["Turn[S]"], Awaitable[str | None]]


@dataclass(frozen=True)
class Step(Generic[S]):
    """What a step accepts: typed text, a press of one of its buttons, or both."""

    on_text: StepHandler[S] | None = None
    on_button: StepHandler[S] | None = None


@dataclass
class Turn(Generic[S]):
    """One answer being handled: the form's state, the open unit of work and what to say."""

    update: Update
    context: BotContext
    form: Form[S]
    state: S
    session: Session
    step: str
    serial: int
    text: str | None = None  # what was typed (None for a button)
    value: str | None = None  # the pressed button's value (None for text)
    replies: list[tuple[str, InlineKeyboardMarkup | None]] = field(default_factory=list)
    edits: list[tuple[str, InlineKeyboardMarkup | None]] = field(default_factory=list)
    toast: str | None = None  # the short notice a pressed button is answered with
    follow_ups: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    @property
    def services(self) -> Services:
        return self.context.services

    @property
    def now(self) -> datetime:
        return self.context.services.clock.now()

    @property
    def user_id(self) -> int:
        user = self.update.effective_user
        assert user is not None
        return user.id

    def say(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """Queue a reply: sent, in order, once the answer is committed."""
        self.replies.append((text, markup))

    def edit(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """Queue a change of the message whose button was pressed (a reply when typed)."""
        if self.update.callback_query is None:
            self.say(text, markup)
        else:
            self.edits.append((text, markup))

    def later(self, action: Callable[[], Awaitable[object]]) -> None:
        """Run after the commit and the replies (Telegram calls, other units of work)."""
        self.follow_ups.append(action)

    def button(self, label: str, value: str) -> InlineKeyboardButton:
        """A button of the step this turn leads to (valid only while that step is current)."""
        return InlineKeyboardButton(
            label, callback_data=f"{self.form.prefix}:{self.serial}:{value}"
        )

    def buttons(self, rows: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
        """One button per row: ``[(label, value), ...]``."""
        return self.keyboard([[row] for row in rows])

    def buttons_row(self, items: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
        """Buttons side by side in one row: ``[(label, value), ...]``."""
        return self.keyboard([items])

    def keyboard(self, rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
        """Any layout: rows of ``(label, value)``."""
        return InlineKeyboardMarkup(
            [[self.button(label, value) for label, value in row] for row in rows]
        )


@dataclass(frozen=True)
class Form(Generic[S]):
    """A kind of form: its typed state, its steps and what to say when it expired.

    ``opening`` is the first turn (ask the first question, return the first step, or ``None``
    when there is nothing to fill in after all). ``again`` restarts an expired form from its old
    state (default: ``opening`` with a fresh state from ``restart_state``).
    """

    kind: str
    prefix: str  # callback data prefix of this form's buttons, unique among all handlers
    model: type[S]
    opening: StepHandler[S]
    steps: dict[str, Step[S]]
    expired: Callable[[S], str]
    restart_state: Callable[[S], S] | None = None
    ttl: timedelta | None = None  # how long it waits for an answer (default: forms.ttl)
    commands: frozenset[str] = frozenset()  # commands taken as answers (e.g. /skip)
    cancelled: Callable[[], str] | None = None  # what /cancel says (default: nothing saved)

    async def start(self, update: Update, context: BotContext, state: S) -> None:
        """Open this form for the person in this chat (replacing any other form they had)."""
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        services = context.services
        now = services.clock.now()
        with services.db.transaction() as session:
            forms = FormRepository(session)
            turn = Turn(
                update, context, self, state, session, "", forms.next_serial(user.id, chat.id)
            )
            step = await self.opening(turn)
            if step is None:
                forms.drop(user.id, chat.id)
            else:
                data = turn.state.model_dump_json()
                expires = now + self.wait(services)
                forms.replace(user.id, chat.id, self.kind, step, data, turn.serial, now, expires)
        await _deliver(update, turn)

    def wait(self, services: Services) -> timedelta:
        """How long the form waits for the next answer before it expires."""
        return self.ttl if self.ttl is not None else services.settings.forms.ttl

    def load(self, row: FormRow) -> S | None:
        try:
            return self.model.model_validate_json(row.data)
        except ValidationError as exc:  # stored by an older version of the form
            log.info("form %s of %s cannot be read any more: %s", row.kind, row.user_id, exc)
            return None


def _store(
    session: Session, row: FormRow, turn: Turn[Any], step: str | None, now: datetime
) -> None:
    """Write what the turn decided, in the turn's own unit of work."""
    if step is None:
        session.delete(row)
        return
    row.data = turn.state.model_dump_json()
    if step != row.step:
        row.entered = turn.serial
    row.step, row.serial, row.updated_at = step, turn.serial, now
    row.expires_at = now + turn.form.wait(turn.services)


async def _deliver(update: Update, turn: Turn[Any] | None, alert: str | None = None) -> None:
    """After the commit: answer the pressed button once, send the replies, run follow-ups."""
    query = update.callback_query
    if query is not None:
        toast = alert if alert is not None or turn is None else turn.toast
        await query.answer(toast, show_alert=alert is not None)
    if turn is None or update.effective_chat is None:
        return
    for text, markup in turn.edits:
        assert query is not None
        await query.edit_message_text(text, reply_markup=markup)
    for text, markup in turn.replies:
        await answer_in_topic(update, text, reply_markup=markup)
    for action in turn.follow_ups:
        await action()


FORMS: dict[str, Form[Any]] = {}  # kind → form, filled by register_form


def _button(data: str) -> tuple[Form[Any], int, str] | None:
    """(form, serial, value) of a form button's callback data, None if not a form's."""
    prefix, _sep, rest = data.partition(":")
    form = next((f for f in FORMS.values() if f.prefix == prefix), None)
    serial, _sep, value = rest.partition(":")
    if form is None or not serial.isdigit():
        return None
    return form, int(serial), value


def _command(text: str, bot_username: str | None) -> str | None:
    """The command a message starts with (``/skip`` or ``/skip@this_bot`` → ``skip``)."""
    word = text.split(maxsplit=1)[0] if text.strip() else ""
    if not word.startswith("/"):
        return None
    name, _at, addressee = word[1:].partition("@")
    if addressee and addressee != bot_username:
        return None
    return name


def _cancel_command(text: str, bot_username: str | None) -> bool:
    return _command(text, bot_username) == "cancel"


class FormRouter(BaseHandler[Update, BotContext, None]):
    """The one handler behind every form: the buttons of every form, and the private text and
    /cancel of people who have a form open (everyone else's messages go on to other handlers)."""

    def __init__(self, services: Services) -> None:
        super().__init__(route)
        self.services = services

    def check_update(self, update: object) -> bool:
        if not isinstance(update, Update):
            return False
        query = update.callback_query
        if query is not None:
            return query.data is not None and _button(query.data) is not None
        message, user = update.message, update.effective_user  # edits never answer a form
        if message is None or message.text is None or user is None:
            return False
        if message.chat.type != Chat.PRIVATE:
            return False
        typed = not message.text.startswith("/")
        command = None if typed else _command(message.text, message.get_bot().username)
        wanted = {"cancel"}.union(*(f.commands for f in FORMS.values()))
        if not typed and command not in wanted:
            return False  # cheap: most commands never need the database here
        with self.services.db.transaction() as session:
            kind = FormRepository(session).kind_of(user.id, message.chat.id)
        if kind is None:
            return False
        if typed or command == "cancel":
            return True
        # a command this person's form does not take goes on to its own handler
        form = FORMS.get(kind)
        return form is not None and command in form.commands


async def route(update: Update, context: BotContext) -> None:
    """Handle one answer (or button, or /cancel) of a form in one unit of work."""
    services = context.services
    query, message = update.callback_query, update.message
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    now = services.clock.now()
    turn: Turn[Any] | None = None
    alert: str | None = None
    with services.db.transaction() as session:
        row = FormRepository(session).locked(user.id, chat.id)
        form = FORMS.get(row.kind) if row is not None else None
        state = form.load(row) if form is not None and row is not None else None
        if row is None or form is None or state is None:
            if row is not None:  # a kind no longer known, or answers no longer readable
                session.delete(row)
            alert = _("This form is no longer open.") if query is not None else None
        else:
            turn = Turn(update, context, form, state, session, row.step, row.serial)
            if message is not None and _cancel_command(message.text or "", context.bot.username):
                session.delete(row)
                turn.say(form.cancelled() if form.cancelled else _("Cancelled; nothing was saved."))
            else:
                alert = await _answer(turn, row, now)
    if turn is None and query is None and message is not None:
        await message.reply_text(_("This form is no longer open."))
        return
    await _deliver(update, turn, alert)


async def _answer(turn: Turn[Any], row: FormRow, now: datetime) -> str | None:
    """Run the current step on the answer; returns an alert when a button is refused."""
    form = turn.form
    query = turn.update.callback_query
    if query is not None:
        pressed = _button(query.data or "")
        if pressed is None or pressed[0] is not form:
            return _("This form is no longer open.")
        if not row.entered <= pressed[1] <= row.serial:
            return _("This button belongs to an earlier question; please use the latest one.")
        turn.value = pressed[2]
    elif turn.update.message is not None:
        turn.text = turn.update.message.text
    turn.serial = row.serial + 1  # buttons sent in this turn carry the next serial
    if row.step == EXPIRED:
        if turn.value != AGAIN:
            turn.say(form.expired(turn.state), _again(turn))
            _store(turn.session, row, turn, EXPIRED, now)
            return None
        if form.restart_state is not None:
            turn.state = form.restart_state(turn.state)
        _store(turn.session, row, turn, await form.opening(turn), now)
        return None
    if row.expires_at <= now:
        turn.say(form.expired(turn.state), _again(turn))
        _store(turn.session, row, turn, EXPIRED, now)
        return None
    step = form.steps.get(row.step)
    handler = None if step is None else (step.on_button if query else step.on_text)
    if handler is None:
        if query is not None:
            return _("This button belongs to an earlier question; please use the latest one.")
        turn.say(_("Please choose one of the buttons above, or send /cancel to stop."))
        return None
    _store(turn.session, row, turn, await handler(turn), now)
    return None


def _again(turn: Turn[Any]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[turn.button(_("Start again"), AGAIN)]])


async def purge_expired(app: App) -> None:
    """The "forms" sweep: forms that expired longer than ``forms.keep_expired`` ago are
    removed (until then a late answer is told the form expired and offered to start again)."""
    services = services_of(app)
    before = services.clock.now() - services.settings.forms.keep_expired
    with services.db.transaction() as session:
        removed = FormRepository(session).purge_expired(before)
    if removed:
        log.info("removed %d expired forms", removed)


SWEEPS = [Sweep("forms", timedelta(hours=1), purge_expired)]


def register_form(app: App, form: Form[Any]) -> None:
    """Make ``form``'s answers reach it; the router itself is added once, by the first form."""
    taken = next(
        (f for f in FORMS.values() if f.prefix == form.prefix and f.kind != form.kind), None
    )
    if taken is not None:
        raise ValueError(f"forms {taken.kind} and {form.kind} share the prefix {form.prefix}")
    FORMS[form.kind] = form
    if not any(isinstance(h, FormRouter) for h in app.handlers.get(Stage.FEATURES, [])):
        app.add_handler(FormRouter(services_of(app)), group=Stage.FEATURES)
