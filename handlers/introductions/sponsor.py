"""The sponsor's form: /invite (a personal link for a newcomer), or introducing someone already
in the group (the card's button, ``/start intro_ID``) or a vouched join request (``jr_ID``).

Its state is a typed ``SponsorAnswers`` kept by handlers/forms.py; what is stored is decided by
``moderation.introductions`` and written in the unit of work of the final answer.
"""

from __future__ import annotations

from telegram import Update

from handlers.forms import Form, Step, Turn
from handlers.introductions import render
from handlers.introductions.cards import complete_if_ready, sponsor_problem, today_in
from handlers.introductions.organisation import ask_organisation, organisation_choice
from handlers.introductions.saving import (
    SponsorAnswers,
    approve_vouched,
    invitation_of,
    prepare_invitation,
    publish_invitation,
    save_introduction,
    save_join_request_introduction,
)
from handlers.render import esc
from i18n import N_, _, long_date_text
from moderation.introductions import (
    LOCATION_MAX,
    REASON_MAX,
    ROLE_MAX,
    Category,
    InputError,
    IntroStatus,
    check_end_date,
    clean_text,
    parse_date,
    split_name,
)
from runtime.context import BotContext
from storage.introductions import IntroductionRepository
from storage.roster import RosterRepository

GROUP, NAME, ORG, ORG_CHOICE, ROLE, CLUSTER = (
    "group",
    "name",
    "org",
    "org_choice",
    "role",
    "cluster",
)
LOCATION, CATEGORY, END_DATE, REASON, CONFIRM = (
    "location",
    "category",
    "end_date",
    "reason",
    "confirm",
)

ROLE_QUESTION = N_("What is their <b>role in the response</b>? (e.g. WASH cluster IMO)")

Sponsor = Turn[SponsorAnswers]


# --------------------------------------------------------------------------- entry points
async def begin_invite(update: Update, context: BotContext) -> None:
    await SPONSOR_FORM.start(update, context, SponsorAnswers(mode="invite"))


async def begin_from_link(update: Update, context: BotContext) -> None:
    """The sponsor tapped "introduce" on a card (intro_ID) or a join request (jr_ID)."""
    message = update.effective_message
    assert message is not None and message.text is not None
    kind, _sep, raw_id = message.text.split(" ", 1)[1].partition("_")
    mode = "intro" if kind == "intro" else "jr"
    await SPONSOR_FORM.start(update, context, SponsorAnswers(mode=mode, target=int(raw_id)))


async def opening(turn: Sponsor) -> str | None:
    if turn.state.mode == "invite":
        return open_invite(turn)
    return open_introduction(turn)


def open_invite(turn: Sponsor) -> str | None:
    services = turn.services
    roster = RosterRepository(turn.session)
    groups = [
        g
        for g in services.settings.groups
        if (m := roster.membership(g.chat_id, turn.user_id)) is not None and m.present
    ]
    if not groups:
        turn.say(
            _(
                "Only members of the group can sponsor newcomers. If you are a "
                "member, say something in the group once so I know you, then try "
                "again."
            )
        )
        return None
    if len(groups) > 1:
        turn.say(
            _("Which group is the invitation for?"),
            turn.buttons([(g.title, str(g.chat_id)) for g in groups]),
        )
        return GROUP
    return ask_first_name(turn, groups[0].chat_id)


def ask_first_name(turn: Sponsor, chat_id: int) -> str | None:
    problem = sponsor_problem(turn.services, chat_id, turn.user_id, Category.IN_COUNTRY)
    if problem:
        turn.say(_("Sorry, {problem}.", problem=esc(problem)))
        return None
    turn.state.chat_id = chat_id
    turn.say(
        _(
            "Let's introduce the person you sponsor. Send /cancel at any time to "
            "stop.\n\nWhat are their <b>first and last name</b>?"
        )
    )
    return NAME


def open_introduction(turn: Sponsor) -> str | None:
    state = turn.state
    repo = IntroductionRepository(turn.session)
    if state.mode == "intro":
        intro = repo.introduction_by_id(state.target or 0)
        owner = intro.sponsor_id if intro else None
        open_ = (
            intro is not None
            and intro.status is IntroStatus.PENDING
            and intro.sponsor_done_at is None
        )
        chat_id = intro.chat_id if intro else 0
    else:
        request = repo.join_request(state.target or 0)
        owner = request.sponsor_id if request else None
        open_ = (
            request is not None and request.status == "sponsored" and request.invitation_id is None
        )
        chat_id = request.chat_id if request else 0
    if owner != turn.user_id:
        turn.say(
            _(
                "This introduction is for the person's sponsor, which is not you. "
                "Nothing was changed."
            )
        )
        return None
    if not open_:
        turn.say(_("That introduction is already done or no longer needed."))
        return None
    state.chat_id = chat_id
    turn.say(
        _(
            "Thank you for sponsoring. Send /cancel at any time to stop.\n\n"
            "What are their <b>first and last name</b>?"
        )
    )
    return NAME


# --------------------------------------------------------------------------- answers
async def choose_group(turn: Sponsor) -> str | None:
    value = turn.value or ""
    chat_id = int(value) if value.lstrip("-").isdigit() else 0
    if turn.services.settings.group(chat_id) is None:
        turn.say(_("That group is not one I run."))
        return None
    return ask_first_name(turn, chat_id)


async def got_name(turn: Sponsor) -> str | None:
    try:
        first, last = split_name(turn.text or "")
    except InputError as error:
        turn.say(esc(error))
        return NAME
    turn.state.first_name, turn.state.last_name = first, last
    turn.say(_("Which <b>organisation</b> does {name} work for?", name=esc(first)))
    return ORG


async def got_org(turn: Sponsor) -> str | None:
    return ask_organisation(turn, ORG, ORG_CHOICE, ROLE, _(ROLE_QUESTION))


async def org_choice(turn: Sponsor) -> str | None:
    return organisation_choice(turn, ORG, ROLE, _(ROLE_QUESTION))


def ask_category(turn: Sponsor, text: str) -> None:
    turn.say(
        text,
        turn.buttons(
            [
                (_("In the country"), "in_country"),
                (_("Surge / short mission"), "surge"),
                (_("Outside the country"), "out_of_country"),
            ]
        ),
    )


async def got_role(turn: Sponsor) -> str | None:
    try:
        turn.state.role = clean_text(turn.text or "", ROLE_MAX, "role")
    except InputError as error:
        turn.say(esc(error))
        return ROLE
    clusters = turn.services.settings.clusters
    rows = [(name, str(index)) for index, name in enumerate(clusters)]
    rows.append((_("Skip (no cluster)"), "skip"))
    turn.say(_("Which <b>cluster</b> do they work with? (optional)"), turn.buttons(rows))
    return CLUSTER


def ask_location(turn: Sponsor, text: str) -> None:
    turn.say(text, turn.buttons([(_("Skip"), "skip")]))


async def got_cluster(turn: Sponsor) -> str | None:
    choice = turn.value or ""
    clusters = turn.services.settings.clusters
    if choice != "skip":
        if not choice.isdigit() or int(choice) >= len(clusters):
            turn.say(_("Please choose one of the buttons."))
            return CLUSTER
        turn.state.cluster = clusters[int(choice)]
    ask_location(turn, _("Where are they located (city or area)? Type it, or press Skip."))
    return LOCATION


async def got_location(turn: Sponsor) -> str | None:
    if turn.value is None:
        try:
            turn.state.location = clean_text(turn.text or "", LOCATION_MAX, "location")
        except InputError as error:
            ask_location(turn, esc(error))
            return LOCATION
    elif turn.value != "skip":
        ask_location(turn, _("Please choose one of the buttons."))
        return LOCATION
    ask_category(turn, _("Where are they based?"))
    return CATEGORY


async def got_category(turn: Sponsor) -> str | None:
    state = turn.state
    try:
        category = Category(turn.value or "")
    except ValueError:
        ask_category(turn, _("Please choose one of the buttons."))
        return CATEGORY
    assert state.chat_id is not None
    problem = sponsor_problem(turn.services, state.chat_id, turn.user_id, category)
    if problem:
        ask_category(
            turn, _("Sorry, {problem}. Choose another option or /cancel.", problem=esc(problem))
        )
        return CATEGORY
    state.category = category
    if category.needs_end_date:
        turn.say(_("Until when? Type the <b>end date</b> (e.g. 2026-12-20, 20 Dec, in 3 weeks)."))
        return END_DATE
    return summary(turn)


async def got_end_date(turn: Sponsor) -> str | None:
    state, services = turn.state, turn.services
    assert state.chat_id is not None and state.category is not None
    group = services.settings.group(state.chat_id)
    assert group is not None
    today = today_in(services, state.chat_id)
    try:
        end = parse_date(turn.text or "", today)
        check_end_date(state.category, end, today, group.membership.out_of_country_max)
    except InputError as error:
        turn.say(esc(error))
        return END_DATE
    state.end_date = end
    if state.category is Category.OUT_OF_COUNTRY:
        turn.say(
            _(
                "Understood: until <b>{date}</b>. In one line: which "
                "cluster, agency or colleagues in the country do they support?",
                date=long_date_text(end),
            )
        )
        return REASON
    return summary(turn, note=_("Understood: until {date}.", date=long_date_text(end)))


async def got_reason(turn: Sponsor) -> str | None:
    try:
        turn.state.reason = clean_text(turn.text or "", REASON_MAX, "reason")
    except InputError as error:
        turn.say(esc(error))
        return REASON
    return summary(turn)


def summary(turn: Sponsor, note: str = "") -> str:
    state = turn.state
    preview = invitation_of(state, sponsor_id=0, services=turn.services)  # not stored
    action = _("Create the invite link") if state.mode == "invite" else _("Post the introduction")
    turn.say(
        render.summary(state.first_name or "", state.last_name or "", preview, note),
        turn.buttons_row([(action, "ok"), (_("Cancel"), "cancel")]),
    )
    return CONFIRM


# --------------------------------------------------------------------------- saving
async def confirm_form(turn: Sponsor) -> str | None:
    state = turn.state
    if turn.value != "ok" or state.category is None:
        turn.say(_("Cancelled; nothing was saved."))
        return None
    update, context, services = turn.update, turn.context, turn.services
    if state.mode == "invite":
        prepared = prepare_invitation(turn.session, state, turn.user_id, services)
        turn.later(lambda: publish_invitation(update, context, state, prepared))
    elif state.mode == "intro":
        if not save_introduction(turn.session, state, turn.user_id, turn.now):
            turn.say(_("That introduction is no longer open; nothing was changed."))
            return None
        turn.say(_("Thank you! Your introduction is posted in the group."))
        target = state.target or 0
        turn.later(lambda: complete_if_ready(context, target))
    else:
        vouched = save_join_request_introduction(turn.session, state, turn.user_id, services)
        if vouched is None:
            turn.say(_("That join request is no longer open; nothing was changed."))
            return None
        turn.later(lambda: approve_vouched(update, context, vouched))
    return None


def restart_state(old: SponsorAnswers) -> SponsorAnswers:
    return SponsorAnswers(mode=old.mode, target=old.target)


SPONSOR_FORM = Form(
    kind="sponsor",
    prefix="inv",
    model=SponsorAnswers,
    opening=opening,
    steps={
        GROUP: Step(on_button=choose_group),
        NAME: Step(on_text=got_name),
        ORG: Step(on_text=got_org),
        ORG_CHOICE: Step(on_button=org_choice),
        ROLE: Step(on_text=got_role),
        CLUSTER: Step(on_button=got_cluster),
        LOCATION: Step(on_text=got_location, on_button=got_location),
        CATEGORY: Step(on_button=got_category),
        END_DATE: Step(on_text=got_end_date),
        REASON: Step(on_text=got_reason),
        CONFIRM: Step(on_button=confirm_form),
    },
    expired=lambda state: _(
        "This introduction form waited too long for an answer and has expired; nothing was saved."
    ),
    restart_state=restart_state,
)
