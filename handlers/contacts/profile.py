"""/profile: a person's own directory entry and its sharing levels.

A form on the forms engine (handlers/forms.py): the answers so far are a ``ProfileDraft`` in
the ``forms`` table, so a restart or another replica continues it. One step per detail (the
step is the detail's name), then ``levels``: a button per detail turns its level, *Save*
writes the entry. Buttons carry ``pl:<serial>:<value>`` and are checked against the stored form.
"""

from __future__ import annotations

from pydantic import Field
from telegram import InlineKeyboardMarkup, Update

from handlers.contacts.shared import defaults
from handlers.forms import Form, FormState, Step, Turn
from handlers.render import esc
from handlers.webapp import with_open_row
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
LEVELS = "levels"
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


class ProfileDraft(FormState):
    """The entry being written: the details so far and each detail's sharing level."""

    values: dict[str, str] = Field(default_factory=dict)
    levels: dict[str, Level] = Field(default_factory=dict)


def check_level(field: object, level: object) -> tuple[str, Level]:
    """A detail and a sharing level as chosen (the form's buttons, the Mini App's), or
    InvalidValue: only the directory's details, only its levels."""
    if not isinstance(field, str) or field not in FIELDS:
        raise InvalidValue(_("Unknown choice."))
    if not isinstance(level, str) or level not in ORDER:
        raise InvalidValue(_("Unknown choice."))
    return field, Level(level)


def _ask(turn: Turn[ProfileDraft], index: int) -> str:
    field, question = STEPS[index]
    current = turn.state.values.get(field, "")
    lines = [
        _("({step}/{steps}) {question}.", step=index + 1, steps=len(STEPS), question=_(question))
    ]
    if field != "name":
        lines.append(_("Send - to leave it empty."))
    if current:
        lines.append(_("Now: <i>{value}</i> — send /skip to keep it.", value=esc(current)))
    lines.append(_("/cancel stops without saving."))
    # The first question also offers the Mini App's profile screen (when it is configured).
    markup = with_open_row(turn.services, None, screen="profile") if index == 0 else None
    turn.say("\n".join(lines), markup)
    return field


async def opening(turn: Turn[ProfileDraft]) -> str | None:
    """The person's entry as it is (or just their name), then the first question."""
    services = turn.services
    own = ContactRepository(turn.session).by_user(turn.user_id)
    user = turn.update.effective_user
    assert user is not None
    turn.state = ProfileDraft(
        values=values_of(own) if own else {"name": user.full_name},
        levels=decode_levels(own.levels, defaults(services)) if own else defaults(services),
    )
    return _ask(turn, 0)


async def answered(turn: Turn[ProfileDraft]) -> str | None:
    """A detail typed (or ``-`` to empty it, or /skip to keep it); the next question, or the
    levels once the last detail is in."""
    index = next(i for i, (f, _q) in enumerate(STEPS) if f == turn.step)
    field = STEPS[index][0]
    text = (turn.text or "").strip()
    if text.split("@")[0] == "/skip":
        pass
    elif text == "-" and field != "name":
        turn.state.values[field] = ""
    else:
        try:
            turn.state.values[field] = _parse(
                field, turn.text or "", turn.services.settings.contacts.default_phone_region
            )
        except InvalidValue as exc:
            turn.say(_("Sorry: {problem}. Try again, or /cancel.", problem=esc(exc)))
            return field
    if index + 1 < len(STEPS):
        return _ask(turn, index + 1)
    turn.say(_levels_text(), _levels_keyboard(turn))
    return LEVELS


def _levels_text() -> str:
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


def _levels_keyboard(turn: Turn[ProfileDraft]) -> InlineKeyboardMarkup:
    levels = turn.state.levels
    rows = [
        [(_("{field}: {level}", field=field_label(f), level=level_label(levels[f])), f)]
        for f in FIELDS
    ]
    rows.append([(_("Save"), "save"), (_("Cancel"), "cancel")])
    return turn.keyboard(rows)


async def level_pressed(turn: Turn[ProfileDraft]) -> str | None:
    """A detail's button turns its level; *Save* writes the entry; *Cancel* drops the form."""
    choice = turn.value or ""
    if choice == "cancel":
        turn.edit(_("Cancelled; nothing was changed."))
        return None
    if choice == "save":
        _save(turn)
        return None
    current = turn.state.levels.get(choice, Level.PRIVATE)
    try:
        field, level = check_level(choice, ORDER[(ORDER.index(current) + 1) % len(ORDER)])
    except InvalidValue as exc:
        turn.toast = str(exc)
        return LEVELS
    turn.state.levels[field] = level
    turn.edit(_levels_text(), _levels_keyboard(turn))
    return LEVELS


def _save(turn: Turn[ProfileDraft]) -> None:
    """The entry written in the press's own unit of work."""
    values = turn.state.values
    user = turn.update.effective_user
    assert user is not None
    ContactRepository(turn.session).save_profile(
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
        dict(turn.state.levels),
        turn.now,
    )
    turn.toast = _("Saved")
    turn.edit(
        _(
            "Saved. You are in the contact directory; colleagues see only what your levels "
            "allow, and must ask you for the rest. /mydata shows who has seen your details."
        )
    )


PROFILE_FORM = Form(
    kind="profile",
    prefix="pl",
    model=ProfileDraft,
    opening=opening,
    steps={field: Step(on_text=answered) for field, _q in STEPS}
    | {LEVELS: Step(on_button=level_pressed)},
    expired=lambda state: _("This form has expired; send /profile again."),
    commands=frozenset({"skip"}),
    cancelled=lambda: _("Cancelled; nothing was changed."),
)


async def profile_start(update: Update, context: BotContext) -> None:
    """/profile in private: (re)open the form with the person's entry as it is."""
    await PROFILE_FORM.start(update, context, ProfileDraft())
