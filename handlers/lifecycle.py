"""The membership lifecycle: departures, expiring memberships, lost sponsors, check-ins,
leaving, readmission and retention.

Commands: ``/leaving DATE`` (``/leaving @user DATE`` for moderators), ``/leave``,
``/extend @user 30d``, and for moderators ``/expiring``, ``/stale``, ``/readmit @user``.
The sweep (every 15 minutes, from the ``member_lifecycle`` rows) asks ``moderation.lifecycle``
what is due for each member and does it once; every removal goes through
``handlers.removal.remove_member`` and its outcome is remembered, so a refused removal (an
admin, a missing right, someone already gone) is reported once and never loops.
"""

from __future__ import annotations

import logging
import warnings
from datetime import date, datetime, timedelta
from typing import Any, cast

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
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

from config.schema import GroupConfig
from handlers.common import (
    current_role,
    may_moderate,
    moderators_only,
    personal_language,
    send_private,
    tell_moderators,
)
from handlers.introductions import _create_invitation, deep_link
from handlers.removal import Removal, remove_member
from handlers.render import chunk_lines, esc, mention
from handlers.start import add_deep_link
from handlers.targets import Target, TargetError, resolve_target, roster_name
from i18n import _, use_locale
from moderation.deadlines import format_local, zone_label
from moderation.durations import DurationError, parse_duration
from moderation.introductions import Category, InputError, IntroStatus, may_sponsor, parse_date
from moderation.lifecycle import (
    Answer,
    Cause,
    Kind,
    Outcome,
    Policy,
    Step,
    act_time,
    check_departure,
    departure_deadline,
    erase_due,
    expiry_at,
    extended_end,
    local_day,
    next_step,
    ooc_end_problem,
    sponsor_deadline,
    stale_since,
)
from moderation.permissions import CommandSpec, Role, Where
from moderation.roster import MemberStatus, ObservedChange
from runtime.context import App, BotContext, Services, Sweep, services_of
from storage.introductions import IntroductionRepository
from storage.lifecycle import Entry, LifecycleRepository
from storage.models import Introduction, MemberLifecycle, User
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

COMMANDS = [
    CommandSpec(
        "leaving",
        "Tell me the date you leave the country",
        usage="DATE | cancel",
    ),
    CommandSpec("leave", "Leave the group", where=Where.PRIVATE),
    CommandSpec("extend", "Extend the membership of someone you sponsor", usage="@user 30d"),
    CommandSpec(
        "expiring",
        "Upcoming departures, expiries and sponsorless members",
        Role.MODERATOR,
        Where.PRIVATE,
        usage="[60d]",
    ),
    CommandSpec(
        "stale", "Members who did not answer their check-in", Role.MODERATOR, Where.PRIVATE
    ),
    CommandSpec(
        "readmit",
        "Undo a removal: a fresh sponsored invite link",
        Role.MODERATOR,
        Where.PRIVATE,
        usage="@user [END DATE]",
    ),
]

# Conversation states (the "yes, I keep supporting colleagues" questions).
OOC_END, OOC_SPONSOR = range(40, 42)
FORM = "lifecycle_form"
EXTEND_BUTTON_DAYS = 30
MENTIONS_PER_MESSAGE = 50


# --------------------------------------------------------------------------- helpers
def policy_of(services: Services, group: GroupConfig) -> Policy:
    m = group.membership
    return Policy(
        timezone=services.settings.group_timezone(group),
        daily_at=m.daily_at,
        out_of_country_max=m.out_of_country_max,
        expiry_notice=m.expiry_notice,
        departure_grace=m.departure_grace,
        sponsor_grace=m.sponsor_grace,
        checkin_every=m.checkin_every,
        checkin_grace=m.checkin_grace,
        checkin_removes=m.checkin_removes,
        retention=m.retention,
    )


def _trusted(services: Services) -> frozenset[int]:
    """Configured moderators count as sponsors in the country even when not group members."""
    return frozenset(services.settings.moderators)


def today_of(services: Services, group: GroupConfig) -> date:
    return local_day(services.clock.now(), services.settings.group_timezone(group))


def day_text(day: date) -> str:
    return f"{day:%A %-d %B %Y}"


def when_text(instant: datetime, policy: Policy) -> str:
    return f"{format_local(instant, policy.timezone)} {zone_label(policy.timezone)}"


def name_of(user: User | None, intro: Introduction | None, fallback: int = 0) -> str:
    return roster_name(user, intro) if user is not None else str(fallback)


def _present_groups(services: Services, user_id: int) -> list[GroupConfig]:
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        return [
            g
            for g in services.settings.groups
            if (m := roster.membership(g.chat_id, user_id)) is not None and m.present
        ]


def _group_for(services: Services, update: Update, user_id: int) -> GroupConfig:
    """The group a command is about: the one it is sent in, else where the person is a member."""
    chat = update.effective_chat
    if chat is not None and (group := services.settings.group(chat.id)) is not None:
        return group
    groups = _present_groups(services, user_id)
    return groups[0] if groups else services.settings.groups[0]


def _language(services: Services, user_id: int) -> str:
    """What the person reads privately: their /language choice, Telegram's, the group's."""
    return personal_language(services, user_id)


async def _write(
    context: BotContext, user_id: int, build: Any, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Write privately to ``user_id`` in their language; ``build()`` makes the text."""
    with use_locale(_language(context.services, user_id)):
        text = build()
    return await send_private(context, user_id, text, reply_markup=markup)


def _sponsor_ok_for(
    services: Services, chat_id: int, sponsor_id: int, member_id: int
) -> str | None:
    """None when ``sponsor_id`` may sponsor an out-of-country member, else why not."""
    if sponsor_id == member_id:
        return _("you cannot sponsor yourself")
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(chat_id, sponsor_id)
        user = RosterRepository(session).user(sponsor_id)
        own = IntroductionRepository(session).introduction(chat_id, sponsor_id)
    if user is not None and user.is_bot:
        return _("a bot cannot sponsor anyone")
    if sponsor_id in services.settings.moderators:
        return None  # configured moderators count as sponsors in the country, members or not
    problem = may_sponsor(
        membership is not None and membership.present,
        own.category if own else None,
        Category.OUT_OF_COUNTRY,
        own.status if own else None,
    )
    return _(problem) if problem else None


def _record(
    services: Services, chat_id: int, user_id: int, cause: str, actor_id: int | None
) -> None:
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(chat_id, user_id)
        status = membership.status.value if membership else "unknown"
        LifecycleRepository(session).record(
            chat_id, user_id, services.clock.now(), cause, actor_id, status, status
        )


# --------------------------------------------------------------------------- removal
GROUP_NOTICE = {
    Cause.DEPARTURE_DECLINED: (
        "👋 {name} has left the country, so they leave the group today. Thank you for your "
        "work here, and all the best! They are welcome back any time through a sponsor."
    ),
    Cause.EXPIRED: (
        "👋 {name}'s time-limited membership ended today. Thank you for your support! They are "
        "welcome back any time through a sponsor."
    ),
    Cause.SPONSOR_LOST: (
        "👋 {name}'s out-of-country membership ended: it needs a sponsor working in the "
        "country. Thank you for your support! They are welcome back through a sponsor."
    ),
    Cause.CHECKIN_UNANSWERED: (
        "👋 {name} leaves the group: they did not confirm that they still work on the response "
        "in the country. They are welcome back any time through a sponsor."
    ),
}


def _group_notice(cause: Cause, name: str) -> str | None:
    if cause is Cause.VOLUNTARY:
        return None
    if cause in (Cause.DEPARTURE_UNANSWERED, Cause.NO_SPONSOR_CONFIRMED):
        cause = Cause.DEPARTURE_DECLINED
    return _(GROUP_NOTICE[cause], name=esc(name))


def _reason(cause: Cause) -> str:
    return {
        Cause.DEPARTURE_DECLINED: _("you told me you are leaving the country"),
        Cause.DEPARTURE_UNANSWERED: _(
            "you did not answer my question on your departure date in time"
        ),
        Cause.NO_SPONSOR_CONFIRMED: _(
            "no sponsor in the country confirmed your out-of-country membership in time"
        ),
        Cause.EXPIRED: _("your time-limited membership reached its end date"),
        Cause.SPONSOR_LOST: _("no new sponsor in the country was found in time"),
        Cause.CHECKIN_UNANSWERED: _("you did not answer the check-in in time"),
        Cause.VOLUNTARY: _("you asked to leave"),
    }[cause]


async def end_membership(
    context: BotContext,
    group: GroupConfig,
    row_id: int,
    user_id: int,
    cause: Cause,
    actor_id: int | None = None,
) -> Removal | None:
    """Remove a member for a lifecycle reason, once; None when already attempted."""
    services = context.services
    policy = policy_of(services, group)
    now = services.clock.now()
    with services.db.transaction() as session:
        claimed = LifecycleRepository(session).claim_removal(
            row_id, cause, now, now - policy.retry_failed_after
        )
        user = RosterRepository(session).user(user_id)
        intro = IntroductionRepository(session).introduction(group.chat_id, user_id)
    if not claimed:
        return None
    name = name_of(user, intro, user_id)
    result = await remove_member(
        context,
        group.chat_id,
        user_id,
        _reason(cause),
        cause=cause.value,
        actor_id=actor_id,
        announce=False,
    )
    outcome = {
        Removal.REMOVED: Outcome.REMOVED,
        Removal.NOT_PRESENT: Outcome.NOT_PRESENT,
        Removal.PROTECTED: Outcome.PROTECTED,
        Removal.FAILED: Outcome.FAILED,
    }[result]
    with services.db.transaction() as session:
        LifecycleRepository(session).removal_done(row_id, outcome, services.clock.now())
        if result is Removal.NOT_PRESENT:
            roster = RosterRepository(session)
            membership = roster.membership(group.chat_id, user_id)
            if membership is not None and membership.present:
                # Telegram says they are gone: the roster catches up instead of retrying.
                roster.apply_change(
                    group.chat_id,
                    ObservedChange(user_id, None, membership.status, MemberStatus.LEFT),
                    services.clock.now(),
                    cause=f"{cause.value}: no longer in the group when removing",
                )
    if result is Removal.REMOVED:
        notice = _group_notice(cause, name)
        if notice is not None:
            await context.bot.send_message(group.chat_id, notice)
        if cause is not Cause.VOLUNTARY:  # /leave answers in its own message
            await _write(
                context,
                user_id,
                lambda: _(
                    "You have left <b>{group}</b>: {reason}. Thank you for your work with the "
                    "community! You are welcome back any time: ask a member to sponsor you "
                    "again.",
                    group=esc(group.title),
                    reason=_reason(cause),
                ),
            )
        if cause in (Cause.SPONSOR_LOST, Cause.CHECKIN_UNANSWERED, Cause.NO_SPONSOR_CONFIRMED):
            await tell_moderators(
                context,
                _(
                    "{name} was removed from <b>{group}</b>: {cause}.",
                    name=esc(name),
                    group=esc(group.title),
                    cause=esc(cause.value),
                ),
            )
    elif result is Removal.PROTECTED and cause is not Cause.VOLUNTARY:
        await tell_moderators(
            context,
            _(
                "{name} should leave <b>{group}</b> ({cause}), but is an admin of the group, "
                "so I cannot remove them. Please remove their admin rights or remove them "
                "yourself; I will not try again.",
                name=esc(name),
                group=esc(group.title),
                cause=esc(cause.value),
            ),
        )
    elif result is Removal.NOT_PRESENT and cause is not Cause.VOLUNTARY:
        await tell_moderators(
            context,
            _(
                "{name} should leave <b>{group}</b> ({cause}), but Telegram says they are no "
                "longer in it; I have updated my member list.",
                name=esc(name),
                group=esc(group.title),
                cause=esc(cause.value),
            ),
        )
    # Removal.FAILED: remove_member already told the moderators which right is missing; the
    # sweep tries again once a day, silently.
    return result


# --------------------------------------------------------------------------- the steps
def _departure_buttons(row_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Yes, I keep supporting them"), callback_data=f"lc:dep:{row_id}:y"
                )
            ],
            [InlineKeyboardButton(_("No, I leave the group"), callback_data=f"lc:dep:{row_id}:n")],
        ]
    )


def _departure_question(group: GroupConfig, row: MemberLifecycle, policy: Policy) -> str:
    asked = row.departure_asked_at
    assert asked is not None
    return _(
        "Today is your departure date for <b>{group}</b>. Will you keep directly "
        "supporting your IM colleagues in the country after you leave? If so you can stay as "
        "an out-of-country member for a limited time, with a sponsor in the country. Without "
        "an answer by {deadline} you leave the group, with thanks.",
        group=esc(group.title),
        deadline=when_text(asked + policy.departure_grace, policy),
    )


async def ask_departure(
    context: BotContext, group: GroupConfig, entry: Entry, policy: Policy
) -> None:
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        if not LifecycleRepository(session).claim_departure_question(entry.row.id, now):
            return
        row = LifecycleRepository(session).row(entry.row.id)
    assert row is not None
    user_id = entry.user.id
    with use_locale(_language(services, entry.user.id)):
        text, buttons = _departure_question(group, row, policy), _departure_buttons(row.id)
    if await send_private(context, user_id, text, reply_markup=buttons):
        return
    # Never started the bot: a neutral mention in the group (no dates), with a deep link.
    await context.bot.send_message(
        group.chat_id,
        _(
            "{who}, I have a question for you about your membership. Please tap the button "
            "to answer privately.",
            who=mention(user_id, name_of(entry.user, entry.intro)),
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Answer privately"), url=deep_link(context, f"departure_{row.id}")
                    )
                ]
            ]
        ),
    )


async def notify_expiry(
    context: BotContext, group: GroupConfig, entry: Entry, policy: Policy
) -> None:
    services = context.services
    intro, end = entry.intro, entry.facts.end_date
    if intro is None or end is None:
        return
    with services.db.transaction() as session:
        if not LifecycleRepository(session).claim_expiry_notice(
            entry.row.id, end, services.clock.now()
        ):
            return
        sponsor = RosterRepository(session).user(intro.sponsor_id) if intro.sponsor_id else None
    name = name_of(entry.user, intro)
    sponsor_name = sponsor.display_name if sponsor else None

    def expiry_notice() -> str:
        # Not nested inside the other _() call: Babel's extractor would not see it there.
        nobody = _("a moderator")
        return _(
            "Your time-limited membership of <b>{group}</b> ends on {date}. If you continue to "
            "work with colleagues in the country, ask your sponsor ({sponsor}) to extend it; "
            "otherwise you leave the group on that day, with thanks.",
            group=esc(group.title),
            date=day_text(end),
            sponsor=esc(sponsor_name or nobody),
        )

    await _write(context, entry.user.id, expiry_notice)
    handle = f"@{entry.user.username}" if entry.user.username else name

    def ask() -> str:
        return _(
            "The membership of {name} in <b>{group}</b> ends on {date}. Extend it? Or send "
            "<code>/extend {handle} 30d</code> (or a date), at most {days} days from today.",
            name=esc(name),
            group=esc(group.title),
            date=day_text(end),
            handle=esc(handle),
            days=policy.out_of_country_max.days,
        )

    row_id = entry.row.id

    def buttons() -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Extend by {days} days", days=EXTEND_BUTTON_DAYS),
                        callback_data=f"lc:ext:{row_id}",
                    ),
                    InlineKeyboardButton(_("Let it end"), callback_data=f"lc:end:{row_id}"),
                ]
            ]
        )

    # Each reader gets the question and the buttons in their own language.
    if sponsor is not None and await send_private(context, sponsor.id, ask, reply_markup=buttons):
        return

    def ask_moderators() -> str:
        why = (
            _(
                "I cannot write to their sponsor {sponsor} privately, so I ask the moderators.",
                sponsor=esc(sponsor.display_name),
            )
            if sponsor is not None
            else _("They have no sponsor on record, so I ask the moderators.")
        )
        return "\n".join([ask(), why])

    await tell_moderators(context, ask_moderators, buttons)


async def sponsor_lost(
    context: BotContext, group: GroupConfig, entry: Entry, policy: Policy
) -> None:
    services = context.services
    now = services.clock.now()
    intro = entry.intro
    with services.db.transaction() as session:
        if not LifecycleRepository(session).claim_sponsor_lost(
            entry.row.id, now, intro.end_date if intro else None
        ):
            return
        old = (
            RosterRepository(session).user(intro.sponsor_id) if intro and intro.sponsor_id else None
        )
    deadline = when_text(now + policy.sponsor_grace, policy)
    old_name = old.display_name if old else _("unknown")
    row_id = entry.row.id
    with use_locale(_language(services, entry.user.id)):
        button = InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Name a new sponsor"), callback_data=f"lc:ns:{row_id}")]]
        )
    reached = await _write(
        context,
        entry.user.id,
        lambda: _(
            "Your sponsor {sponsor} is no longer a member working in the country, and "
            "out-of-country members of <b>{group}</b> need one. Please name a new sponsor by "
            "{deadline}; otherwise you leave the group then, with thanks.",
            sponsor=esc(old_name),
            group=esc(group.title),
            deadline=deadline,
        ),
        button,
    )
    await tell_moderators(
        context,
        _(
            "{name} (outside the country) lost their sponsor {sponsor} in <b>{group}</b>. "
            "They need a new sponsor by {deadline}, or they will be removed.{unreached}",
            name=esc(name_of(entry.user, intro)),
            sponsor=esc(old_name),
            group=esc(group.title),
            deadline=deadline,
            unreached="" if reached else _(" I cannot write to them privately."),
        ),
    )


def _checkin_buttons(row_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_("Yes, still here"), callback_data=f"lc:ci:{row_id}:y")],
            [InlineKeyboardButton(_("I am leaving soon"), callback_data=f"lc:ci:{row_id}:soon")],
            [
                InlineKeyboardButton(
                    _("I have left the country"), callback_data=f"lc:ci:{row_id}:gone"
                )
            ],
        ]
    )


def _checkin_question(group: GroupConfig, policy: Policy, asked: datetime) -> str:
    return _(
        "A quick check for <b>{group}</b>: are you still working on the response in the "
        "country? Please answer by {deadline}.",
        group=esc(group.title),
        deadline=when_text(asked + policy.checkin_grace, policy),
    )


async def ask_checkin(
    context: BotContext, group: GroupConfig, entry: Entry, policy: Policy
) -> bool:
    """Ask privately; False when the member cannot be written to (mentioned in the group)."""
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        if not LifecycleRepository(session).claim_checkin(
            entry.row.id, entry.row.checkin_asked_at, now
        ):
            return True
    with use_locale(_language(services, entry.user.id)):
        text, buttons = _checkin_question(group, policy, now), _checkin_buttons(entry.row.id)
    return await send_private(context, entry.user.id, text, reply_markup=buttons)


async def act(
    context: BotContext, group: GroupConfig, policy: Policy, entry: Entry, step: Step
) -> bool:
    """Carry out one step; False when a check-in could not be delivered privately."""
    match step.kind:
        case Kind.REMOVE:
            assert step.cause is not None
            await end_membership(context, group, entry.row.id, entry.user.id, step.cause)
        case Kind.ASK_DEPARTURE:
            await ask_departure(context, group, entry, policy)
        case Kind.NOTIFY_EXPIRY:
            await notify_expiry(context, group, entry, policy)
        case Kind.SPONSOR_LOST:
            await sponsor_lost(context, group, entry, policy)
        case Kind.SPONSOR_BACK:
            with context.services.db.transaction() as session:
                LifecycleRepository(session).clear_sponsor_lost(
                    entry.row.id, context.services.clock.now()
                )
        case Kind.ASK_CHECKIN:
            return await ask_checkin(context, group, entry, policy)
        case Kind.NOTHING:
            pass
    return True


async def run_member(context: BotContext, group: GroupConfig, user_id: int) -> None:
    """Do at once whatever is due for one member (after they or a moderator changed something)."""
    services = context.services
    policy = policy_of(services, group)
    now = services.clock.now()
    with services.db.transaction() as session:
        entry = LifecycleRepository(session).entry(group.chat_id, user_id, now, _trusted(services))
    if entry is not None:
        await act(context, group, policy, entry, next_step(entry.facts, policy, now))


# --------------------------------------------------------------------------- the sweep
async def sweep(app: App) -> None:
    """Everything due in every group, once: safe to run as often as wanted, and after downtime."""
    services = services_of(app)
    context = BotContext(app)
    for group in services.settings.groups:
        policy = policy_of(services, group)
        now = services.clock.now()
        with services.db.transaction() as session:
            RosterRepository(session).ensure_group(group.chat_id, group.title)
            entries = LifecycleRepository(session).entries(group.chat_id, now, _trusted(services))
        unreached: list[Entry] = []
        for entry in entries:
            step = next_step(entry.facts, policy, now)
            if step.kind is Kind.NOTHING:
                continue
            try:
                if not await act(context, group, policy, entry, step):
                    unreached.append(entry)
            except TelegramError as exc:  # one member's trouble must not stop the others
                log.warning("lifecycle %s for %s failed: %s", step.kind, entry.user.id, exc)
        await _mention_unreached(context, group, unreached)
    await erase_former_members(context)


async def _mention_unreached(context: BotContext, group: GroupConfig, people: list[Entry]) -> None:
    """One group message for everyone whose check-in could not be sent privately."""
    for start in range(0, len(people), MENTIONS_PER_MESSAGE):
        batch = people[start : start + MENTIONS_PER_MESSAGE]
        mentions = ", ".join(mention(e.user.id, name_of(e.user, e.intro)) for e in batch)
        await context.bot.send_message(
            group.chat_id,
            _(
                "{mentions}: a quick check that you still work on the response in the country. "
                "Please tap the button to answer privately.",
                mentions=mentions,
            ),
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton(_("Answer privately"), url=deep_link(context, "checkin"))]]
            ),
        )


async def erase_former_members(context: BotContext) -> None:
    """Personal data of people who left every group more than ``retention`` ago is erased."""
    services = context.services
    now = services.clock.now()
    settings = services.settings
    default = settings.groups[0].membership.retention
    with services.db.transaction() as session:
        repo = LifecycleRepository(session)
        due = [
            user_id
            for user_id, memberships in repo.former_members().items()
            if user_id not in settings.moderators
            and not repo.is_partner(user_id)
            and erase_due(
                [m.left_at for m in memberships],
                False,
                max(
                    (g.membership.retention if (g := settings.group(m.chat_id)) else default)
                    for m in memberships
                ),
                now,
            )
        ]
    for user_id in due:
        with services.db.transaction() as session:
            LifecycleRepository(session).erase(user_id, now)
        log.info("erased the personal data of a former member after the retention period")


# --------------------------------------------------------------------------- /leaving
def _looks_like_date(words: list[str], today: date) -> bool:
    if not words or words[0].startswith("@"):
        return False
    if len(words) == 1 and words[0].casefold() == "cancel":
        return True
    try:
        parse_date(" ".join(words), today)
    except InputError:
        return False
    return True


async def leaving(update: Update, context: BotContext) -> None:
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    services = context.services
    args = list(context.args or [])
    is_moderator = await may_moderate(update, context)
    group = _group_for(services, update, user.id)
    today = today_of(services, group)
    replied = message.reply_to_message is not None and not message.is_topic_message
    about_someone = replied or (bool(args) and not _looks_like_date(args, today))
    if not is_moderator:
        if replied or (args and args[0].startswith("@")):
            await message.reply_text(
                _(
                    "Only moderators can set someone else's departure date. Send me /leaving "
                    "DATE privately for your own."
                )
            )
            return
        about_someone = False
    if about_someone:
        try:
            target = resolve_target(services, group.chat_id, message, args)
        except TargetError as error:
            await message.reply_text(str(error))
            return
        await _set_departure(update, context, group, target, target.rest, user.id)
        return
    if chat.type != Chat.PRIVATE:
        await message.reply_text(
            _("Please tell me your departure date privately: send me /leaving DATE."),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("Open a private chat"), url=deep_link(context, "leaving")
                        )
                    ]
                ]
            ),
        )
        return
    me = Target(user.id, user.full_name, user.username)
    await _set_departure(update, context, group, me, args, user.id)


async def _set_departure(
    update: Update,
    context: BotContext,
    group: GroupConfig,
    target: Target,
    words: list[str],
    actor_id: int,
) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    policy = policy_of(services, group)
    own = target.user_id == actor_id
    if target.is_bot:
        await message.reply_text(_("Bots do not leave the country."))
        return
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(group.chat_id, target.user_id)
        row = LifecycleRepository(session).row_for(group.chat_id, target.user_id)
        current = row.departure_date if row and row.departure_asked_at is None else None
    if membership is None or not membership.present:
        await message.reply_text(
            _("You are not a member of {group}.", group=esc(group.title))
            if own
            else _(
                "{name} is not a member of {group}.", name=esc(target.name), group=esc(group.title)
            )
        )
        return
    if not words:
        if current is not None:
            await message.reply_text(
                _(
                    "Departure date on record: {date}. Send /leaving DATE to change it or "
                    "/leaving cancel to remove it.",
                    date=day_text(current),
                )
            )
        else:
            await message.reply_text(
                _(
                    "Tell me the day you leave the country, e.g. /leaving 2026-12-20, "
                    "/leaving 20 Dec or /leaving in 3 weeks."
                )
            )
        return
    today = today_of(services, group)
    cancel = len(words) == 1 and words[0].casefold() == "cancel"
    day: date | None = None
    if not cancel:
        try:
            day = check_departure(parse_date(" ".join(words), today), today)
        except InputError as error:
            await message.reply_text(esc(error))
            return
    now = services.clock.now()
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        membership = roster.membership(group.chat_id, target.user_id)
        assert membership is not None
        repo = LifecycleRepository(session)
        row = repo.ensure(membership, now)
        repo.set_departure(row, day, actor_id, now)
        status = membership.status.value
        repo.record(
            group.chat_id,
            target.user_id,
            now,
            f"departure date set: {day.isoformat()}" if day else "departure date cancelled",
            actor_id,
            status,
            status,
        )
    if day is None:
        await message.reply_text(
            _("Done: no departure date on record.")
            if own
            else _("Done: no departure date on record for {name}.", name=esc(target.name))
        )
        return
    at = when_text(act_time(day, policy), policy)
    if own:
        await message.reply_text(
            _(
                "Understood: you leave the country on <b>{date}</b>. On that day ({at}) I will "
                "ask you whether you keep supporting colleagues in the country. Send /leaving "
                "cancel if your plans change.",
                date=day_text(day),
                at=at,
            )
        )
    else:
        await message.reply_text(
            _(
                "Understood: {name} leaves the country on <b>{date}</b>. I will ask them "
                "privately on that day ({at}).",
                name=esc(target.name),
                date=day_text(day),
                at=at,
            )
        )
        await _write(
            context,
            target.user_id,
            lambda: _(
                "A moderator recorded that you leave the country on <b>{date}</b>. If that is "
                "wrong, send me /leaving DATE or /leaving cancel.",
                date=day_text(day),
            ),
        )
    await run_member(context, group, target.user_id)


async def _leaving_link(update: Update, context: BotContext, _argument: str) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            _(
                "Tell me the day you leave the country, e.g. /leaving 2026-12-20, "
                "/leaving 20 Dec or /leaving in 3 weeks."
            )
        )


# --------------------------------------------------------------------------- departure answers
def _own_row(services: Services, row_id: int, user_id: int) -> MemberLifecycle | None:
    with services.db.transaction() as session:
        row = LifecycleRepository(session).row(row_id)
    return row if row is not None and row.user_id == user_id else None


async def _departure_link(update: Update, context: BotContext, argument: str) -> None:
    """The deep link from the group: the departure question, privately."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    row = _own_row(context.services, int(argument), user.id) if argument.isdigit() else None
    group = context.services.settings.group(row.chat_id) if row else None
    if row is None or group is None or row.departure_asked_at is None or row.departure_answer:
        await message.reply_text(_("There is no open question for you."))
        return
    policy = policy_of(context.services, group)
    await message.reply_text(
        _departure_question(group, row, policy), reply_markup=_departure_buttons(row.id)
    )


async def departure_no(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    row = _own_row(services, int(query.data.split(":")[2]), query.from_user.id)
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None:
        await query.answer(_("This question is not for you."), show_alert=True)
        return
    with services.db.transaction() as session:
        answered = LifecycleRepository(session).answer_departure(
            row.id, Answer.LEAVE, services.clock.now()
        )
    if not answered:
        await query.answer(_("This question is already answered."), show_alert=True)
        return
    await query.answer()
    context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    await query.edit_message_text(_("You answered: you leave the group. Thank you!"))
    await end_membership(
        context, group, row.id, row.user_id, Cause.DEPARTURE_DECLINED, actor_id=row.user_id
    )


async def departure_yes(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    row = _own_row(services, int(query.data.split(":")[2]), query.from_user.id)
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None:
        await query.answer(_("This question is not for you."), show_alert=True)
        return ConversationHandler.END
    if row.departure_answer != Answer.STAY.value:
        with services.db.transaction() as session:
            answered = LifecycleRepository(session).answer_departure(
                row.id, Answer.STAY, services.clock.now()
            )
        if not answered:
            await query.answer(_("This question is already answered."), show_alert=True)
            return ConversationHandler.END
    await query.answer()
    context.user_data[FORM] = {"row": row.id, "chat_id": group.chat_id}  # type: ignore[index]
    policy = policy_of(services, group)
    latest = today_of(services, group) + policy.out_of_country_max
    await query.edit_message_text(_("You answered: you keep supporting colleagues. Thank you!"))
    await query.message.chat.send_message(  # type: ignore[union-attr]
        _(
            "Until when will you support colleagues in the country? Type the end date (at most "
            "{days} days: on or before {latest}), e.g. 2026-12-20, 20 Dec or in 6 weeks. "
            "/cancel to stop.",
            days=policy.out_of_country_max.days,
            latest=day_text(latest),
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Until {date}", date=f"{latest:%d %b %Y}"),
                        callback_data=f"lc:max:{row.id}",
                    )
                ]
            ]
        ),
    )
    return OOC_END


def _form(context: BotContext) -> dict[str, Any]:
    return context.user_data.setdefault(FORM, {})  # type: ignore[union-attr, no-any-return]


async def ooc_end(update: Update, context: BotContext) -> int:
    form = _form(context)
    services = context.services
    group = services.settings.group(form.get("chat_id", 0))
    chat = update.effective_chat
    if group is None or chat is None:
        return ConversationHandler.END
    policy = policy_of(services, group)
    today = today_of(services, group)
    if update.callback_query is not None:
        await update.callback_query.answer()
        end = today + policy.out_of_country_max
    else:
        text = update.effective_message.text if update.effective_message else ""
        try:
            end = parse_date(text or "", today)
        except InputError as error:
            await chat.send_message(esc(error))
            return OOC_END
        problem = ooc_end_problem(end, today, policy.out_of_country_max)
        if problem:
            await chat.send_message(esc(problem))
            return OOC_END
    with services.db.transaction() as session:
        LifecycleRepository(session).set_pending_end(form["row"], end, services.clock.now())
    form["end"] = end.isoformat()
    await _ask_for_sponsor(update, context, form)
    return OOC_SPONSOR


async def _ask_for_sponsor(update: Update, context: BotContext, form: dict[str, Any]) -> None:
    services = context.services
    chat = update.effective_chat
    assert chat is not None
    user_id = update.effective_user.id  # type: ignore[union-attr]
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(form["chat_id"], user_id)
        original = (
            RosterRepository(session).user(intro.sponsor_id) if intro and intro.sponsor_id else None
        )
    buttons = None
    if original is not None and not _sponsor_ok_for(
        services, form["chat_id"], original.id, user_id
    ):
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("{name} (your sponsor)", name=original.display_name)[:60],
                        callback_data=f"lc:who:{original.id}",
                    )
                ]
            ]
        )
    text = (
        _(
            "Until <b>{date}</b>. Who sponsors you in the country? It must be a member who "
            "works in the country; they confirm with one tap. Type their @username or name, "
            "or press the button.",
            date=day_text(date.fromisoformat(form["end"])),
        )
        if buttons
        else _(
            "Until <b>{date}</b>. Who sponsors you in the country? It must be a member who "
            "works in the country; they confirm with one tap. Type their @username or name.",
            date=day_text(date.fromisoformat(form["end"])),
        )
    )
    await chat.send_message(text, reply_markup=buttons)


async def ooc_sponsor(update: Update, context: BotContext) -> int:
    form = _form(context)
    services = context.services
    chat, user = update.effective_chat, update.effective_user
    group = services.settings.group(form.get("chat_id", 0))
    if group is None or chat is None or user is None or "end" not in form:
        return ConversationHandler.END
    query = update.callback_query
    if query is not None and query.data is not None:
        await query.answer()
        words = [query.data.rsplit(":", 1)[1]]
    else:
        words = ((update.effective_message.text if update.effective_message else "") or "").split()
    try:
        target = resolve_target(services, group.chat_id, None, words[:4])
    except TargetError as error:
        await chat.send_message(str(error))
        return OOC_SPONSOR
    problem = _sponsor_ok_for(services, group.chat_id, target.user_id, user.id)
    if problem:
        await chat.send_message(
            _(
                "Sorry, {name} cannot sponsor you: {why}. Please name someone else.",
                name=esc(target.name),
                why=esc(problem),
            )
        )
        return OOC_SPONSOR
    end = date.fromisoformat(form["end"])
    policy = policy_of(services, group)
    with services.db.transaction() as session:
        member = RosterRepository(session).user(user.id)
        intro = IntroductionRepository(session).introduction(group.chat_id, user.id)
    member_name = name_of(member, intro, user.id)
    row_id = form["row"]
    with use_locale(_language(services, target.user_id)):
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("I sponsor them"), callback_data=f"lc:sp:{row_id}:y"),
                    InlineKeyboardButton(_("No"), callback_data=f"lc:sp:{row_id}:n"),
                ]
            ]
        )
    reached = await _write(
        context,
        target.user_id,
        lambda: _(
            "{name} works outside the country from now on but keeps directly supporting IM "
            "colleagues here, until {date}. They ask you to sponsor their out-of-country "
            "membership of <b>{group}</b>. Do you?",
            name=mention(user.id, member_name),
            date=day_text(end),
            group=esc(group.title),
        ),
        buttons,
    )
    if not reached:
        await chat.send_message(
            _(
                "I cannot write to {name}: they have not started a chat with me. Ask them to "
                "send me /start, then name them again — or name someone else.",
                name=esc(target.name),
            )
        )
        return OOC_SPONSOR
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = LifecycleRepository(session)
        repo.ask_sponsor(row_id, target.user_id, end, now)
        row = repo.row(row_id)
    facts_deadline = (row.pending_since or now) + policy.sponsor_grace if row else now
    context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    await chat.send_message(
        _(
            "I asked {name} to confirm. I will tell you when they answer; without a confirmed "
            "sponsor by {deadline} you leave the group, with thanks.",
            name=esc(target.name),
            deadline=when_text(facts_deadline, policy),
        )
    )
    return ConversationHandler.END


async def new_sponsor(update: Update, context: BotContext) -> int:
    """ "Name a new sponsor": after the sponsor left, or after a named sponsor said no."""
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    row = _own_row(services, int(query.data.split(":")[2]), query.from_user.id)
    group = services.settings.group(row.chat_id) if row else None
    with services.db.transaction() as session:
        intro = (
            IntroductionRepository(session).introduction(row.chat_id, row.user_id) if row else None
        )
    end = (row.pending_end_date if row else None) or (intro.end_date if intro else None)
    open_ = (
        row is not None
        and (row.sponsor_lost_at is not None or row.departure_answer == Answer.STAY.value)
        and row.removal_outcome is None
    )
    if row is None or group is None or end is None or not open_:
        await query.answer(_("There is nothing to do here any more."), show_alert=True)
        return ConversationHandler.END
    await query.answer()
    form = {"row": row.id, "chat_id": group.chat_id, "end": end.isoformat()}
    context.user_data[FORM] = form  # type: ignore[index]
    await _ask_for_sponsor(update, context, form)
    return OOC_SPONSOR


async def cancel(update: Update, context: BotContext) -> int:
    context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            _("Stopped. You can answer again with the buttons on my question.")
        )
    return ConversationHandler.END


async def sponsor_answer(update: Update, context: BotContext) -> None:
    """The named sponsor confirms (one tap) or declines."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, _kind, raw_id, answer = query.data.split(":")
    services = context.services
    sponsor = query.from_user
    with services.db.transaction() as session:
        row = LifecycleRepository(session).row(int(raw_id))
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None or row.pending_sponsor_id != sponsor.id:
        await query.answer(_("This request is not for you, or no longer open."), show_alert=True)
        return
    member_id = row.user_id
    if answer == "n":
        with services.db.transaction() as session:
            LifecycleRepository(session).decline_sponsor(row.id, sponsor.id, services.clock.now())
        await query.answer()
        await query.edit_message_text(_("Understood; I will tell them."))
        with use_locale(_language(services, member_id)):
            button = InlineKeyboardMarkup(
                [[InlineKeyboardButton(_("Name another sponsor"), callback_data=f"lc:ns:{row.id}")]]
            )
        await _write(
            context,
            member_id,
            lambda: _(
                "{name} cannot sponsor you. Please name another member who works in the country.",
                name=esc(sponsor.full_name),
            ),
            button,
        )
        return
    problem = _sponsor_ok_for(services, group.chat_id, sponsor.id, member_id)
    now = services.clock.now()
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(group.chat_id, member_id)
        if problem is None and (membership is None or not membership.present):
            problem = _("they are no longer in the group")
        end = None
        if problem is None:
            assert membership is not None
            intros = IntroductionRepository(session)
            intro = intros.introduction(group.chat_id, member_id) or _veteran_intro(
                session, group.chat_id, member_id, membership.joined_at, now
            )
            before = intro.category.value if intro.category else Category.IN_COUNTRY.value
            lost = row.sponsor_lost_at is not None
            end = LifecycleRepository(session).confirm_sponsor(row.id, sponsor.id, intro, now)
            if end is not None:
                LifecycleRepository(session).record(
                    group.chat_id,
                    member_id,
                    now,
                    (
                        f"sponsor: new sponsor {sponsor.id} confirmed, out_of_country until "
                        f"{end.isoformat()}"
                        if lost
                        else f"departure: {before} -> out_of_country until {end.isoformat()}, "
                        f"sponsor {sponsor.id} confirmed"
                    ),
                    sponsor.id,
                    membership.status.value,
                    membership.status.value,
                )
    if problem is not None or end is None:
        await query.answer(
            _("Sorry, this cannot be done: {why}.", why=problem or _("no longer open")),
            show_alert=True,
        )
        return
    await query.answer()
    with services.db.transaction() as session:
        member = RosterRepository(session).user(member_id)
        intro_now = IntroductionRepository(session).introduction(group.chat_id, member_id)
    await query.edit_message_text(
        _(
            "Thank you! You sponsor {name} as an out-of-country member until {date}.",
            name=esc(name_of(member, intro_now, member_id)),
            date=day_text(end),
        )
    )
    await _write(
        context,
        member_id,
        lambda: _(
            "{sponsor} confirmed: you stay in <b>{group}</b> as an out-of-country member until "
            "{date}. Before then you and your sponsor will be asked whether to extend it.",
            sponsor=esc(sponsor.full_name),
            group=esc(group.title),
            date=day_text(end),
        ),
    )


def _veteran_intro(
    session: Any, chat_id: int, user_id: int, joined_at: datetime, now: datetime
) -> Introduction:
    """Members from before the bot have no introduction row; category changes need one."""
    user = RosterRepository(session).user(user_id)
    intro = Introduction(
        chat_id=chat_id,
        user_id=user_id,
        status=IntroStatus.COMPLETE,
        sponsor_note="member before the bot",
        first_name=user.first_name[:64] if user and user.last_name else None,
        last_name=user.last_name[:64] if user and user.last_name else None,
        category=Category.IN_COUNTRY,
        joined_at=joined_at,
        reminders_sent=0,
        created_at=now,
        updated_at=now,
    )
    session.add(intro)
    session.flush()
    return intro


# --------------------------------------------------------------------------- check-in answers
async def checkin_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, _kind, raw_id, answer = query.data.split(":")
    services = context.services
    row = _own_row(services, int(raw_id), query.from_user.id)
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None:
        await query.answer(_("This question is not for you."), show_alert=True)
        return
    await query.answer()
    now = services.clock.now()
    policy = policy_of(services, group)
    if answer == "gone":
        today = today_of(services, group)
        with services.db.transaction() as session:
            repo = LifecycleRepository(session)
            stored = repo.row(row.id)
            assert stored is not None
            repo.checked_in(row.id, now)
            repo.set_departure(stored, today, row.user_id, now)
            repo.record(
                group.chat_id,
                row.user_id,
                now,
                f"departure date set: {today.isoformat()} (check-in: has left the country)",
                row.user_id,
                None,
                "departing",
            )
        await query.edit_message_text(_("Thank you for telling me."))
        await run_member(context, group, row.user_id)
        return
    with services.db.transaction() as session:
        LifecycleRepository(session).checked_in(row.id, now)
    _record(services, group.chat_id, row.user_id, "check-in: still in the country", row.user_id)
    if answer == "soon":
        await query.edit_message_text(
            _(
                "Thank you! Send me /leaving DATE with the day you leave the country "
                "(e.g. /leaving 20 Dec) and I will ask you then what happens next."
            )
        )
        return
    await query.edit_message_text(
        _(
            "Thank you! I will ask again in about {days} days.",
            days=policy.checkin_every.days,
        )
    )


async def _checkin_link(update: Update, context: BotContext, _argument: str) -> None:
    """The deep link from the group message: each open check-in of this person, privately."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    services = context.services
    now = services.clock.now()
    asked = False
    for group in services.settings.groups:
        with services.db.transaction() as session:
            entry = LifecycleRepository(session).entry(
                group.chat_id, user.id, now, _trusted(services)
            )
        if entry is None or not entry.facts.checkin_outstanding:
            continue
        asked_at = entry.row.checkin_asked_at
        assert asked_at is not None
        policy = policy_of(services, group)
        await message.reply_text(
            _checkin_question(group, policy, asked_at),
            reply_markup=_checkin_buttons(entry.row.id),
        )
        asked = True
    if not asked:
        await message.reply_text(_("There is no open question for you. Thank you!"))


# --------------------------------------------------------------------------- /leave
async def leave(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    groups = _present_groups(context.services, user.id)
    if not groups:
        await message.reply_text(_("You are not a member of any group I run."))
        return
    rows = [
        [
            InlineKeyboardButton(
                _("Yes, take me out of {group}", group=g.title)[:60],
                callback_data=f"lc:leave:{g.chat_id}",
            )
        ]
        for g in groups
    ]
    rows.append([InlineKeyboardButton(_("No, I stay"), callback_data="lc:leave:0")])
    await message.reply_text(
        _(
            "Do you want to leave the group? You can come back later through a sponsor. (If "
            "you leave the country but keep supporting colleagues here, use /leaving instead.)"
        ),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def leave_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    chat_id = int(query.data.rsplit(":", 1)[1])
    services = context.services
    group = services.settings.group(chat_id)
    await query.answer()
    if group is None:
        await query.edit_message_text(_("Good: nothing changes."))
        return
    user_id = query.from_user.id
    now = services.clock.now()
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(chat_id, user_id)
        row_id = (
            LifecycleRepository(session).ensure(membership, now).id
            if membership is not None and membership.present
            else None
        )
    if row_id is None:
        await query.edit_message_text(_("You are no longer in {group}.", group=esc(group.title)))
        return
    with services.db.transaction() as session:
        row = LifecycleRepository(session).row(row_id)
        if row is not None:
            LifecycleRepository(session).reset(row, now)
    result = await end_membership(context, group, row_id, user_id, Cause.VOLUNTARY, user_id)
    text = {
        Removal.REMOVED: _(
            "Done: you have left {group}. Thank you, and welcome back any time through a sponsor.",
            group=esc(group.title),
        ),
        Removal.NOT_PRESENT: _("You are no longer in {group}.", group=esc(group.title)),
        Removal.PROTECTED: _(
            "You are an admin of {group}, so I cannot take you out; leave it in Telegram "
            "(group info → Leave group).",
            group=esc(group.title),
        ),
        Removal.FAILED: _(
            "I could not take you out of {group} right now; the moderators have been told. "
            "You can also leave it in Telegram (group info → Leave group).",
            group=esc(group.title),
        ),
    }
    await query.edit_message_text(text[result] if result else _("Already done."))


# --------------------------------------------------------------------------- /extend
def _parse_extension(words: list[str], today: date) -> tuple[timedelta | None, date | None]:
    text = " ".join(words)
    try:
        by = parse_duration(text)
    except DurationError:
        return None, parse_date(text, today)
    if by < timedelta(days=1):
        raise InputError(_("Please extend by whole days, e.g. 30d or 2w."))
    return by, None


async def extend_membership(
    context: BotContext,
    group: GroupConfig,
    member_id: int,
    actor_id: int,
    by: timedelta | None,
    until: date | None,
) -> str:
    """Extend a time-limited membership (sponsor or moderator); the reply text, escaped."""
    services = context.services
    policy = policy_of(services, group)
    today = today_of(services, group)
    now = services.clock.now()
    is_moderator = await current_role(context, actor_id, group.chat_id) is Role.MODERATOR
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(group.chat_id, member_id)
        user = RosterRepository(session).user(member_id)
        intro = IntroductionRepository(session).introduction(group.chat_id, member_id)
        name = name_of(user, intro, member_id)
        if membership is None or not membership.present:
            return _("{name} is not a member of {group}.", name=esc(name), group=esc(group.title))
        if not is_moderator and (intro is None or intro.sponsor_id != actor_id):
            return _(
                "Only the sponsor of {name} or a moderator can extend their membership.",
                name=esc(name),
            )
        try:
            end = extended_end(
                intro.category if intro else None,
                intro.end_date if intro else None,
                today,
                policy.out_of_country_max,
                by,
                until,
            )
        except InputError as error:
            return _("{name}: {problem}", name=esc(name), problem=esc(error))
        assert intro is not None
        before = intro.end_date
        intro.end_date, intro.updated_at = end, now
        repo = LifecycleRepository(session)
        row = repo.ensure(membership, now)
        row.expiry_notice_for = None
        row.removal_cause = row.removal_outcome = row.removal_attempted_at = None
        repo.record(
            group.chat_id,
            member_id,
            now,
            f"{'moderator' if is_moderator else 'sponsor'}: extended from "
            f"{before.isoformat() if before else '?'} to {end.isoformat()}",
            actor_id,
            membership.status.value,
            membership.status.value,
        )
    if member_id != actor_id:
        await _write(
            context,
            member_id,
            lambda: _(
                "Good news: your membership of <b>{group}</b> now runs until {date}.",
                group=esc(group.title),
                date=day_text(end),
            ),
        )
    return _(
        "Done: the membership of {name} now runs until {date}.",
        name=esc(name),
        date=day_text(end),
    )


async def extend(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    args = list(context.args or [])
    group = _group_for(services, update, user.id)
    try:
        target = resolve_target(services, group.chat_id, message, args)
    except TargetError as error:
        await message.reply_text(str(error))
        return
    if not target.rest:
        await message.reply_text(
            _("By how long? For example /extend @username 30d, or /extend @username 2027-02-15.")
        )
        return
    try:
        by, until = _parse_extension(target.rest, today_of(services, group))
    except InputError as error:
        await message.reply_text(esc(error))
        return
    await message.reply_text(
        await extend_membership(context, group, target.user_id, user.id, by, until)
    )


async def expiry_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, kind, raw_id = query.data.split(":")
    services = context.services
    with services.db.transaction() as session:
        row = LifecycleRepository(session).row(int(raw_id))
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None:
        await query.answer(_("This is no longer open."), show_alert=True)
        return
    await query.answer()
    if kind == "end":
        await query.edit_message_text(_("Understood: the membership ends as planned."))
        return
    text = await extend_membership(
        context, group, row.user_id, query.from_user.id, timedelta(days=EXTEND_BUTTON_DAYS), None
    )
    await query.edit_message_text(text)


# --------------------------------------------------------------------------- moderators
@moderators_only
async def expiring(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    try:
        window = parse_duration(context.args[0]) if context.args else timedelta(days=30)
    except DurationError as error:
        await message.reply_text(esc(error))
        return
    now = services.clock.now()
    lines: list[str] = []
    for group in services.settings.groups:
        policy = policy_of(services, group)
        today = today_of(services, group)
        with services.db.transaction() as session:
            entries = LifecycleRepository(session).entries(group.chat_id, now, _trusted(services))
            roster = RosterRepository(session)
            names = {
                e.intro.sponsor_id: u.display_name
                for e in entries
                if e.intro and e.intro.sponsor_id and (u := roster.user(e.intro.sponsor_id))
            }
        items: list[tuple[datetime, str]] = []
        for e in entries:
            f, who = e.facts, mention(e.user.id, name_of(e.user, e.intro))
            deadline = departure_deadline(f, policy)
            if f.removal_outcome in (Outcome.PROTECTED, Outcome.FAILED):
                items.append(
                    (
                        now,
                        _(
                            "⚠ {who}: removal ({cause}) refused by Telegram ({outcome}) — "
                            "needs you",
                            who=who,
                            cause=esc(f.removal_cause.value if f.removal_cause else "?"),
                            outcome=esc(f.removal_outcome.value),
                        ),
                    )
                )
            elif deadline is not None:
                waiting = (
                    _("waiting for sponsor confirmation")
                    if f.pending_sponsor_id
                    else _("waiting for their answer")
                )
                items.append(
                    (
                        deadline,
                        _(
                            "{who}: departed; {waiting}; leaves {when} otherwise",
                            who=who,
                            waiting=waiting,
                            when=when_text(deadline, policy),
                        ),
                    )
                )
            elif f.departure_date is not None and f.departure_date <= today + timedelta(
                days=window.days
            ):
                items.append(
                    (
                        act_time(f.departure_date, policy),
                        _(
                            "{who}: leaves the country {date}",
                            who=who,
                            date=f"{f.departure_date:%a %-d %b %Y}",
                        ),
                    )
                )
            if f.category is Category.OUT_OF_COUNTRY and not f.sponsor_ok:
                lost = sponsor_deadline(f, policy) or now
                items.append(
                    (
                        lost,
                        _(
                            "{who}: outside the country without a sponsor; removed {when} "
                            "unless a new sponsor confirms",
                            who=who,
                            when=when_text(lost, policy),
                        ),
                    )
                )
            ends = expiry_at(f, policy)
            if ends is not None and f.end_date is not None and ends <= now + window:
                items.append(
                    (
                        ends,
                        _(
                            "{who}: {category} until {date}; sponsor {sponsor}",
                            who=who,
                            category=esc(f.category.label if f.category else ""),
                            date=f"{f.end_date:%a %-d %b %Y}",
                            sponsor=esc(names.get(f.sponsor_id or 0, "—")),
                        ),
                    )
                )
        lines.append(
            _(
                "<b>{group}</b>: departures and expiries in the next {days} days",
                group=esc(group.title),
                days=window.days,
            )
        )
        lines.extend(f"• {text}" for _when, text in sorted(items, key=lambda i: i[0]))
        if not items:
            lines.append(_("nothing coming up"))
    for chunk in chunk_lines(lines):
        await message.reply_text(chunk)


@moderators_only
async def stale(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    now = services.clock.now()
    lines: list[str] = []
    for group in services.settings.groups:
        policy = policy_of(services, group)
        with services.db.transaction() as session:
            entries = LifecycleRepository(session).entries(group.chat_id, now, _trusted(services))
        found = [
            (since, e) for e in entries if (since := stale_since(e.facts, policy, now)) is not None
        ]
        lines.append(
            _(
                "<b>{group}</b>: members who did not answer the check-in within {days} days",
                group=esc(group.title),
                days=policy.checkin_grace.days,
            )
        )
        for _since, e in sorted(found, key=lambda i: i[0]):
            asked = e.row.checkin_asked_at
            assert asked is not None
            lines.append(
                _(
                    "• {who} — asked {date}{unreachable}",
                    who=mention(e.user.id, name_of(e.user, e.intro)),
                    date=f"{asked.astimezone(policy.timezone):%a %-d %b %Y}",
                    unreachable="" if e.user.reachable else _(" (cannot be written to privately)"),
                )
            )
        if not found:
            lines.append(_("everyone answered"))
        lines.append(
            _("They are removed automatically.")
            if policy.checkin_removes
            else _("They are not removed automatically (checkin_removes is off).")
        )
    for chunk in chunk_lines(lines):
        await message.reply_text(chunk)


@moderators_only
async def readmit(update: Update, context: BotContext) -> None:
    """Undo a removal: lift any ban and make a fresh sponsored link, pre-filled as before."""
    message, moderator = update.effective_message, update.effective_user
    assert message is not None and moderator is not None
    services = context.services
    group = _group_for(services, update, moderator.id)
    try:
        target = resolve_target(services, group.chat_id, message, list(context.args or []))
    except TargetError as error:
        await message.reply_text(str(error))
        return
    today = today_of(services, group)
    policy = policy_of(services, group)
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        membership = roster.membership(group.chat_id, target.user_id)
        user = roster.user(target.user_id)
        intro = IntroductionRepository(session).introduction(group.chat_id, target.user_id)
        mine = roster.membership(group.chat_id, moderator.id)
    if membership is not None and membership.present:
        await message.reply_text(
            _("{name} is still a member of {group}.", name=esc(target.name), group=esc(group.title))
        )
        return
    if user is None:
        await message.reply_text(_("I know nothing about that person any more."))
        return
    category, end = Category.IN_COUNTRY, None
    if target.rest:
        try:
            end = parse_date(" ".join(target.rest), today)
        except InputError as error:
            await message.reply_text(esc(error))
            return
        category = (
            Category.OUT_OF_COUNTRY
            if intro is not None and intro.category is Category.OUT_OF_COUNTRY
            else Category.SURGE
        )
        problem = (
            ooc_end_problem(end, today, policy.out_of_country_max)
            if category is Category.OUT_OF_COUNTRY
            else (_("The end date must be in the future.") if end <= today else None)
        )
        if problem:
            await message.reply_text(esc(problem))
            return
    try:
        await context.bot.unban_chat_member(group.chat_id, target.user_id, only_if_banned=True)
    except TelegramError as exc:
        log.info("could not lift a ban on %s: %s", target.user_id, exc)
    first = (intro.first_name if intro and intro.first_name else user.first_name)[:64]
    last = (intro.last_name if intro and intro.last_name else user.last_name or "")[:64]
    form = {
        "mode": "invite",
        "chat_id": group.chat_id,
        "first_name": first,
        "last_name": last,
        "organisation": (intro.organisation if intro and intro.organisation else "")[:100],
        "role": (intro.role if intro and intro.role else "")[:100],
        "cluster": intro.cluster if intro else None,
        "location": intro.location if intro else None,
        "category": category,
        "end_date": end,
        "reason": intro.reason if intro and category is Category.OUT_OF_COUNTRY else None,
    }
    await _create_invitation(update, context, form)
    with services.db.transaction() as session:
        invitation = next(
            (
                i
                for i in IntroductionRepository(session).open_invitations(moderator.id)
                if i.chat_id == group.chat_id
                and i.link_url
                and (i.first_name, i.last_name) == (first, last)
            ),
            None,
        )
    if invitation is None or invitation.link_url is None:
        return  # _create_invitation has explained what went wrong
    _record(
        services,
        group.chat_id,
        target.user_id,
        "moderator: readmission offered with a fresh sponsored link",
        moderator.id,
    )
    sent = user.reachable and await _write(
        context,
        target.user_id,
        lambda: _(
            "A moderator invites you back to <b>{group}</b>. This link works once: {link}",
            group=esc(group.title),
            link=esc(invitation.link_url),
        ),
    )
    notes = [
        _("I sent the link to {name}.", name=esc(target.name))
        if sent
        else _("I cannot write to {name}: please forward the link.", name=esc(target.name))
    ]
    if mine is None or not mine.present:
        notes.append(
            _(
                "You are not a member of the group yourself, so when they join they are held "
                "until a moderator presses “I sponsor them”."
            )
        )
    await message.reply_text(" ".join(notes))


def register(app: App) -> None:
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    private = filters.ChatType.PRIVATE
    private_text = private & filters.TEXT & ~filters.COMMAND
    app.add_handler(
        ConversationHandler(
            entry_points=[
                CallbackQueryHandler(departure_yes, pattern=r"^lc:dep:\d{1,12}:y$"),
                CallbackQueryHandler(new_sponsor, pattern=r"^lc:ns:\d{1,12}$"),
            ],
            states={
                OOC_END: [
                    MessageHandler(private_text, ooc_end),
                    CallbackQueryHandler(ooc_end, pattern=r"^lc:max:\d{1,12}$"),
                ],
                OOC_SPONSOR: [
                    MessageHandler(private_text, ooc_sponsor),
                    CallbackQueryHandler(ooc_sponsor, pattern=r"^lc:who:\d{1,15}$"),
                ],
            },
            fallbacks=[
                cast(
                    "BaseHandler[Update, BotContext, object]",
                    CommandHandler("cancel", cancel, filters=private),
                )
            ],
            allow_reentry=True,
            name="out-of-country",
        )
    )
    app.add_handler(CallbackQueryHandler(departure_no, pattern=r"^lc:dep:\d{1,12}:n$"))
    app.add_handler(CallbackQueryHandler(sponsor_answer, pattern=r"^lc:sp:\d{1,12}:[yn]$"))
    app.add_handler(CallbackQueryHandler(checkin_answer, pattern=r"^lc:ci:\d{1,12}:(y|soon|gone)$"))
    app.add_handler(CallbackQueryHandler(expiry_button, pattern=r"^lc:(ext|end):\d{1,12}$"))
    app.add_handler(CallbackQueryHandler(leave_answer, pattern=r"^lc:leave:-?\d{1,20}$"))
    app.add_handler(CommandHandler("leaving", leaving))
    app.add_handler(CommandHandler("leave", leave, filters=private))
    app.add_handler(CommandHandler("extend", extend))
    app.add_handler(CommandHandler("expiring", expiring, filters=private))
    app.add_handler(CommandHandler("stale", stale, filters=private))
    app.add_handler(CommandHandler("readmit", readmit, filters=private))
    add_deep_link(app, "departure", _departure_link)
    add_deep_link(app, "checkin", _checkin_link)
    add_deep_link(app, "leaving", _leaving_link)


SWEEPS = [Sweep("lifecycle", timedelta(minutes=15), sweep)]
