"""The catalogs keep up with the code: every string the source uses is translated, with the
same placeholders, the same HTML and the right number of plural forms.

The strings are extracted from the source at test time (Babel's extractor, the same settings
as ``imbot i18n update``), so a new ``_("…")`` without a translation fails here.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

import i18n.catalog as catalog
from i18n import LANGUAGES, catalog_path
from i18n.catalog import KEYWORDS, ROOT, SOURCES, extract, problems


def test_every_catalog_is_complete_and_consistent() -> None:
    found = [str(p) for p in problems()]
    assert not found, "run `imbot i18n update`, then translate:\n" + "\n".join(found)


@pytest.mark.parametrize(("language", "forms"), [("uk", 3), ("fr", 2), ("ar", 6)])
def test_plural_forms_per_language(language: str, forms: int) -> None:
    assert catalog.load(language).num_plurals == forms


def _literal_calls() -> list[tuple[str, str]]:
    """Every string literal passed to _(), N_() or ngettext() in the source, found by AST."""
    found = []
    for package in SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path.name == "cli.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                if node.func.id not in ("_", "N_", "ngettext"):
                    continue
                count = 2 if node.func.id == "ngettext" else 1
                for arg in node.args[:count]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.append((str(path.relative_to(ROOT)), arg.value))
    return found


def test_the_extractor_sees_every_literal_the_code_translates() -> None:
    """Guards the extraction settings: a string wrapped in a way Babel misses would otherwise
    go untranslated without the completeness test noticing."""
    extracted: set[str] = set()
    for message in extract():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        extracted.update(str(i) for i in ids)
    calls = _literal_calls()
    assert len(calls) > 300
    missed = [(where, text) for where, text in calls if text not in extracted]
    assert not missed
    assert set(KEYWORDS) >= {"_", "ngettext", "N_"}


def test_no_placeholder_inside_an_html_tag() -> None:
    """In Arabic every placeholder value is wrapped in isolates, which would corrupt a URL in
    an ``href``: build links outside ``_()`` and pass the whole tag as a value."""
    for message in extract():
        for text in message.id if isinstance(message.id, tuple) else (message.id,):
            assert not re.search(r"<[^>]*\{", str(text)), text


def test_command_descriptions_are_extracted() -> None:
    ids = {m.id for m in extract()}
    assert {"What this bot does", "Choose the language I write to you in"} <= ids


@pytest.fixture
def broken_catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copies of the catalogs the test may damage; the checker reads them instead."""
    for language in LANGUAGES[1:]:
        target = tmp_path / language / "LC_MESSAGES" / "imbot.po"
        target.parent.mkdir(parents=True)
        shutil.copy(catalog_path(language), target)

    def path(language: str) -> Path:
        return tmp_path / language / "LC_MESSAGES" / "imbot.po"

    monkeypatch.setattr(catalog, "catalog_path", path)
    return tmp_path


def _edit(root: Path, language: str, change: dict[str, str | tuple[str, ...] | None]) -> None:
    path = root / language / "LC_MESSAGES" / "imbot.po"
    with path.open("rb") as po:
        loaded = read_po(po, locale=language)
    for msgid, value in change.items():
        if value is None:
            del loaded[msgid]
        else:
            loaded[msgid].string = value
    with path.open("wb") as po:
        write_po(po, loaded)


def test_the_check_fails_on_a_missing_or_altered_translation(broken_catalogs: Path) -> None:
    assert not list(problems())
    _edit(broken_catalogs, "uk", {"There is nothing to cancel.": None})
    _edit(broken_catalogs, "fr", {"Sponsor: {name}": "Parrain : {nom}"})
    _edit(broken_catalogs, "ar", {"<b>Join requests</b>": "طلبات الانضمام"})
    _edit(broken_catalogs, "uk", {"Cancel": ""})
    found = {(p.language, p.msgid, p.what.split()[0]) for p in problems()}
    assert found == {
        ("uk", "There is nothing to cancel.", "missing"),
        ("fr", "Sponsor: {name}", "placeholders"),
        ("ar", "<b>Join requests</b>", "HTML"),
        ("uk", "Cancel", "not"),
    }


def test_the_check_fails_on_wrong_plural_forms(broken_catalogs: Path) -> None:
    key = ("{group}: {n} member", "{group}: {n} members")
    path = broken_catalogs / "ar" / "LC_MESSAGES" / "imbot.po"
    with path.open("rb") as po:
        loaded = read_po(po, locale="ar")
    loaded[key].string = ("{group}: {n}", "{group}: {n}")  # 2 forms where Arabic needs 6
    with path.open("wb") as po:
        write_po(po, loaded)
    # Babel pads the missing forms with empty strings: reported as not translated.
    assert [(p.msgid, p.what) for p in problems(("ar",))] == [
        ("{group}: {n} member", "not translated (or fuzzy)")
    ]


def test_a_new_untranslated_string_in_the_source_is_caught(
    broken_catalogs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "src"
    for package in SOURCES:
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("*.pyc"))
    (source / "handlers" / "brand_new.py").write_text(
        'from i18n import _\n\nTEXT = _("A sentence nobody has translated yet.")\n'
    )
    monkeypatch.setattr(catalog, "ROOT", source)
    found = {(p.language, p.msgid) for p in problems()}
    assert found == {(lang, "A sentence nobody has translated yet.") for lang in LANGUAGES[1:]}


def test_audit_details_read_without_english_in_every_language() -> None:
    # Composed when /audit is read, not in the catalog as a whole: each kind rendered.
    from moderation.audit_details import english_leaks

    for language in ("uk", "fr", "ar"):
        assert english_leaks(language) == [], language


def test_the_audit_check_catches_english_where_no_translation_exists() -> None:
    # German has no catalog: every detail falls back to English and must be reported.
    from moderation.audit_details import english_leaks, samples

    leaks = english_leaks("de")
    assert len(leaks) == len(samples()), leaks
    assert any("warning" in leak and "day" in leak for leak in leaks), leaks
