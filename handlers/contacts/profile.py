"""/profile: a person's own directory entry and its sharing levels."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ConversationHandler,
)

from handlers.contacts.shared import defaults
from handlers.render import esc
from i18n import (
    N_,
    _,
)
from moderation.contacts import (
    FIELDS,
    InvalidValue,
    Level,
    clean_text,
    field_label,
    level_label,
    normalise_email,
    normalise_handle,
    normalise_phone,
    split_clusters,
)
from runtime.context import BotContext
from storage.contacts import (
    ContactRepository,
    ContactValues,
    decode_levels,
    values_of,
)

# ============================================================================== /profile
STEPS: list[tuple[str, str]] = [
    ("name", N_("Your full name, as colleagues know you")),
    ("organisation", N_("Your organisation")),
    ("role", N_("Your role in the response (e.g. IMO, cluster coordinator)")),
    ("clusters", N_("Your cluster(s), separated by commas")),
    ("location", N_("Where you work (admin area or city)")),
    ("phone", N_("Your phone number, with the country code (e.g. +380 44 123 4567)")),
    ("email", N_("Your work e-mail")),
    ("telegram", N_("Your Telegram username (e.g. @olena_k)")),
    ("focal_point", N_("Are you your organisation's focal point? (yes/no)")),
]
# "yes" and "no" in every language the bot speaks, for the focal point question.
YES = {"yes", "y", "так", "т", "oui", "o", "نعم"}
NO = {"no", "n", "ні", "н", "non", "لا"}
TYPING, LEVELS = range(2)
DRAFT = "contact_profile"
ORDER = list(Level)


def _parse(field: str, text: str, region: str | None) -> str:
    if field == "phone":
        return normalise_phone(text, region)
    if field == "email":
        return normalise_email(text)
    if field == "telegram":
        return normalise_handle(text)
    if field == "clusters":
        return ", ".join(split_clusters(text))
    if field == "focal_point":
        answer = text.strip().lower()
        if answer not in YES | NO | {_("yes"), _("no")}:
            raise InvalidValue(_("please answer yes or no"))
        return "yes" if answer in YES or answer == _("yes") else ""
    value = clean_text(text, 200)
    if field == "name" and len(value) < 2:
        raise InvalidValue(_("a name needs at least 2 characters"))
    return value


def _draft(context: BotContext) -> dict[str, Any]:
    data: dict[str, Any] = context.user_data.setdefault(DRAFT, {})  # type: ignore[union-attr]
    return data


async def _ask_step(update: Update, context: BotContext) -> int:
    draft = _draft(context)
    step = draft["step"]
    field, question = STEPS[step]
    current = draft["values"].get(field, "")
    lines = [
        _("({step}/{steps}) {question}.", step=step + 1, steps=len(STEPS), question=_(question))
    ]
    if field != "name":
        lines.append(_("Send - to leave it empty."))
    if current:
        lines.append(_("Now: <i>{value}</i> — send /skip to keep it.", value=esc(current)))
    lines.append(_("/cancel stops without saving."))
    message = update.effective_message
    assert message is not None
    await message.reply_text("\n".join(lines))
    return TYPING


async def profile_start(update: Update, context: BotContext) -> int:
    user = update.effective_user
    assert user is not None
    services = context.services
    with services.db.transaction() as session:
        own = ContactRepository(session).by_user(user.id)
        values = values_of(own) if own else {"name": user.full_name}
        levels = decode_levels(own.levels, defaults(services)) if own else defaults(services)
    context.user_data[DRAFT] = {  # type: ignore[index]
        "step": 0,
        "values": values,
        "levels": {k: v.value for k, v in levels.items()},
    }
    return await _ask_step(update, context)


async def profile_text(update: Update, context: BotContext) -> int:
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = _draft(context)
    if "step" not in draft:
        return ConversationHandler.END
    field = STEPS[draft["step"]][0]
    text = message.text
    if text.strip() == "/skip":
        pass
    elif text.strip() == "-" and field != "name":
        draft["values"][field] = ""
    else:
        try:
            draft["values"][field] = _parse(
                field, text, context.services.settings.contacts.default_phone_region
            )
        except InvalidValue as exc:
            await message.reply_text(
                _("Sorry: {problem}. Try again, or /cancel.", problem=esc(exc))
            )
            return TYPING
    draft["step"] += 1
    if draft["step"] < len(STEPS):
        return await _ask_step(update, context)
    await message.reply_text(_levels_text(draft), reply_markup=_levels_keyboard(draft))
    return LEVELS


def _levels_text(draft: dict[str, Any]) -> str:
    return _(
        "<b>Who may see each detail?</b> Tap a detail to change its level.\n"
        "{public} = every group member · {cluster} = your cluster(s) and moderators · "
        "{coordinators} = moderators and your cluster's coordinators · {private} = only "
        "people you say yes to.\nSaving lists you in the directory; /forgetme removes you at "
        "any time.",
        public=level_label("public"),
        cluster=level_label("cluster"),
        coordinators=level_label("coordinators"),
        private=level_label("private"),
    )


def _levels_keyboard(draft: dict[str, Any]) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                _("{field}: {level}", field=field_label(f), level=level_label(draft["levels"][f])),
                callback_data=f"pl:{f}",
            )
        ]
        for f in FIELDS
    ]
    rows.append(
        [
            InlineKeyboardButton(_("Save"), callback_data="pl:save"),
            InlineKeyboardButton(_("Cancel"), callback_data="pl:cancel"),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def profile_level(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    draft = _draft(context)
    choice = query.data.removeprefix("pl:")
    if "levels" not in draft:
        await query.answer(_("This form has expired; send /profile again."))
        return ConversationHandler.END
    if choice == "cancel":
        return await _cancelled(update, context)
    if choice == "save":
        return await _save_profile(update, context)
    if choice not in FIELDS:
        await query.answer(_("Unknown choice."))
        return LEVELS
    current = Level(draft["levels"][choice])
    draft["levels"][choice] = ORDER[(ORDER.index(current) + 1) % len(ORDER)].value
    await query.answer()
    await query.edit_message_text(_levels_text(draft), reply_markup=_levels_keyboard(draft))
    return LEVELS


async def _save_profile(update: Update, context: BotContext) -> int:
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    draft = context.user_data.pop(DRAFT, {})  # type: ignore[union-attr]
    values: dict[str, str] = draft["values"]
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        ContactRepository(session).save_profile(
            user.id,
            ContactValues(
                name=values.get("name", "") or user.full_name,
                organisation=values.get("organisation", ""),
                role=values.get("role", ""),
                clusters=tuple(split_clusters(values.get("clusters", ""))),
                location=values.get("location", ""),
                phone=values.get("phone", ""),
                email=values.get("email", ""),
                telegram=values.get("telegram", ""),
                focal_point=values.get("focal_point") == "yes",
            ),
            {k: Level(v) for k, v in draft["levels"].items()},
            now,
        )
    await query.answer(_("Saved"))
    await query.edit_message_text(
        _(
            "Saved. You are in the contact directory; colleagues see only what your levels "
            "allow, and must ask you for the rest. /mydata shows who has seen your details."
        )
    )
    return ConversationHandler.END


async def _cancelled(update: Update, context: BotContext) -> int:
    context.user_data.pop(DRAFT, None)  # type: ignore[union-attr]
    text = _("Cancelled; nothing was changed.")
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(text)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return ConversationHandler.END


async def profile_cancel(update: Update, context: BotContext) -> int:
    return await _cancelled(update, context)
