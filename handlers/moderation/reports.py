"""/report: members flag a message; the moderators decide from one entry per message.

``/report`` (a reply, in a group) checks the message may be reported (not the bot's, not one's
own, not a moderator's), removes the command from the group so the reported member cannot see
who reported them, rate-limits the reporter (``moderation.report_rate``) and counts them once per
message (``storage.reports``). The moderators get **one entry per reported message** — in the log
chat when one is set, else privately each moderator who started the bot — edited as more members
report it, each reporter shown with how many of their reports were dismissed. With
``report_hide_after`` N, the N-th distinct reporter has the message deleted pending review.
The entry's buttons (moderators of that group only): Delete, Warn (the ladder, as /warn), Mute
(``report_mute``), Dismiss; each taken once (a conditional update), Dismiss only while nothing
else was done and nothing else after a Dismiss.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from config.schema import GroupConfig
from handlers.common import current_role, personal_language, send_private
from handlers.mentions import moderator_ids
from handlers.moderation.actions import delete, held, mute
from handlers.moderation.common import Outcome, language_of, names_of, record, when
from handlers.moderation.logchat import note_action
from handlers.moderation.render import (
    Muted,
    ReportDecision,
    ReportEntry,
    ReportReporter,
    muted_private,
    report_text,
)
from handlers.moderation.warnings import give_warning
from handlers.render import esc
from handlers.topics import answer_in_topic
from i18n import _, duration_text, ngettext, use_locale
from moderation.audit_details import length_detail
from moderation.channels import is_channel_id
from moderation.permissions import Role
from moderation.reports import (
    NotReportable,
    ReportedMessage,
    hides_the_message,
    over_report_rate,
    why_not_reportable,
)
from runtime.context import BotContext, Services
from storage.models import Report
from storage.reports import DISMISS, ReportRepository

log = logging.getLogger(__name__)

CB_REPORT = "rp"
DATA = re.compile(rf"^{CB_REPORT}:(\d{{1,18}}):(del|warn|mute|{DISMISS})$")


# --------------------------------------------------------------------------- the entry
def _link(chat_id: int, message_id: int) -> str | None:
    text = str(chat_id)
    return f"https://t.me/c/{text[4:]}/{message_id}" if text.startswith("-100") else None


def _buttons(report: Report, taken: set[str]) -> InlineKeyboardMarkup | None:
    if report.status == "dismissed":
        return None
    offered = [
        ("del", _("🗑 Delete")),
        ("warn", _("⚠️ Warn")),
        ("mute", _("🔇 Mute")),
        (DISMISS, _("✖️ Dismiss")),
    ]
    row = [
        InlineKeyboardButton(label, callback_data=f"{CB_REPORT}:{report.id}:{key}")
        for key, label in offered
        if key not in taken
        and not (key == "del" and report.hidden)
        and not (key == DISMISS and report.status != "open")
    ]
    return InlineKeyboardMarkup([row]) if row else None


def render_entry(
    services: Services, report_id: int
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The entry's text and buttons as they are now (in the current locale)."""
    with services.db.transaction() as session:
        repo = ReportRepository(session)
        report = repo.report(report_id)
        if report is None:
            return None
        reporters = repo.reporters(report_id)
        decisions = list(repo.decisions(report_id))
    group = services.settings.group(report.chat_id)
    ids = {report.author_id} | {r.user_id for r in reporters} | {d.by_id for d in decisions}
    names = names_of(services, ids)

    def name(user_id: int) -> str:
        return names.get(user_id, str(user_id))

    entry = ReportEntry(
        group=group.title if group else str(report.chat_id),
        author=name(report.author_id),
        link=_link(report.chat_id, report.message_id),
        excerpt=report.excerpt,
        reporters=tuple(ReportReporter(name(r.user_id), r.dismissed) for r in reporters),
        hidden=report.hidden,
        decisions=tuple(
            ReportDecision(d.decision, name(d.by_id), when(services, group, d.at) if group else "")
            for d in decisions
        ),
    )
    return report_text(entry), _buttons(report, {d.decision for d in decisions})


async def _show(
    context: BotContext, report_id: int, group: GroupConfig, first: bool = False
) -> None:
    """Post the entry (``first``: this call made the report) or edit every copy of it."""
    services = context.services
    with services.db.transaction() as session:
        posts = ReportRepository(session).posts(report_id)
    if not first:
        for chat_id, message_id in posts:
            with use_locale(_reader_language(services, chat_id)):
                rendered = render_entry(services, report_id)
            if rendered is None:
                return
            try:
                await context.bot.edit_message_text(
                    rendered[0], chat_id, message_id, reply_markup=rendered[1]
                )
            except TelegramError as exc:
                if "not modified" not in exc.message.lower():
                    log.warning("cannot edit report entry %s in %s: %s", report_id, chat_id, exc)
        return
    log_chat = services.settings.moderation.log_chat_id
    targets = [log_chat] if log_chat is not None else sorted(moderator_ids(services, group.chat_id))
    for chat_id in targets:
        with use_locale(_reader_language(services, chat_id)):
            rendered = render_entry(services, report_id)
        if rendered is None:
            return
        sent: Message | None
        if chat_id == log_chat:
            try:
                sent = await context.bot.send_message(
                    chat_id, rendered[0], reply_markup=rendered[1]
                )
            except TelegramError as exc:
                log.warning("cannot write to the moderation log chat %s: %s", chat_id, exc)
                continue
        else:
            sent = await _send_private_message(context, chat_id, rendered[0], rendered[1])
        if isinstance(sent, Message):
            with services.db.transaction() as session:
                ReportRepository(session).add_post(report_id, chat_id, sent.message_id)


async def _send_private_message(
    context: BotContext, user_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> Message | None:
    """Privately, returning the message (to edit it later); None for one who cannot be reached."""
    try:
        return await context.bot.send_message(user_id, text, reply_markup=markup)
    except TelegramError as exc:
        log.info("moderator %s cannot get a report privately: %s", user_id, exc)
        return None


def _reader_language(services: Services, chat_id: int) -> str | None:
    return personal_language(services, chat_id) if chat_id > 0 else None


# --------------------------------------------------------------------------- /report
async def _tell(update: Update, context: BotContext, user_id: int, text: str) -> None:
    """Privately when possible (nobody sees who reported), else a note in the group that names
    no one and answers no message."""
    if not await send_private(context, user_id, text):
        await answer_in_topic(update, text)


def _facts(context: BotContext, target: Message, chat_id: int) -> ReportedMessage:
    """What Telegram says about who wrote the reported message (moderators checked later)."""
    sender = target.sender_chat
    if sender is not None and sender.id == chat_id:
        return ReportedMessage(None, anonymous_admin=True)
    if sender is not None and sender.type == Chat.CHANNEL:
        return ReportedMessage(sender.id)
    author = target.from_user
    if author is None or target.forum_topic_created is not None:
        return ReportedMessage(None)
    return ReportedMessage(author.id, by_the_bot=author.id == context.bot.id)


def _refusal_text(why: NotReportable) -> str:
    match why:
        case NotReportable.MODERATORS:
            return _(
                "Messages of the moderators cannot be reported; please write to another "
                "moderator if something is wrong."
            )
        case NotReportable.NO_AUTHOR:
            return _("Please reply with /report to the message you want to report.")
        case NotReportable.THE_BOT:
            return _("That is my own message; please tell a moderator if it is wrong.")
        case NotReportable.OWN:
            return _("You cannot report your own message.")


async def report_command(update: Update, context: BotContext) -> None:
    message, reporter, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or reporter is None or chat is None:
        return
    services = context.services
    group = services.settings.group(chat.id)
    if group is None:
        return
    target = message.reply_to_message
    if target is None:
        await message.reply_text(_("Please reply with /report to the message you want to report."))
        return
    facts = _facts(context, target, chat.id)
    why = why_not_reportable(facts, reporter.id)
    author_id = facts.author_id
    if why is None and author_id is not None and not is_channel_id(author_id):
        # Asked of Telegram only for a message that could otherwise be reported.
        moderator = await current_role(context, author_id, group.chat_id) is Role.MODERATOR
        why = why_not_reportable(dataclasses.replace(facts, by_a_moderator=moderator), reporter.id)
    if why is not None or author_id is None:
        await message.reply_text(_refusal_text(why or NotReportable.NO_AUTHOR))
        return
    # From here on the reporter stays unseen: the command leaves the group.
    await delete(context, group, message.message_id)
    policy = services.settings.moderation
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = ReportRepository(session)
        if repo.has_voted(group.chat_id, target.message_id, reporter.id):
            already = True
        else:
            already = False
            recent = repo.votes_since(reporter.id, now - policy.report_rate.per)
    if already:
        await _tell(
            update,
            context,
            reporter.id,
            _("You already reported that message; the moderators have it."),
        )
        return
    if over_report_rate(recent, policy.report_rate.reports):
        await _tell(
            update,
            context,
            reporter.id,
            ngettext(
                "You can report at most {n} message per {per}. Please try again later, or write "
                "to a moderator.",
                "You can report at most {n} messages per {per}. Please try again later, or write "
                "to a moderator.",
                policy.report_rate.reports,
                per=duration_text(policy.report_rate.per),
            ),
        )
        return
    excerpt = (target.text or target.caption or "")[:300]
    with services.db.transaction() as session:
        repo = ReportRepository(session)
        report, new, created = repo.vote(
            group.chat_id, target.message_id, author_id, excerpt, reporter.id, now
        )
        report_id = report.id
        count = len(repo.reporters(report_id))
        hide = hides_the_message(new, count, policy.report_hide_after) and repo.mark_hidden(
            report_id
        )
    if hide:
        outcome = await delete(context, group, target.message_id)
        if outcome not in (Outcome.DONE, Outcome.NOT_PRESENT):  # still shown: say so, retry
            with services.db.transaction() as session:
                ReportRepository(session).unhide(report_id)
        record(
            services,
            group,
            "report_hide",
            author_id,
            detail=f"{count} reports" + ("" if outcome is Outcome.DONE else f", {outcome.value}"),
        )
    await _show(context, report_id, group, first=created)
    await _tell(
        update,
        context,
        reporter.id,
        _(
            "Thank you: the moderators of {group} have been told about that message.",
            group=esc(group.title),
        ),
    )


# --------------------------------------------------------------------------- the buttons
def report_group(services: Services, data: str) -> int | None:
    """The group a report is about (the scope of the moderator check)."""
    match = DATA.match(data)
    if match is None:
        return None
    with services.db.transaction() as session:
        report = ReportRepository(session).report(int(match.group(1)))
    return None if report is None else report.chat_id


async def _carry_out(
    context: BotContext, group: GroupConfig, report: Report, decision: str, by_id: int
) -> str | None:
    """Do what the button says; None when done, else why not (plain text)."""
    services = context.services
    user_id = report.author_id
    name = names_of(services, {user_id}).get(user_id, str(user_id))
    reason = _("reported message")
    if decision == "del":
        if not report.hidden:
            outcome = await delete(context, group, report.message_id)
            if outcome not in (Outcome.DONE, Outcome.NOT_PRESENT):
                return _(
                    "I could not delete that message (it may be over 48 hours old, or I "
                    "lack the right to delete messages)."
                )
        record(services, group, "report_delete", user_id, actor_id=by_id, reason=reason)
    elif decision == "warn":
        if is_channel_id(user_id):
            return _("A channel cannot be warned; use Delete or Mute.")
        await give_warning(context, group, user_id, name, by_id, reason)
    elif decision == "mute":
        if held(services, group, user_id):
            return _("{name} is already read-only until their introduction is complete.", name=name)
        length = services.settings.moderation.report_mute
        outcome, until = await mute(context, group, user_id, length, "manual", by_id, reason)
        if outcome is not Outcome.DONE:
            return _("Telegram refused that; nothing was changed. Please try again later.")
        action = record(
            services,
            group,
            "mute",
            user_id,
            actor_id=by_id,
            reason=reason,
            detail=length_detail(length),
            until=until,
        )
        if not is_channel_id(user_id):
            with use_locale(language_of(services, user_id)):
                private = muted_private(
                    Muted(user_id, name, group.title, length, reason), when(services, group, until)
                )
            await send_private(context, user_id, private)
        await note_action(context, action)
    else:
        record(services, group, "report_dismiss", user_id, actor_id=by_id)
    return None


async def decide_button(update: Update, context: BotContext) -> None:
    """A moderator pressed Delete, Warn, Mute or Dismiss (the moderator check ran before)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    match = DATA.match(query.data)
    report = None
    message = query.message
    if match is not None and message is not None:
        with services.db.transaction() as session:
            repo = ReportRepository(session)
            found = repo.report(int(match.group(1)))
            if found is not None and repo.posted_at(found.id, message.chat.id, message.message_id):
                report = found
    group = None if report is None else services.settings.group(report.chat_id)
    if match is None or report is None or group is None:
        await query.answer(_("Sorry, that button is not valid."), show_alert=True)
        return
    decision = match.group(2)
    now = services.clock.now()
    with services.db.transaction() as session:
        taken = ReportRepository(session).decide(report.id, decision, query.from_user.id, now)
    if not taken:
        await query.answer(_("That was already decided."), show_alert=True)
        await _show(context, report.id, group)
        return
    problem = await _carry_out(context, group, report, decision, query.from_user.id)
    if problem is not None:
        with services.db.transaction() as session:
            ReportRepository(session).undecide(report.id, decision)
        await query.answer(problem, show_alert=True)
        return
    await _show(context, report.id, group)
    await query.answer(_("Done."))
