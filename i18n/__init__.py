"""Translations: every user-facing string goes through ``_()`` or ``ngettext()``.

The catalogs are gettext ``.po`` files under ``i18n/locales/<lang>/LC_MESSAGES/imbot.po``,
read with Babel at first use (no compiled ``.mo`` files to keep in step). The language of
what the bot says is a context variable, set once per update for the person or group being
answered, and switched with ``use_locale()`` when writing to someone else (a moderator, a
sponsor, a partner) so each reads their own language.

Placeholders are named (``{name}``) and filled by ``_()`` itself, so translators can move them:
``_("Welcome, {name}!", name=esc(user))``. Values are inserted as they are; escape typed text
with ``handlers.render.esc`` first, as everywhere else.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "imbot"
LOCALE_DIR = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "uk", "fr", "ar")

_current: ContextVar[str] = ContextVar("imbot_language", default=DEFAULT_LANGUAGE)


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog for a language; English (the source strings) when there is none."""
    path = catalog_path(language)
    if language == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def supported(language_code: str | None) -> str | None:
    """``"uk-UA"`` → ``"uk"``; None for a language the bot does not speak."""
    if not language_code:
        return None
    base = language_code.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def current_language() -> str:
    return _current.get()


def set_language(language: str) -> None:
    _current.set(supported(language) or DEFAULT_LANGUAGE)


@contextmanager
def use_locale(language: str | None) -> Iterator[None]:
    """Speak ``language`` inside the block (e.g. while writing to another person)."""
    token = _current.set(supported(language) or DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def _(message: str, /, **values: object) -> str:
    """Translate ``message`` into the current language and fill its named placeholders."""
    text = translations(_current.get()).gettext(message)
    return text.format(**values) if values else text


def ngettext(singular: str, plural: str, n: int, /, **values: object) -> str:
    """Plural-aware ``_()``; ``{n}`` is always available as a placeholder."""
    text = translations(_current.get()).ngettext(singular, plural, n)
    return text.format(n=n, **values)
