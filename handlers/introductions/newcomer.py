"""The newcomer's own half of the introduction (``/start confirm_ID`` from the card): confirm
or correct the name and organisation the sponsor gave. A form kept by handlers/forms.py."""

from __future__ import annotations

from telegram import Update

from handlers.forms import Form, Step, Turn
from handlers.introductions.cards import complete_if_ready
from handlers.introductions.organisation import (
    OrganisationAnswers,
    ask_organisation,
    organisation_choice,
)
from handlers.render import esc
from i18n import _
from moderation.introductions import InputError, IntroStatus, split_name
from runtime.context import BotContext
from storage.introductions import IntroductionRepository

CHOICE, NAME, ORG, ORG_CHOICE = "choice", "name", "org", "org_choice"
DONE = "done"  # not a step: the organisation was accepted, save


class OwnAnswers(OrganisationAnswers):
    target: int  # the introduction
    first_name: str | None = None
    last_name: str | None = None


Newcomer = Turn[OwnAnswers]


async def begin_confirm(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    intro_id = int(message.text.rsplit("_", 1)[1])
    await NEWCOMER_FORM.start(update, context, OwnAnswers(target=intro_id))


async def opening(turn: Newcomer) -> str | None:
    intro = IntroductionRepository(turn.session).introduction_by_id(turn.state.target)
    if intro is None or intro.user_id != turn.user_id:
        turn.say(_("This confirmation link belongs to someone else; nothing was changed."))
        return None
    if intro.confirmed_at is not None or intro.status not in (
        IntroStatus.PENDING,
        IntroStatus.HELD,
    ):
        turn.say(_("Your details are already confirmed. Thank you!"))
        return None
    if intro.full_name and intro.organisation:
        turn.say(
            _(
                "Welcome! Your sponsor introduced you as <b>{name}</b>, {organisation}. "
                "Is that right?",
                name=esc(intro.full_name),
                organisation=esc(intro.organisation),
            ),
            turn.buttons_row([(_("Yes, that's right"), "yes"), (_("Correct it"), "fix")]),
        )
        return CHOICE
    turn.say(_("Welcome! Please tell the group your <b>first and last name</b>. (/cancel to stop)"))
    return NAME


async def confirm_choice(turn: Newcomer) -> str | None:
    if turn.value == "fix":
        turn.say(_("Please type your <b>first and last name</b>."))
        return NAME
    if turn.value != "yes":
        turn.say(_("Please choose one of the buttons."))
        return CHOICE
    intro = IntroductionRepository(turn.session).introduction_by_id(turn.state.target)
    if intro is not None and intro.user_id == turn.user_id:
        intro.confirmed_at = turn.now
    return finish(turn)


async def own_name(turn: Newcomer) -> str | None:
    try:
        first, last = split_name(turn.text or "")
    except InputError as error:
        turn.say(esc(error))
        return NAME
    turn.state.first_name, turn.state.last_name = first, last
    turn.say(_("Which <b>organisation</b> do you work for?"))
    return ORG


# The organisation is the last question: finish() (or the completed introduction) thanks the
# newcomer, once.
async def own_org(turn: Newcomer) -> str | None:
    step = ask_organisation(turn, ORG, ORG_CHOICE, DONE, None)
    return save(turn) if step == DONE else step


async def own_org_choice(turn: Newcomer) -> str | None:
    step = organisation_choice(turn, ORG, DONE, None)
    return save(turn) if step == DONE else step


def save(turn: Newcomer) -> str | None:
    state = turn.state
    intro = IntroductionRepository(turn.session).introduction_by_id(state.target)
    if intro is not None and intro.user_id == turn.user_id:
        intro.first_name, intro.last_name = state.first_name, state.last_name
        intro.organisation = state.organisation
        intro.confirmed_at = turn.now
    return finish(turn)


def finish(turn: Newcomer) -> str | None:
    """Thank the newcomer; the form ends (None) and the introduction completes if it can."""
    intro = IntroductionRepository(turn.session).introduction_by_id(turn.state.target)
    if intro is None:
        return None
    if intro.sponsor_done_at is None:
        turn.say(_("Thank you! Now your sponsor needs to introduce you; I have reminded them."))
    elif intro.status is IntroStatus.HELD:
        turn.say(_("Thank you! A moderator still needs to confirm your sponsor."))
    context, intro_id = turn.context, intro.id
    turn.later(lambda: complete_if_ready(context, intro_id))
    return None


NEWCOMER_FORM = Form(
    kind="newcomer",
    prefix="cf",
    model=OwnAnswers,
    opening=opening,
    steps={
        CHOICE: Step(on_button=confirm_choice),
        NAME: Step(on_text=own_name),
        ORG: Step(on_text=own_org),
        ORG_CHOICE: Step(on_button=own_org_choice),
    },
    expired=lambda state: _(
        "This confirmation waited too long for an answer and has expired; nothing was saved."
    ),
    restart_state=lambda old: OwnAnswers(target=old.target),
)
