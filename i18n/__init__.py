"""Translations: every user-facing string goes through ``_()`` or ``ngettext()``.

The catalogs are gettext ``.po`` files under ``i18n/locales/<lang>/LC_MESSAGES/imbot.po``,
compiled with Babel at first use (no compiled ``.mo`` files to keep in step in the repository).
The compiled catalog is kept beside the ``.po``, named after a hash of its text
(``imbot.<hash>.mo``), so that later starts read it instead of parsing the ``.po`` again
(~0.2 s of CPU at every start); an edited ``.po`` has another hash and is compiled afresh.

The language of what the bot says is a context variable, set once per update for the person or
group being answered, and switched with ``use_locale()`` when writing to someone else (a
moderator, a sponsor, a partner) so each reads their own language.

Placeholders are named (``{name}``) and filled by ``_()`` itself, so translators can move them:
``_("Welcome, {name}!", name=esc(user))``. Values are inserted as they are; escape typed text
with ``handlers.render.esc`` first, as everywhere else.

Right-to-left languages (Arabic): every value ``_()`` fills in is wrapped in Unicode isolates
(U+2068 FIRST STRONG ISOLATE … U+2069 POP DIRECTIONAL ISOLATE), so a Latin name, an e-mail
address or a number inside an Arabic sentence keeps its own direction and does not scramble
the words around it. A line whose translation starts with a placeholder gets a RIGHT-TO-LEFT
MARK first, so the paragraph is laid out right to left.

Dates and times (``date_text``, ``datetime_text``, ``duration_text``) use Babel's CLDR data for
the current language, in the time zone the caller passes (the group's). Every moment shown goes
through ``datetime_text``, which names its zone (``Kyiv time``, the city in the reader's language).
"""

from __future__ import annotations

import functools
import gettext
import hashlib
import os
import re
import string
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta, tzinfo
from io import BytesIO
from pathlib import Path
from typing import Literal

from babel import Locale
from babel.dates import (
    format_date,
    format_skeleton,
    format_time,
    format_timedelta,
    get_datetime_format,
    get_day_names,
    get_month_names,
    get_timezone_location,
)
from babel.lists import format_list

DOMAIN = "imbot"
LOCALE_DIR = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "uk", "fr", "ar")
# What /language shows: each language in its own name.
NATIVE_NAMES = {"en": "English", "uk": "Українська", "fr": "Français", "ar": "العربية"}
RTL_LANGUAGES = frozenset({"ar"})
# Babel locale for dates and numbers: English as the UN writes it (20 Dec 2026, 24-hour clock).
_BABEL_LOCALES = {"en": "en_GB"}

FSI, PDI, RLM = "\u2068", "\u2069", "\u200f"
# Between the languages of a bilingual group message.
SEPARATOR = "\n〰〰〰\n"

_current: ContextVar[str] = ContextVar("imbot_language", default=DEFAULT_LANGUAGE)


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog for a language; English (the source strings) when there is none."""
    path = catalog_path(language)
    if language == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    source = path.read_bytes()
    compiled = path.with_name(f"{DOMAIN}.{hashlib.sha256(source).hexdigest()[:16]}.mo")
    try:
        return gettext.GNUTranslations(BytesIO(compiled.read_bytes()))
    except (OSError, ValueError, LookupError, struct.error):  # not compiled yet, or damaged
        pass
    mo = compile_catalog(source, language)
    _keep(compiled, mo)
    return gettext.GNUTranslations(BytesIO(mo))


def compile_catalog(source: bytes, language: str) -> bytes:
    """A ``.po`` file's text compiled to ``.mo`` bytes by Babel (fuzzy entries left out)."""
    from babel.messages.mofile import write_mo  # only when a catalog is compiled
    from babel.messages.pofile import read_po

    catalog = read_po(BytesIO(source), locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def _keep(compiled: Path, mo: bytes) -> None:
    """Write the compiled catalog beside its ``.po`` (atomically: replicas may start together)
    and remove the ones compiled from earlier texts; a read-only install just goes without."""
    try:
        handle, temporary = tempfile.mkstemp(dir=compiled.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(mo)
        os.replace(temporary, compiled)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        return
    for old in compiled.parent.glob(f"{DOMAIN}.*.mo"):
        if old != compiled:
            old.unlink(missing_ok=True)


def supported(language_code: str | None) -> str | None:
    """``"uk-UA"`` → ``"uk"``; None for a language the bot does not speak."""
    if not language_code:
        return None
    base = language_code.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def pick_language(chosen: str | None, telegram_code: str | None, fallback: str | None) -> str:
    """A person's language: their /language choice, else Telegram's, else the group default."""
    return supported(chosen) or supported(telegram_code) or supported(fallback) or DEFAULT_LANGUAGE


def current_language() -> str:
    return _current.get()


def set_language(language: str | None) -> None:
    _current.set(supported(language) or DEFAULT_LANGUAGE)


@contextmanager
def use_locale(language: str | None) -> Iterator[None]:
    """Speak ``language`` inside the block (e.g. while writing to another person)."""
    token = _current.set(supported(language) or DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def is_rtl(language: str | None = None) -> bool:
    return (language or _current.get()) in RTL_LANGUAGES


def bidi(text: str) -> str:
    """Isolate a fragment (a name, a number, a link) inside right-to-left text.

    A no-op in left-to-right languages and for multi-line blocks (an isolate ends at a line
    break, so wrapping a block would only isolate its first line).
    """
    if not text or "\n" in text or not is_rtl() or _isolated(text):
        return text
    return f"{FSI}{text}{PDI}"


def _isolated(text: str) -> bool:
    """True when the whole of ``text`` is one isolate already (as ``esc`` makes a value)."""
    if not (text.startswith(FSI) and text.endswith(PDI)):
        return False
    depth = 0
    for index, char in enumerate(text):
        if char in "\u2066\u2067\u2068":
            depth += 1
        elif char == PDI:
            depth -= 1
            if depth == 0:
                return index == len(text) - 1
    return False


class _Formatter(string.Formatter):
    def format_field(self, value: object, format_spec: str) -> str:
        return bidi(super().format_field(value, format_spec))


_FORMATTER = _Formatter()
_LINE_STARTS_WITH_PLACEHOLDER = re.compile(r"(^|\n)(?=\{[^{])")


# "{date}." where the date ends with an abbreviation's point ("7 бер. 2027 р."): that point
# doubles as the full stop, as in print, instead of "р..".
_FIELD_BEFORE_FULL_STOP = re.compile(r"\{(\w+)\}\.")


def _fill(template: str, values: dict[str, object]) -> str:
    for name in _FIELD_BEFORE_FULL_STOP.findall(template):
        value = values.get(name)
        if isinstance(value, str) and value.endswith(".") and not value.endswith(".."):
            values = {**values, name: value[:-1]}
        elif (
            isinstance(value, str) and value.endswith(f".{PDI}") and not value.endswith(f"..{PDI}")
        ):
            values = {**values, name: value[:-2] + PDI}  # the same inside an isolated value
    if is_rtl():
        template = _LINE_STARTS_WITH_PLACEHOLDER.sub(lambda m: m.group(1) + RLM, template)
    return _FORMATTER.vformat(template, (), values) if values else template


def _(message: str, /, **values: object) -> str:
    """Translate ``message`` into the current language and fill its named placeholders."""
    return _fill(translations(_current.get()).gettext(message), values)


def ngettext(singular: str, plural: str, n: int, /, **values: object) -> str:
    """Plural-aware ``_()``; ``{n}`` is always available as a placeholder."""
    return _fill(translations(_current.get()).ngettext(singular, plural, n), {"n": n, **values})


def pgettext(context: str, message: str, /, **values: object) -> str:
    """``_()`` for a string whose translation depends on where it stands (the catalog's
    ``msgctxt``): an ordinal before "Wednesday" is feminine in Ukrainian, before "Tuesday" not."""
    return _fill(translations(_current.get()).pgettext(context, message), values)


def N_(message: str, /) -> str:  # gettext: mark now, translate later
    """Mark a constant for extraction; translate it with ``_()`` where it is shown."""
    return message


# --------------------------------------------------------------------------- several languages
def each_language(languages: Sequence[str], render: Callable[[], str]) -> str:
    """``render()`` once per language, joined: a bilingual group message, side by side."""
    parts: list[str] = []
    for language in dict.fromkeys(languages) or (DEFAULT_LANGUAGE,):
        with use_locale(language):
            parts.append(render())
    return SEPARATOR.join(parts)


def each_label(languages: Sequence[str], render: Callable[[], str]) -> str:
    """A button label in every language of a group ("Remove / Видалити")."""
    labels: list[str] = []
    for language in dict.fromkeys(languages) or (DEFAULT_LANGUAGE,):
        with use_locale(language):
            label = render()
        if label not in labels:
            labels.append(label)
    return " / ".join(labels)


def in_languages(languages: Iterable[str]) -> list[str]:
    """The supported, de-duplicated languages of a list (for configuration and tests)."""
    return list(dict.fromkeys(code for code in map(supported, languages) if code))


# --------------------------------------------------------------------------- dates and times
def babel_locale(language: str | None = None) -> Locale:
    code = language or _current.get()
    return Locale.parse(_BABEL_LOCALES.get(code, code))


def date_text(value: date | datetime, tz: tzinfo | None = None) -> str:
    """``20 Dec 2026`` / ``20 груд. 2026 р.`` / ``20 déc. 2026`` / ``20 ديسمبر 2026``."""
    if isinstance(value, datetime) and tz is not None:
        value = value.astimezone(tz)
    return format_skeleton("yMMMd", value, locale=babel_locale())


def long_date_text(value: date) -> str:
    """With the weekday: ``Sunday, 20 December 2026``."""
    return format_date(value, "full", locale=babel_locale())


def datetime_text(value: datetime, tz: tzinfo, weekday: bool = False) -> str:
    """Every moment the bot shows, in ``tz`` (the group's or the deadline's zone) and naming
    it: ``20 Dec 2026, 12:00 Kyiv time`` / ``20 груд. 2026 р., 12:00 за часом міста Київ``;
    with ``weekday`` ``Sun, 20 Dec 2026, 12:00 Kyiv time`` (deadlines, where the day matters).
    """
    local = value.astimezone(tz)
    locale = babel_locale()
    day = format_skeleton("yMMMEd" if weekday else "yMMMd", local, locale=locale)
    hour = format_time(local, "short", tzinfo=tz, locale=locale)
    pattern = str(get_datetime_format("medium", locale=locale))
    return f"{pattern.replace('{1}', day).replace('{0}', hour)} {zone_label(tz)}"


def zone_city(tz: tzinfo) -> str:
    """The zone's city in the reader's language where CLDR knows it (``Kyiv``, ``Київ``,
    ``كييف``), else the zone's own name (``Etc/GMT+3`` → ``GMT+3``)."""
    key = str(getattr(tz, "key", tz))
    if key in {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Zulu", "Etc/Zulu"}:
        return "UTC"
    try:
        city = get_timezone_location(tz, locale=babel_locale(), return_city=True)
    except (LookupError, ValueError):
        city = ""
    return str(city) or key.rsplit("/", 1)[-1].replace("_", " ")


def zone_label(tz: tzinfo) -> str:
    """``Europe/Kyiv`` → ``Kyiv time`` (``за часом міста Київ``, ``بتوقيت كييف``); ``UTC``."""
    city = zone_city(tz)
    return city if city == "UTC" else _("{city} time", city=city)


def weekday_date_text(value: date) -> str:
    """A calendar date with its weekday, short: ``Sun, 20 Dec 2026`` / ``нд, 20 груд. 2026 р.``."""
    return format_skeleton("yMMMEd", value, locale=babel_locale())


def time_text(value: time) -> str:
    """A wall-clock time of day: ``17:30`` (``5:30 م`` in Arabic)."""
    return format_time(value, "short", locale=babel_locale())


def day_month_text(month: int, day: int) -> str:
    """A day of a month without the year: ``15 April`` / ``15 квітня`` / ``15 avril``."""
    return format_skeleton("MMMMd", date(2000, month, day), locale=babel_locale())


def month_name(month: int) -> str:
    """``April`` / ``квітень`` / ``avril`` / ``أبريل`` (1 = January)."""
    return str(get_month_names("wide", context="stand-alone", locale=babel_locale())[month])


def weekday_name(weekday: int) -> str:
    """``Monday`` / ``понеділок`` / ``lundi`` / ``الاثنين`` (0 = Monday, as ``date.weekday()``)."""
    return str(get_day_names("wide", context="stand-alone", locale=babel_locale())[weekday])


def comma_join(items: Iterable[str]) -> str:
    """Items separated by the language's comma (``،`` in Arabic)."""
    # TRANSLATORS: the separator between items of a list, with its space.
    return _(", ").join(items)


def list_text(items: Sequence[str]) -> str:
    """``A, B and C`` in the current language."""
    return format_list(list(items), locale=babel_locale()) if items else ""


def duration_text(value: timedelta) -> str:
    """Every length the bot writes in a sentence, in words in the reader's language, two units
    at most: ``30 days``, ``1 day``, ``3 days 4 hours``, ``25 minutes``, ``30 seconds``
    (``30 днів``, ``يوم``) — never the configuration's notation (``30d``)."""
    seconds = max(int(value.total_seconds()), 0)
    locale = babel_locale()
    parts: list[str] = []
    units: tuple[tuple[Literal["day", "hour", "minute"], int], ...] = (
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    )
    for unit, size in units:
        amount, seconds = divmod(seconds, size)
        if amount and len(parts) < 2:
            parts.append(
                format_timedelta(
                    timedelta(seconds=amount * size),
                    granularity=unit,
                    threshold=10**9,
                    locale=locale,
                )
            )
        elif parts:
            break
    if not parts:  # under a minute: the seconds ("30 seconds"), never "0 minutes"
        return format_timedelta(
            timedelta(seconds=max(seconds, 1)), granularity="second", threshold=10**9, locale=locale
        )
    return " ".join(parts)
