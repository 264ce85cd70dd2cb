"""What the moderation log stores about an action, free of any language, and how each reader
sees it in their own.

The bot's own words about an action (``warning 4 in 30 days; muted for 1 day``, ``could not
delete: no right``, ``8 messages in 30 seconds``) are stored as a small JSON record
(``{"k": "warning", "n": 4, "window": 2592000, "penalty": "mute", "length": 86400}``) and
written out when someone reads ``/audit`` (or the log chat), so a Ukrainian moderator reads
Ukrainian and an Arab moderator Arabic. What people typed (a reason, a banned word that was
found) is stored as typed. Rows written before this were stored as text; they are shown as
stored, and a bare length in the configuration's notation (``1d``) is written in words.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from i18n import _, duration_text, ngettext, use_locale
from moderation.durations import DurationError, parse_duration
from moderation.lifecycle import Cause

DETAIL_MAX = 255  # the column's width


def _record(kind: str, **values: object) -> str:
    text = json.dumps({"k": kind, **values}, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= DETAIL_MAX else ""


def warning_detail(
    count: int, window: timedelta, penalty: str | None, length: timedelta | None, failed: str
) -> str:
    """The nth warning in the window, and the step it triggered (``failed``: why it did not
    happen, an outcome code, or "")."""
    return _record(
        "warning",
        n=count,
        window=int(window.total_seconds()),
        penalty=penalty,
        length=int(length.total_seconds()) if length else None,
        failed=failed,
    )


def escalation_detail(count: int) -> str:
    return _record("escalation", n=count)


def still_counting_detail(left: int) -> str:
    return _record("counting", n=left)


def purge_detail(done: int, asked: int) -> str:
    return _record("purge", done=done, asked=asked)


def not_done_detail(action: str, why: str) -> str:
    """``action`` is "delete" or "mute"; ``why`` an outcome code ("no right", …)."""
    return _record("not_done", action=action, why=why)


def flood_detail(count: int, per: timedelta, length: timedelta) -> str:
    return _record(
        "flood", n=count, per=int(per.total_seconds()), length=int(length.total_seconds())
    )


def length_detail(length: timedelta) -> str:
    return _record("length", s=int(length.total_seconds()))


def intro_incomplete_detail() -> str:
    return _record("intro_incomplete")


def removal_detail(cause: str) -> str:
    """An automatic removal (or one decided outside the moderation commands) and its cause."""
    return _record("removal", cause=cause[:200])


# --------------------------------------------------------------------------- reading
def penalty_words(penalty: str, length: timedelta | None) -> str:
    """``muted for 1 day`` / ``banned`` / ``removed (they may come back through a sponsor)``."""
    if penalty == "mute" and length is not None:
        return _("muted for {duration}", duration=duration_text(length))
    if penalty == "ban":
        return _("banned")
    return _("removed (they may come back through a sponsor)")


def outcome_words(why: str) -> str:
    """Why Telegram did not let the bot act, in words."""
    words = {
        "not present": _("they are not in the group"),
        "protected": _("they are an admin or the owner"),
        "no right": _("I lack the admin right"),
        "failed": _("Telegram refused"),
    }
    return words.get(why, why)


_WHY = ("not present", "protected", "no right", "failed")
_CAUSES = (
    "introduction overdue",
    "held newcomer removed by a moderator",
    *(cause.value for cause in Cause),
)


def cause_words(cause: str) -> str:
    """Why a membership ended, as a moderator reads it in /audit."""
    words = {
        "introduction overdue": _("the introduction was not completed in time"),
        "held newcomer removed by a moderator": _("a held newcomer, removed by a moderator"),
        Cause.DEPARTURE_DECLINED.value: _("they are leaving the country"),
        Cause.DEPARTURE_UNANSWERED.value: _("no answer on their departure date in time"),
        Cause.NO_SPONSOR_CONFIRMED.value: _(
            "no sponsor confirmed their out-of-country membership in time"
        ),
        Cause.EXPIRED.value: _("their time-limited membership reached its end date"),
        Cause.SPONSOR_LOST.value: _("no new sponsor in the country was found in time"),
        Cause.CHECKIN_UNANSWERED.value: _("no answer to the check-in in time"),
        Cause.VOLUNTARY.value: _("they asked to leave"),
    }
    return words.get(cause, cause)


def _seconds(value: Any) -> timedelta | None:
    return timedelta(seconds=value) if isinstance(value, int) and value > 0 else None


def detail_text(stored: str) -> str:
    """A stored detail as the current reader reads it."""
    try:
        record = json.loads(stored) if stored.startswith("{") else None
    except ValueError:
        record = None
    if not isinstance(record, dict):
        try:
            return duration_text(parse_duration(stored))
        except DurationError:
            return stored  # text stored before details were language-free, or typed text
    return _render(record) or stored


def _render(record: dict[str, Any]) -> str | None:
    kind, n = record.get("k"), record.get("n")
    if kind == "warning" and isinstance(n, int) and (window := _seconds(record.get("window"))):
        text = _("warning {n} in {window}", n=n, window=duration_text(window))
        penalty = record.get("penalty")
        if isinstance(penalty, str):
            step = penalty_words(penalty, _seconds(record.get("length")))
            failed = record.get("failed")
            if failed:
                step = _("{penalty} failed: {why}", penalty=step, why=outcome_words(str(failed)))
            text += "; " + step
        return text
    if kind == "escalation" and isinstance(n, int):
        return _("escalation after {n} warnings", n=n)
    if kind == "counting" and isinstance(n, int):
        return _("{n} still counting", n=n)
    if kind == "purge":
        return _(
            "{done} deleted of {asked} asked", done=record.get("done"), asked=record.get("asked")
        )
    if kind == "not_done":
        why = outcome_words(str(record.get("why", "")))
        if record.get("action") == "mute":
            return _("could not mute: {why}", why=why)
        return _("could not delete: {why}", why=why)
    if kind == "flood" and isinstance(n, int) and (per := _seconds(record.get("per"))):
        text = ngettext("{n} message in {per}", "{n} messages in {per}", n, per=duration_text(per))
        length = _seconds(record.get("length"))
        return f"{text}; {penalty_words('mute', length)}" if length else text
    if kind == "length" and (length := _seconds(record.get("s"))):
        return duration_text(length)
    if kind == "removal":
        return cause_words(str(record.get("cause", "")))
    if kind == "intro_incomplete":
        return _("introduction incomplete")
    return None


# --------------------------------------------------------------------------- the catalog check
# Words that stay as they are in every language.
_UNTRANSLATED = frozenset({"Telegram"})
_WORD = re.compile(r"[A-Za-z]{3,}")


def samples() -> list[str]:
    """One stored detail of every kind the bot records (for ``imbot i18n check``)."""
    day, month = timedelta(days=1), timedelta(days=30)
    return [
        warning_detail(2, month, None, None, ""),
        warning_detail(3, month, "mute", day, ""),
        warning_detail(4, month, "remove", None, "no right"),
        warning_detail(5, month, "ban", None, "protected"),
        escalation_detail(4),
        still_counting_detail(2),
        purge_detail(4, 5),
        *(not_done_detail(action, why) for action in ("delete", "mute") for why in _WHY),
        flood_detail(8, timedelta(seconds=30), timedelta(minutes=10)),
        length_detail(day),
        intro_incomplete_detail(),
        *(removal_detail(cause) for cause in _CAUSES),
    ]


def _own_words(language: str) -> set[str]:
    """Every Latin-letter word in the language's translations: its own words, not leaks."""
    from i18n.catalog import load  # the catalog check only: Babel's .po reader, not at start

    words: set[str] = set()
    for message in load(language):
        forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
        for form in forms:
            words.update(_WORD.findall(form or ""))
    return words


def english_leaks(language: str) -> list[str]:
    """Audit lines that still carry English words when read in ``language``: strings composed
    outside the catalog, or translations missing. Empty when every detail is translated."""
    leaks: list[str] = []
    own = _own_words(language)  # words the language itself uses ("minutes", "date" in French)
    for stored in samples():
        with use_locale("en"):
            english = set(_WORD.findall(detail_text(stored)))
        with use_locale(language):
            shown = detail_text(stored)
        left = (english & set(_WORD.findall(shown))) - _UNTRANSLATED - own
        if left:
            leaks.append(
                f"{language}: English in an audit detail ({', '.join(sorted(left))}): {shown}"
            )
    return leaks
