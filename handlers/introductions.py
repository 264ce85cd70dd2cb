"""Introductions: /invite (a sponsor's personal link), a sponsor introducing a newcomer who is
already in the group, and the newcomer confirming their own name and organisation.

The guided steps are PTB ConversationHandlers (cancellable with /cancel at any step); what is
stored is decided by ``moderation.introductions`` and written in one transaction at the end.
"""

from __future__ import annotations

import logging
import warnings
from datetime import date, datetime
from typing import Any, cast

from telegram import ChatPermissions, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from handlers.common import answer_step, group_label, in_group, send_private, tell_moderators
from handlers.render import esc, mention
from i18n import N_, _, comma_join, date_text, datetime_text, long_date_text
from moderation.introductions import (
    LOCATION_MAX,
    REASON_MAX,
    ROLE_MAX,
    Category,
    InputError,
    IntroStatus,
    check_end_date,
    clean_text,
    invite_link_name,
    match_organisation,
    may_sponsor,
    parse_date,
    split_name,
)
from moderation.permissions import CommandSpec, Where
from runtime.context import App, BotContext, Services
from storage.contacts import ContactRepository
from storage.introductions import IntroductionRepository
from storage.models import Introduction, Invitation
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

COMMANDS = [
    CommandSpec(
        "invite", "Get a personal invite link for someone you sponsor", where=Where.PRIVATE
    ),
    CommandSpec("cancel", "Stop what you are filling in", where=Where.PRIVATE),
]

# Conversation states.
GROUP, NAME, ORG, ORG_CHOICE, ROLE, CLUSTER, LOCATION, CATEGORY, END_DATE, REASON, CONFIRM = range(
    11
)
CF_CHOICE, CF_NAME, CF_ORG, CF_ORG_CHOICE = range(20, 24)

FORM = "intro_form"  # user_data key of the sponsor's form
OWN = "own_form"  # user_data key of the newcomer's confirmation


def deep_link(context: BotContext, payload: str) -> str:
    return f"https://t.me/{context.bot.username}?start={payload}"


def today_in(services: Services, chat_id: int) -> date:
    group = services.settings.group(chat_id)
    assert group is not None
    return services.clock.now().astimezone(services.settings.group_timezone(group)).date()


# --------------------------------------------------------------------------- rendering
def describe(intro: Introduction | Invitation) -> str:
    """ "UNICEF, WASH cluster IMO, Kyiv; surge mission until 20 Dec 2026" (escaped)."""
    parts = [esc(intro.organisation) if intro.organisation else _("organisation not given")]
    if intro.cluster and intro.cluster.casefold() not in (intro.role or "").casefold():
        parts.append(_("{cluster} cluster", cluster=esc(intro.cluster)))
    if intro.role:
        parts.append(esc(intro.role))
    if intro.location:
        parts.append(esc(intro.location))
    text = comma_join(parts)
    if intro.category is Category.SURGE and intro.end_date:
        return _(
            "{description}; surge / short mission until {date}",
            description=text,
            date=date_text(intro.end_date),
        )
    if intro.category is Category.OUT_OF_COUNTRY and intro.end_date:
        if intro.reason:
            return _(
                "{description}; supports colleagues in the country from outside until {date} "
                "({reason})",
                description=text,
                date=date_text(intro.end_date),
                reason=esc(intro.reason),
            )
        return _(
            "{description}; supports colleagues in the country from outside until {date}",
            description=text,
            date=date_text(intro.end_date),
        )
    return text


def card_text(services: Services, intro: Introduction) -> str:
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        newcomer = roster.user(intro.user_id)
        sponsor = roster.user(intro.sponsor_id) if intro.sponsor_id else None
        sponsor_intro = (
            IntroductionRepository(session).introduction(intro.chat_id, sponsor.id)
            if sponsor
            else None
        )
    assert newcomer is not None
    who = mention(newcomer.id, intro.full_name or newcomer.display_name)
    if sponsor is None:
        return _(
            "Welcome, {newcomer}! Every member here is sponsored by an existing member; a "
            "moderator will confirm who sponsors you. Until then you can read the group.",
            newcomer=who,
        )
    sponsor_name = mention(
        sponsor.id,
        sponsor_intro.full_name
        if sponsor_intro and sponsor_intro.full_name
        else sponsor.display_name,
    )
    if sponsor_intro and sponsor_intro.organisation:
        sponsor_name = _(
            "{sponsor} ({organisation})",
            sponsor=sponsor_name,
            organisation=esc(sponsor_intro.organisation),
        )
    if intro.sponsor_done_at is None:
        lines = [
            _(
                "Welcome, {newcomer}! {sponsor}, please introduce them to the group: name, "
                "organisation and role (button below).",
                newcomer=who,
                sponsor=sponsor_name,
            )
        ]
    else:
        lines = [
            _(
                "👋 {sponsor} introduces {newcomer} — {description}.",
                sponsor=sponsor_name,
                newcomer=who,
                description=describe(intro),
            )
        ]
    if intro.status is IntroStatus.COMPLETE:
        lines.append(_("✅ Introduction complete."))
    elif intro.confirmed_at is None:
        lines.append(
            _(
                "{name}, please confirm your first and last name and organisation with the "
                "button below (one tap opens a private chat with me).",
                name=esc(newcomer.first_name),
            )
        )
    return "\n".join(lines)


def card_buttons(context: BotContext, intro: Introduction) -> InlineKeyboardMarkup | None:
    """The card's buttons, labelled in the group's language(s)."""
    if intro.status is IntroStatus.COMPLETE:
        return None
    services = context.services
    rows = []
    if intro.sponsor_id is not None and intro.sponsor_done_at is None:
        rows.append(
            [
                InlineKeyboardButton(
                    group_label(services, intro.chat_id, lambda: _("Sponsor: introduce")),
                    url=deep_link(context, f"intro_{intro.id}"),
                )
            ]
        )
    if intro.confirmed_at is None:
        rows.append(
            [
                InlineKeyboardButton(
                    group_label(services, intro.chat_id, lambda: _("Newcomer: confirm my details")),
                    url=deep_link(context, f"confirm_{intro.id}"),
                )
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


async def post_or_update_card(context: BotContext, intro_id: int) -> None:
    """One introduction card per newcomer in the group, edited as it progresses."""
    services = context.services
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(intro_id)
    if intro is None:
        return
    text = in_group(services, intro.chat_id, lambda: card_text(services, intro))
    markup = card_buttons(context, intro)
    if intro.card_message_id is not None:
        try:
            await context.bot.edit_message_text(
                text, intro.chat_id, intro.card_message_id, reply_markup=markup
            )
            return
        except TelegramError as exc:  # deleted by someone: post a fresh one
            log.info("could not edit introduction card %s: %s", intro.card_message_id, exc)
    message = await context.bot.send_message(intro.chat_id, text, reply_markup=markup)
    with services.db.transaction() as session:
        stored = IntroductionRepository(session).introduction_by_id(intro_id)
        if stored is not None:
            stored.card_message_id = message.message_id


def prefill_contact(contacts: ContactRepository, intro: Introduction, now: datetime) -> None:
    """A completed introduction pre-fills the directory entry once; it stays opt-in (not
    findable until the person consents) and never overwrites what the person wrote."""
    if contacts.by_user(intro.user_id) is not None or not intro.first_name:
        return
    contacts.upsert_from_introduction(
        intro.user_id,
        intro.first_name,
        intro.last_name,
        intro.organisation or "",
        intro.role or "",
        intro.cluster,
        intro.location,
        now,
    )


async def complete_if_ready(context: BotContext, intro_id: int) -> None:
    """When both halves exist: mark complete, lift the read-only hold, update the card."""
    services = context.services
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        intro = repo.introduction_by_id(intro_id)
        done = (
            intro is not None
            and intro.complete
            and repo.claim_status(
                intro_id, IntroStatus.PENDING, IntroStatus.COMPLETE, services.clock.now()
            )
        )
        if intro is not None and done:
            prefill_contact(ContactRepository(session), intro, services.clock.now())
    if intro is not None and done:
        group = services.settings.group(intro.chat_id)
        if group is not None and group.membership.restrict_until_introduced:
            try:
                await context.bot.restrict_chat_member(
                    intro.chat_id, intro.user_id, ChatPermissions.all_permissions()
                )
            except TelegramError as exc:
                log.warning("could not lift the hold on %s: %s", intro.user_id, exc)
        await send_private(
            context,
            intro.user_id,
            lambda: _(
                "Thank you! Your introduction is complete and you can now write in the group."
            ),
        )
    if intro is not None:
        await post_or_update_card(context, intro_id)


# --------------------------------------------------------------------------- the sponsor's form
def _form(context: BotContext) -> dict[str, Any]:
    return context.user_data.setdefault(FORM, {})  # type: ignore[union-attr, no-any-return]


def sponsor_problem(
    services: Services, chat_id: int, user_id: int, newcomer_category: Category
) -> str | None:
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(chat_id, user_id)
        own = IntroductionRepository(session).introduction(chat_id, user_id)
    present = membership is not None and membership.present
    return may_sponsor(
        present,
        own.category if own else None,
        newcomer_category,
        own.status if own else None,
    )


async def begin_invite(update: Update, context: BotContext) -> int:
    user = update.effective_user
    assert user is not None
    services = context.services
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        groups = [
            g
            for g in services.settings.groups
            if (m := roster.membership(g.chat_id, user.id)) is not None and m.present
        ]
    if not groups:
        await answer_step(
            update,
            _(
                "Only members of the group can sponsor newcomers. If you are a "
                "member, say something in the group once so I know you, then try "
                "again."
            ),
        )
        return ConversationHandler.END
    context.user_data[FORM] = {"mode": "invite"}  # type: ignore[index]
    if len(groups) > 1:
        buttons = [
            [InlineKeyboardButton(g.title, callback_data=f"inv:grp:{g.chat_id}")] for g in groups
        ]
        await answer_step(
            update, _("Which group is the invitation for?"), InlineKeyboardMarkup(buttons)
        )
        return GROUP
    return await _start_form(update, context, groups[0].chat_id)


async def choose_group(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    chat_id = int(query.data.rsplit(":", 1)[1])
    if context.services.settings.group(chat_id) is None:
        await answer_step(update, _("That group is not one I run."))
        return ConversationHandler.END
    return await _start_form(update, context, chat_id)


async def _start_form(update: Update, context: BotContext, chat_id: int) -> int:
    problem = sponsor_problem(
        context.services,
        chat_id,
        update.effective_user.id,  # type: ignore[union-attr]
        Category.IN_COUNTRY,
    )
    if problem:
        await answer_step(update, _("Sorry, {problem}.", problem=esc(problem)))
        return ConversationHandler.END
    _form(context)["chat_id"] = chat_id
    await answer_step(
        update,
        _(
            "Let's introduce the person you sponsor. Send /cancel at any time to "
            "stop.\n\nWhat are their <b>first and last name</b>?"
        ),
    )
    return NAME


async def begin_from_link(update: Update, context: BotContext) -> int:
    """The sponsor tapped "introduce" on a card (intro_ID) or a join request (jr_ID)."""
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None and message.text is not None
    kind, _sep, raw_id = message.text.split(" ", 1)[1].partition("_")
    services = context.services
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        if kind == "intro":
            intro = repo.introduction_by_id(int(raw_id))
            owner = intro.sponsor_id if intro else None
            open_ = (
                intro is not None
                and intro.status is IntroStatus.PENDING
                and intro.sponsor_done_at is None
            )
            chat_id = intro.chat_id if intro else 0
        else:
            request = repo.join_request(int(raw_id))
            owner = request.sponsor_id if request else None
            open_ = (
                request is not None
                and request.status == "sponsored"
                and request.invitation_id is None
            )
            chat_id = request.chat_id if request else 0
    if owner != user.id:
        await message.reply_text(
            _(
                "This introduction is for the person's sponsor, which is not you. "
                "Nothing was changed."
            )
        )
        return ConversationHandler.END
    if not open_:
        await message.reply_text(_("That introduction is already done or no longer needed."))
        return ConversationHandler.END
    context.user_data[FORM] = {"mode": kind, "target": int(raw_id), "chat_id": chat_id}  # type: ignore[index]
    await message.reply_text(
        _(
            "Thank you for sponsoring. Send /cancel at any time to stop.\n\n"
            "What are their <b>first and last name</b>?"
        )
    )
    return NAME


async def got_name(update: Update, context: BotContext) -> int:
    try:
        first, last = split_name(update.effective_message.text or "")  # type: ignore[union-attr]
    except InputError as error:
        await answer_step(update, esc(error))
        return NAME
    _form(context).update(first_name=first, last_name=last)
    await answer_step(update, _("Which <b>organisation</b> does {name} work for?", name=esc(first)))
    return ORG


async def _ask_organisation(
    update: Update,
    context: BotContext,
    answer: str,
    prefix: str,
    form: dict[str, Any],
    retry: int,
    choice: int,
    after: int,
    next_question: str,
) -> int:
    settings = context.services.settings
    try:
        match = match_organisation(
            answer, settings.organisations, settings.allow_unlisted_organisations
        )
    except InputError as error:
        await answer_step(update, esc(error))
        return retry
    if match.accepted and not match.suggestion:
        form["organisation"] = match.accepted
        await answer_step(update, next_question)
        return after
    form["typed_organisation"] = clean_text(answer, 100, "organisation")
    buttons = [
        [
            InlineKeyboardButton(
                _("Yes, {organisation}", organisation=match.suggestion),
                callback_data=f"{prefix}:yes",
            )
        ]
    ]
    if settings.allow_unlisted_organisations:
        buttons.append(
            [InlineKeyboardButton(_("No, keep what I typed"), callback_data=f"{prefix}:keep")]
        )
    buttons.append([InlineKeyboardButton(_("Type it again"), callback_data=f"{prefix}:retype")])
    form["suggestion"] = match.suggestion
    await answer_step(
        update,
        _("Did you mean <b>{organisation}</b>?", organisation=esc(match.suggestion)),
        InlineKeyboardMarkup(buttons),
    )
    return choice


async def _organisation_choice(
    update: Update, form: dict[str, Any], retry: int, after: int, next_question: str
) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    answer = query.data.rsplit(":", 1)[1]
    if answer == "retype" or "suggestion" not in form:
        await answer_step(update, _("Please type the organisation again."))
        return retry
    form["organisation"] = form["suggestion"] if answer == "yes" else form["typed_organisation"]
    await answer_step(update, next_question)
    return after


ROLE_QUESTION = N_("What is their <b>role in the response</b>? (e.g. WASH cluster IMO)")


async def got_org(update: Update, context: BotContext) -> int:
    return await _ask_organisation(
        update,
        context,
        update.effective_message.text or "",  # type: ignore[union-attr]
        "inv:org",
        _form(context),
        ORG,
        ORG_CHOICE,
        ROLE,
        _(ROLE_QUESTION),
    )


async def org_choice(update: Update, context: BotContext) -> int:
    return await _organisation_choice(update, _form(context), ORG, ROLE, _(ROLE_QUESTION))


def category_buttons() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_("In the country"), callback_data="inv:cat:in_country")],
            [InlineKeyboardButton(_("Surge / short mission"), callback_data="inv:cat:surge")],
            [
                InlineKeyboardButton(
                    _("Outside the country"), callback_data="inv:cat:out_of_country"
                )
            ],
        ]
    )


async def got_role(update: Update, context: BotContext) -> int:
    try:
        role = clean_text(update.effective_message.text or "", ROLE_MAX, "role")  # type: ignore[union-attr]
    except InputError as error:
        await answer_step(update, esc(error))
        return ROLE
    _form(context)["role"] = role
    clusters = context.services.settings.clusters
    buttons = [
        [InlineKeyboardButton(name, callback_data=f"inv:cl:{index}")]
        for index, name in enumerate(clusters)
    ]
    buttons.append([InlineKeyboardButton(_("Skip (no cluster)"), callback_data="inv:cl:skip")])
    await answer_step(
        update,
        _("Which <b>cluster</b> do they work with? (optional)"),
        InlineKeyboardMarkup(buttons),
    )
    return CLUSTER


def skip_location() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("Skip"), callback_data="inv:loc:skip")]])


async def got_cluster(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    choice = query.data.rsplit(":", 1)[1]
    clusters = context.services.settings.clusters
    if choice != "skip":
        if not choice.isdigit() or int(choice) >= len(clusters):
            await answer_step(update, _("Please choose one of the buttons."))
            return CLUSTER
        _form(context)["cluster"] = clusters[int(choice)]
    await answer_step(
        update, _("Where are they located (city or area)? Type it, or press Skip."), skip_location()
    )
    return LOCATION


async def got_location(update: Update, context: BotContext) -> int:
    if update.callback_query is None:
        try:
            typed = update.effective_message.text if update.effective_message else None
            _form(context)["location"] = clean_text(typed or "", LOCATION_MAX, "location")
        except InputError as error:
            await answer_step(update, esc(error), skip_location())
            return LOCATION
    await answer_step(update, _("Where are they based?"), category_buttons())
    return CATEGORY


async def got_category(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    form = _form(context)
    try:
        category = Category(query.data.rsplit(":", 1)[1])
    except ValueError:
        await answer_step(update, _("Please choose one of the buttons."), category_buttons())
        return CATEGORY
    problem = sponsor_problem(context.services, form["chat_id"], query.from_user.id, category)
    if problem:
        await answer_step(
            update,
            _("Sorry, {problem}. Choose another option or /cancel.", problem=esc(problem)),
            category_buttons(),
        )
        return CATEGORY
    form["category"] = category
    if category.needs_end_date:
        await answer_step(
            update,
            _("Until when? Type the <b>end date</b> (e.g. 2026-12-20, 20 Dec, in 3 weeks)."),
        )
        return END_DATE
    return await _summary(update, context)


async def got_end_date(update: Update, context: BotContext) -> int:
    form = _form(context)
    services = context.services
    group = services.settings.group(form["chat_id"])
    assert group is not None
    today = today_in(services, form["chat_id"])
    try:
        end = parse_date(update.effective_message.text or "", today)  # type: ignore[union-attr]
        check_end_date(form["category"], end, today, group.membership.out_of_country_max)
    except InputError as error:
        await answer_step(update, esc(error))
        return END_DATE
    form["end_date"] = end
    if form["category"] is Category.OUT_OF_COUNTRY:
        await answer_step(
            update,
            _(
                "Understood: until <b>{date}</b>. In one line: which "
                "cluster, agency or colleagues in the country do they support?",
                date=long_date_text(end),
            ),
        )
        return REASON
    return await _summary(
        update, context, note=_("Understood: until {date}.", date=long_date_text(end))
    )


async def got_reason(update: Update, context: BotContext) -> int:
    try:
        _form(context)["reason"] = clean_text(
            update.effective_message.text or "",  # type: ignore[union-attr]
            REASON_MAX,
            "reason",
        )
    except InputError as error:
        await answer_step(update, esc(error))
        return REASON
    return await _summary(update, context)


async def _summary(update: Update, context: BotContext, note: str = "") -> int:
    form = _form(context)
    preview = _invitation(form, sponsor_id=0, services=context.services)  # not stored
    action = _("Create the invite link") if form["mode"] == "invite" else _("Post the introduction")
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(action, callback_data="inv:ok"),
                InlineKeyboardButton(_("Cancel"), callback_data="inv:cancel"),
            ]
        ]
    )
    summary = _(
        "<b>{first} {last}</b> — {description}.",
        first=esc(form["first_name"]),
        last=esc(form["last_name"]),
        description=describe(preview),
    )
    text = f"{esc(note)}\n{summary}" if note else summary
    await answer_step(update, text, buttons)
    return CONFIRM


async def confirm_form(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None
    form = context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    if query.data == "inv:cancel" or not form or "category" not in form:
        await answer_step(update, _("Cancelled; nothing was saved."))
        return ConversationHandler.END
    if form["mode"] == "invite":
        await _create_invitation(update, context, form)
    elif form["mode"] == "intro":
        await _save_introduction(update, context, form)
    else:
        await _save_join_request_introduction(update, context, form)
    return ConversationHandler.END


def _invitation(form: dict[str, Any], sponsor_id: int, services: Services) -> Invitation:
    group = services.settings.group(form["chat_id"])
    assert group is not None
    now = services.clock.now()
    return Invitation(
        chat_id=form["chat_id"],
        sponsor_id=sponsor_id,
        first_name=form["first_name"],
        last_name=form["last_name"],
        organisation=form["organisation"],
        role=form["role"],
        category=form["category"],
        end_date=form.get("end_date"),
        reason=form.get("reason"),
        cluster=form.get("cluster"),
        location=form.get("location"),
        status="open",
        created_at=now,
        expires_at=now + group.membership.invite_link_valid,
    )


async def _create_invitation(update: Update, context: BotContext, form: dict[str, Any]) -> None:
    sponsor = update.effective_user
    assert sponsor is not None
    services = context.services
    group = services.settings.group(form["chat_id"])
    assert group is not None
    zone = services.settings.group_timezone(group)
    full = f"{form['first_name']} {form['last_name']}".casefold()
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        twin = next(
            (
                i
                for i in repo.open_invitations(sponsor.id)
                if f"{i.first_name} {i.last_name}".casefold() == full
                and i.chat_id == form["chat_id"]
                and i.link_url
            ),
            None,
        )
        if twin is None:
            invitation = repo.add_invitation(_invitation(form, sponsor.id, services))
            invitation_id, expires = invitation.id, invitation.expires_at
    if twin is not None:
        await answer_step(
            update,
            _(
                "You already have an open link for {name}: {link} (valid until {date}).",
                name=esc(full.title()),
                link=esc(twin.link_url),
                date=datetime_text(twin.expires_at, zone),
            ),
        )
        return
    name = invite_link_name(invitation_id, sponsor.first_name)
    try:
        link = await context.bot.create_chat_invite_link(
            form["chat_id"], name=name, member_limit=1, expire_date=expires
        )
    except TelegramError as exc:
        with services.db.transaction() as session:
            stale = IntroductionRepository(session).invitation(invitation_id)
            if stale is not None:
                session.delete(stale)
        log.warning("could not create an invite link: %s", exc)
        error = esc(exc)
        await answer_step(
            update,
            _(
                "Sorry, I could not create the link: I need the right to invite "
                "users in the group. The moderators have been told."
            ),
        )
        await tell_moderators(
            context,
            lambda: _(
                "I could not create a sponsor's invite link: {error}. "
                "Please give me the right to invite users.",
                error=error,
            ),
        )
        return
    with services.db.transaction() as session:
        stored = IntroductionRepository(session).invitation(invitation_id)
        assert stored is not None
        stored.link_url, stored.link_name = link.invite_link, name
    await answer_step(
        update,
        _(
            "Here is the personal link for <b>{first} {last}</b>. It works once and until "
            "{time} ({zone}); send it to them privately:\n{link}\n\nWhen they join I will "
            "post your introduction in the group.",
            first=esc(form["first_name"]),
            last=esc(form["last_name"]),
            time=datetime_text(expires, zone),
            zone=esc(str(zone)),
            link=esc(link.invite_link),
        ),
    )


def _apply_form(intro: Introduction, form: dict[str, Any] | Invitation) -> None:
    get = (
        form.get
        if isinstance(form, dict)
        else lambda key, default=None: getattr(form, key, default)
    )
    if intro.confirmed_at is None:  # the newcomer's own answer wins over the sponsor's
        intro.first_name, intro.last_name = get("first_name"), get("last_name")
        intro.organisation = get("organisation")
    intro.role, intro.category = get("role"), get("category")
    intro.end_date, intro.reason = get("end_date"), get("reason")
    intro.cluster, intro.location = get("cluster"), get("location")


async def _save_introduction(update: Update, context: BotContext, form: dict[str, Any]) -> None:
    services = context.services
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(form["target"])
        if (
            intro is None
            or intro.status is not IntroStatus.PENDING
            or update.effective_user is None
            or intro.sponsor_id != update.effective_user.id
        ):
            saved = False
        else:
            _apply_form(intro, form)
            intro.sponsor_done_at = services.clock.now()
            saved = True
    if not saved:
        await answer_step(update, _("That introduction is no longer open; nothing was changed."))
        return
    await answer_step(update, _("Thank you! Your introduction is posted in the group."))
    await complete_if_ready(context, form["target"])


async def _save_join_request_introduction(
    update: Update, context: BotContext, form: dict[str, Any]
) -> None:
    services = context.services
    sponsor_id = update.effective_user.id  # type: ignore[union-attr]
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        request = repo.join_request(form["target"])
        if request is None or request.status != "sponsored" or request.sponsor_id != sponsor_id:
            request = None
        else:
            invitation = repo.add_invitation(_invitation(form, sponsor_id, services))
            invitation.status = "request"
            request.invitation_id = invitation.id
            chat_id, user_id, request_id = request.chat_id, request.user_id, request.id
    if request is None:
        await answer_step(update, _("That join request is no longer open; nothing was changed."))
        return
    try:
        await context.bot.approve_chat_join_request(chat_id, user_id)
    except TelegramError as exc:
        await answer_step(update, _("I could not approve the request: {error}.", error=esc(exc)))
        return
    with services.db.transaction() as session:
        IntroductionRepository(session).decide_join_request(
            request_id, "approved", sponsor_id, services.clock.now()
        )
    await answer_step(
        update,
        _("Thank you! The request is approved; I will post your introduction when they join."),
    )


async def cancel(update: Update, context: BotContext) -> int:
    context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    context.user_data.pop(OWN, None)  # type: ignore[union-attr]
    await answer_step(update, _("Cancelled; nothing was saved."))
    return ConversationHandler.END


# --------------------------------------------------------------------------- the newcomer
def _own(context: BotContext) -> dict[str, Any]:
    return context.user_data.setdefault(OWN, {})  # type: ignore[union-attr, no-any-return]


async def begin_confirm(update: Update, context: BotContext) -> int:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None and message.text is not None
    intro_id = int(message.text.rsplit("_", 1)[1])
    with context.services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(intro_id)
    if intro is None or intro.user_id != user.id:
        await message.reply_text(
            _("This confirmation link belongs to someone else; nothing was changed.")
        )
        return ConversationHandler.END
    if intro.confirmed_at is not None or intro.status not in (
        IntroStatus.PENDING,
        IntroStatus.HELD,
    ):
        await message.reply_text(_("Your details are already confirmed. Thank you!"))
        return ConversationHandler.END
    context.user_data[OWN] = {"target": intro_id}  # type: ignore[index]
    if intro.full_name and intro.organisation:
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("Yes, that's right"), callback_data="cf:yes"),
                    InlineKeyboardButton(_("Correct it"), callback_data="cf:fix"),
                ]
            ]
        )
        await message.reply_text(
            _(
                "Welcome! Your sponsor introduced you as <b>{name}</b>, {organisation}. "
                "Is that right?",
                name=esc(intro.full_name),
                organisation=esc(intro.organisation),
            ),
            reply_markup=buttons,
        )
        return CF_CHOICE
    await message.reply_text(
        _("Welcome! Please tell the group your <b>first and last name</b>. (/cancel to stop)")
    )
    return CF_NAME


async def confirm_choice(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None
    form = _own(context)
    if query.data == "cf:fix":
        await answer_step(update, _("Please type your <b>first and last name</b>."))
        return CF_NAME
    with context.services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(form.get("target", 0))
        if intro is not None and intro.user_id == query.from_user.id:
            intro.confirmed_at = context.services.clock.now()
    return await _finish_own(update, context)


async def own_name(update: Update, context: BotContext) -> int:
    try:
        first, last = split_name(update.effective_message.text or "")  # type: ignore[union-attr]
    except InputError as error:
        await answer_step(update, esc(error))
        return CF_NAME
    _own(context).update(first_name=first, last_name=last)
    await answer_step(update, _("Which <b>organisation</b> do you work for?"))
    return CF_ORG


OWN_DONE = -5  # internal marker: organisation accepted


async def own_org(update: Update, context: BotContext) -> int:
    state = await _ask_organisation(
        update,
        context,
        update.effective_message.text or "",  # type: ignore[union-attr]
        "cf:org",
        _own(context),
        CF_ORG,
        CF_ORG_CHOICE,
        OWN_DONE,
        _("Thank you!"),
    )
    return await _save_own(update, context) if state == OWN_DONE else state


async def own_org_choice(update: Update, context: BotContext) -> int:
    state = await _organisation_choice(update, _own(context), CF_ORG, OWN_DONE, _("Thank you!"))
    return await _save_own(update, context) if state == OWN_DONE else state


async def _save_own(update: Update, context: BotContext) -> int:
    form = _own(context)
    user_id = update.effective_user.id  # type: ignore[union-attr]
    with context.services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(form.get("target", 0))
        if intro is not None and intro.user_id == user_id:
            intro.first_name, intro.last_name = form["first_name"], form["last_name"]
            intro.organisation = form["organisation"]
            intro.confirmed_at = context.services.clock.now()
    return await _finish_own(update, context)


async def _finish_own(update: Update, context: BotContext) -> int:
    form = context.user_data.pop(OWN, {})  # type: ignore[union-attr]
    with context.services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(form.get("target", 0))
    if intro is None:
        return ConversationHandler.END
    if intro.sponsor_done_at is None:
        await answer_step(
            update, _("Thank you! Now your sponsor needs to introduce you; I have reminded them.")
        )
    elif intro.status is IntroStatus.HELD:
        await answer_step(update, _("Thank you! A moderator still needs to confirm your sponsor."))
    await complete_if_ready(context, intro.id)
    return ConversationHandler.END


def register(app: App) -> None:
    # Conversations are tracked per user in private chat, which is what we want here.
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    private_text = filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
    cancel_handler = CommandHandler("cancel", cancel, filters=filters.ChatType.PRIVATE)
    app.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("invite", begin_invite, filters=filters.ChatType.PRIVATE),
                CommandHandler(
                    "start",
                    begin_from_link,
                    filters=filters.ChatType.PRIVATE
                    & filters.Regex(r"^/start (intro|jr)_\d{1,12}$"),
                ),
            ],
            states={
                GROUP: [CallbackQueryHandler(choose_group, pattern=r"^inv:grp:-?\d+$")],
                NAME: [MessageHandler(private_text, got_name)],
                ORG: [MessageHandler(private_text, got_org)],
                ORG_CHOICE: [CallbackQueryHandler(org_choice, pattern=r"^inv:org:")],
                ROLE: [MessageHandler(private_text, got_role)],
                CLUSTER: [CallbackQueryHandler(got_cluster, pattern=r"^inv:cl:")],
                LOCATION: [
                    MessageHandler(private_text, got_location),
                    CallbackQueryHandler(got_location, pattern=r"^inv:loc:skip$"),
                ],
                CATEGORY: [CallbackQueryHandler(got_category, pattern=r"^inv:cat:")],
                END_DATE: [MessageHandler(private_text, got_end_date)],
                REASON: [MessageHandler(private_text, got_reason)],
                CONFIRM: [CallbackQueryHandler(confirm_form, pattern=r"^inv:(ok|cancel)$")],
            },
            fallbacks=[cast("BaseHandler[Update, BotContext, object]", cancel_handler)],
            allow_reentry=True,
            name="sponsor-introduction",
        )
    )
    app.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler(
                    "start",
                    begin_confirm,
                    filters=filters.ChatType.PRIVATE & filters.Regex(r"^/start confirm_\d{1,12}$"),
                )
            ],
            states={
                CF_CHOICE: [CallbackQueryHandler(confirm_choice, pattern=r"^cf:(yes|fix)$")],
                CF_NAME: [MessageHandler(private_text, own_name)],
                CF_ORG: [MessageHandler(private_text, own_org)],
                CF_ORG_CHOICE: [CallbackQueryHandler(own_org_choice, pattern=r"^cf:org:")],
            },
            fallbacks=[cast("BaseHandler[Update, BotContext, object]", cancel_handler)],
            allow_reentry=True,
            name="newcomer-confirmation",
        )
    )
