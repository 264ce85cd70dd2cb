"""The out-of-country form after "yes, I keep supporting colleagues": the end date, then a
sponsor in the country, who is asked privately and confirms with one tap (handlers/sponsor.py).

The form lives in the database (``handlers.forms``), so a restart or another replica continues
it where it was; its buttons carry the step's serial, so a replayed or forged press changes
nothing. Every step reads and writes with the answer's own unit of work; the request to the
sponsor is sent after the commit.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from handlers.forms import Form, FormState, Step, Turn
from handlers.lifecycle.common import (
    candidate_in,
    language_of,
    name_of,
    policy_of,
    today_of,
    when_text,
    write_privately,
)
from handlers.lifecycle.render import (
    end_date_question,
    not_a_sponsor,
    sponsor_asked,
    sponsor_question,
    sponsor_request,
    sponsor_request_buttons,
    sponsor_unreachable,
)
from handlers.render import esc
from handlers.targets import TargetError, resolve_target
from i18n import _, date_text, use_locale
from moderation.introductions import InputError, parse_date
from moderation.lifecycle import ooc_end_problem
from moderation.sponsorship import sponsor_problem
from runtime.context import Services
from storage.forms import FormRepository
from storage.introductions import IntroductionRepository
from storage.lifecycle import LifecycleRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

END, SPONSOR = "end", "sponsor"
LATEST = "max"  # the "Until <latest date>" button


class OutOfCountry(FormState):
    """Whose lifecycle row, which group, and the end date once given."""

    row_id: int
    chat_id: int
    end: date | None = None


async def opening(turn: Turn[OutOfCountry]) -> str | None:
    """The end date first; straight to the sponsor when it is known (a new sponsor)."""
    group = turn.services.settings.group(turn.state.chat_id)
    if group is None:
        return None
    if turn.state.end is not None:
        _ask_for_sponsor(turn, turn.state.end)
        return SPONSOR
    policy = policy_of(turn.services, group)
    latest = today_of(turn.services, group) + policy.out_of_country_max
    turn.say(
        end_date_question(policy.out_of_country_max.days, latest),
        turn.buttons([(_("Until {date}", date=date_text(latest)), LATEST)]),
    )
    return END


async def got_end(turn: Turn[OutOfCountry]) -> str | None:
    group = turn.services.settings.group(turn.state.chat_id)
    if group is None:
        return None
    policy = policy_of(turn.services, group)
    today = today_of(turn.services, group)
    if turn.value is not None:
        if turn.value != LATEST:
            return END
        end = today + policy.out_of_country_max
    else:
        try:
            end = parse_date(turn.text or "", today)
        except InputError as error:
            turn.say(esc(error))
            return END
        problem = ooc_end_problem(end, today, policy.out_of_country_max)
        if problem:
            turn.say(esc(problem))
            return END
    LifecycleRepository(turn.session).set_pending_end(turn.state.row_id, end, turn.now)
    turn.state.end = end
    _ask_for_sponsor(turn, end)
    return SPONSOR


def _ask_for_sponsor(turn: Turn[OutOfCountry], end: date) -> None:
    """Who sponsors you? The original sponsor is one tap while they still may."""
    chat_id, user_id = turn.state.chat_id, turn.user_id
    intro = IntroductionRepository(turn.session).introduction(chat_id, user_id)
    original = (
        RosterRepository(turn.session).user(intro.sponsor_id)
        if intro and intro.sponsor_id
        else None
    )
    if original is not None and not sponsor_problem(
        candidate_in(turn.session, turn.services, chat_id, original.id), user_id
    ):
        label = _("{name} (your sponsor)", name=original.display_name)[:60]
        turn.say(
            sponsor_question(end, original.display_name),
            turn.buttons([(label, str(original.id))]),
        )
    else:
        turn.say(sponsor_question(end, None))


async def got_sponsor(turn: Turn[OutOfCountry]) -> str | None:
    """A sponsor named (typed, or the original sponsor's button): checked, then asked."""
    services, state, user_id = turn.services, turn.state, turn.user_id
    group = services.settings.group(state.chat_id)
    if group is None or state.end is None:
        return None
    words = [turn.value] if turn.value is not None else (turn.text or "").split()
    try:
        target = resolve_target(services, group.chat_id, None, words[:4])
    except TargetError as error:
        turn.say(str(error))
        return SPONSOR
    problem = sponsor_problem(
        candidate_in(turn.session, services, group.chat_id, target.user_id), user_id
    )
    if problem:
        turn.say(not_a_sponsor(target.name, problem))
        return SPONSOR
    member = RosterRepository(turn.session).user(user_id)
    intro = IntroductionRepository(turn.session).introduction(group.chat_id, user_id)
    member_name = name_of(member, intro, user_id)
    end, row_id, title = state.end, state.row_id, group.title
    grace = policy_of(services, group).sponsor_grace
    chat = turn.update.effective_chat
    assert chat is not None

    async def ask() -> None:
        # After the commit: the request is a Telegram call; the form ends once it reached them.
        with use_locale(language_of(services, target.user_id)):
            buttons = sponsor_request_buttons(row_id)
        reached = await write_privately(
            turn.context,
            target.user_id,
            lambda: sponsor_request(user_id, member_name, end, title),
            buttons,
        )
        if not reached:
            await chat.send_message(sponsor_unreachable(target.name))
            return
        deadline = _record_request(services, row_id, target.user_id, end, grace, user_id, chat.id)
        policy = policy_of(services, group)
        await chat.send_message(sponsor_asked(target.name, when_text(deadline, policy)))

    turn.later(ask)
    return SPONSOR  # until the request reached the sponsor: they may name someone else


def _record_request(
    services: Services,
    row_id: int,
    sponsor_id: int,
    end: date,
    grace: timedelta,
    user_id: int,
    chat_id: int,
) -> datetime:
    """The sponsor was asked: remember whom, close the form; the confirmation deadline."""
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = LifecycleRepository(session)
        repo.ask_sponsor(row_id, sponsor_id, end, now)
        row = repo.row(row_id)
        _drop_form(session, user_id, chat_id)
    return (row.pending_since or now) + grace if row else now


def _drop_form(session: Session, user_id: int, chat_id: int) -> None:
    row = FormRepository(session).locked(user_id, chat_id)
    if row is not None and row.kind == OUT_OF_COUNTRY.kind:
        session.delete(row)


def drop_out_of_country_form(services: Services, user_id: int, chat_id: int) -> None:
    """ "No, I leave the group" after "yes": the open out-of-country form is over."""
    with services.db.transaction() as session:
        _drop_form(session, user_id, chat_id)


OUT_OF_COUNTRY = Form(
    kind="out-of-country",
    prefix="lcf",
    model=OutOfCountry,
    opening=opening,
    steps={
        END: Step(on_text=got_end, on_button=got_end),
        SPONSOR: Step(on_text=got_sponsor, on_button=got_sponsor),
    },
    expired=lambda state: _(
        "These questions expired. Press Start again to continue, or answer with the buttons "
        "on my question."
    ),
    # A week, like the default sponsor grace: after that the sweep has decided anyway.
    ttl=timedelta(days=7),
)
