"""Catalog upkeep: extract the strings the source uses, update each language's ``.po``, check.

``imbot i18n update`` runs ``update_catalogs()``; ``imbot i18n check`` and the test suite run
``problems()``, which extracts from the source at that moment, so a string added to the code
and not yet translated is caught. The extraction settings (which files, which keywords) live
here and in ``babel.cfg`` for people who prefer ``pybabel`` (see the README).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from i18n import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES, LOCALE_DIR, catalog_path

ROOT = Path(__file__).resolve().parent.parent
# The packages whose strings people read. Tests, migrations and the CLI's output are English.
SOURCES = ("bot", "config", "handlers", "i18n", "moderation", "runtime", "storage", "web")
# _("…"), ngettext("…", "…", n), N_("…") marks a constant translated where it is shown, and a
# command's description (CommandSpec's second argument) feeds the per-language command menus.
KEYWORDS: dict[str, tuple[int | tuple[int, str], ...] | None] = {
    "_": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),  # pgettext("context", "…"): the context is the first argument
    "N_": None,
    "CommandSpec": (2,),
}
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def _skip(path: str) -> bool:
    return "migrations" in Path(path).parts or path.endswith("cli.py")


def extract() -> Catalog:
    """Every translatable string in the source, with where it is used."""
    template = Catalog(project="imbot", domain=DOMAIN, fuzzy=False)
    for package in SOURCES:
        directory = ROOT / package
        for filename, lineno, message, comments, context in extract_from_dir(
            str(directory),
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True,
            directory_filter=lambda path: not _skip(path),
        ):
            if _skip(filename) or not message:
                continue
            location = (f"{package}/{filename}", lineno)
            template.add(message, locations=[location], auto_comments=comments, context=context)
    return template


def load(language: str) -> Catalog:
    path = catalog_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, project="imbot", fuzzy=False)
    with path.open("rb") as po:
        return read_po(po, locale=language)


def update_catalogs() -> dict[str, int]:
    """Write the template and merge it into every language; returns untranslated counts."""
    template = extract()
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with TEMPLATE.open("wb") as pot:
        write_po(pot, template, width=100, omit_header=False, sort_output=True)
    missing: dict[str, int] = {}
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        catalog = load(language)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        path = catalog_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, catalog, width=100, ignore_obsolete=True, sort_output=True)
        missing[language] = sum(1 for m in catalog if m.id and not _complete(m))
    return missing


def _forms(message: Message) -> list[str]:
    if isinstance(message.string, tuple | list):
        return list(message.string)
    return [message.string or ""]


def _complete(message: Message) -> bool:
    return not message.fuzzy and all(_forms(message))


def placeholders(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name}


def tags(text: str) -> list[str]:
    """HTML tags, with attributes, in order of appearance (sorted: translators may reorder)."""
    return sorted(_TAG.findall(text))


@dataclass(frozen=True)
class Problem:
    language: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.language}: {self.what}: {self.msgid[:70]!r}"


def problems(languages: tuple[str, ...] = LANGUAGES) -> Iterator[Problem]:
    """Missing, fuzzy or untranslated strings; placeholders, HTML or plural forms that differ."""
    template = extract()
    for language in languages:
        if language == DEFAULT_LANGUAGE:
            continue
        if not catalog_path(language).exists():
            yield Problem(language, "", f"no catalog at {catalog_path(language)}")
            continue
        catalog = load(language)
        for source in template:
            if not source.id:
                continue
            found = catalog.get(source.id, context=source.context)
            ids: tuple[str, ...] = (
                tuple(source.id) if isinstance(source.id, tuple | list) else (source.id,)
            )
            if found is None:
                yield Problem(language, ids[0], "missing from the catalog")
                continue
            if not _complete(found):
                yield Problem(language, ids[0], "not translated (or fuzzy)")
                continue
            forms = _forms(found)
            if len(ids) > 1 and len(forms) != catalog.num_plurals:
                yield Problem(
                    language, ids[0], f"has {len(forms)} plural forms, needs {catalog.num_plurals}"
                )
            wanted_names = set().union(*(placeholders(i) for i in ids))
            wanted_tags = tags(ids[0])
            for form in forms:
                try:
                    names = placeholders(form)
                except ValueError as exc:
                    yield Problem(language, ids[0], f"broken braces ({exc})")
                    continue
                if names != wanted_names:
                    yield Problem(
                        language,
                        ids[0],
                        f"placeholders {sorted(names)} instead of {sorted(wanted_names)}",
                    )
                if tags(form) != wanted_tags:
                    yield Problem(language, ids[0], f"HTML {tags(form)} instead of {wanted_tags}")
