"""The organisation question both introduction forms ask: matched against the configured list,
with "Did you mean …?" buttons when the answer is close to a listed name."""

from __future__ import annotations

from typing import Any

from handlers.forms import FormState, Turn
from handlers.render import esc
from i18n import _
from moderation.introductions import InputError, clean_text, match_organisation


class OrganisationAnswers(FormState):
    """What a form that asks for an organisation keeps about it."""

    organisation: str | None = None
    typed_organisation: str | None = None  # the answer as typed, when a suggestion was shown
    suggestion: str | None = None


def ask_organisation(
    turn: Turn[Any], retry: str, choice: str, after: str, next_question: str | None
) -> str:
    """Check the typed organisation; the next question (None: the caller says what comes
    next), a suggestion, or why not (stay)."""
    state: OrganisationAnswers = turn.state
    answer = turn.text or ""
    settings = turn.services.settings
    try:
        match = match_organisation(
            answer, settings.organisations, settings.allow_unlisted_organisations
        )
    except InputError as error:
        turn.say(esc(error))
        return retry
    if match.accepted and not match.suggestion:
        state.organisation = match.accepted
        if next_question is not None:
            turn.say(next_question)
        return after
    state.typed_organisation = clean_text(answer, 100, "organisation")
    rows = [(_("Yes, {organisation}", organisation=match.suggestion), "yes")]
    if settings.allow_unlisted_organisations:
        rows.append((_("No, keep what I typed"), "keep"))
    rows.append((_("Type it again"), "retype"))
    state.suggestion = match.suggestion
    turn.say(
        _("Did you mean <b>{organisation}</b>?", organisation=esc(match.suggestion)),
        turn.buttons(rows),
    )
    return choice


def organisation_choice(turn: Turn[Any], retry: str, after: str, next_question: str | None) -> str:
    """The answer to "Did you mean …?"."""
    state: OrganisationAnswers = turn.state
    answer = turn.value or ""
    if answer not in ("yes", "keep") or state.suggestion is None:
        turn.say(_("Please type the organisation again."))
        return retry
    if answer == "keep" and not turn.services.settings.allow_unlisted_organisations:
        turn.say(_("Please type the organisation again."))  # a forged "keep"
        return retry
    state.organisation = state.suggestion if answer == "yes" else state.typed_organisation
    if next_question is not None:
        turn.say(next_question)
    return after
