"""The compiled catalogs kept beside the ``.po`` files: read at later starts instead of parsing
the ``.po`` again, compiled afresh when the ``.po`` changes, and never needed to work."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import i18n
from i18n import translations

REAL = i18n.catalog_path("uk")


@pytest.fixture
def locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "uk" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    shutil.copy(REAL, folder / "imbot.po")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    translations.cache_clear()
    yield folder
    translations.cache_clear()  # the next tests read the real catalogs


def expected(po: Path) -> dict[str, str]:
    """msgid → translation for every translated, non-fuzzy singular entry, read by Babel."""
    with po.open("rb") as source:
        catalog = read_po(source, locale="uk")
    return {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str)
        and m.id
        and isinstance(m.string, str)
        and m.string
        and not m.fuzzy
        and not m.context
    }


def compiled(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.mo"))


def test_the_first_use_compiles_and_keeps_the_catalog(locales: Path) -> None:
    wanted = expected(locales / "imbot.po")
    assert len(wanted) > 100
    first = translations("uk")
    assert all(first.gettext(k) == v for k, v in wanted.items())
    assert len(compiled(locales)) == 1
    assert not list(locales.glob("*.tmp"))


def test_a_later_start_reads_the_kept_catalog_without_compiling(
    locales: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    translations("uk")
    translations.cache_clear()

    def no_compiling(source: bytes, language: str) -> bytes:
        raise AssertionError("compiled again")

    monkeypatch.setattr(i18n, "compile_catalog", no_compiling)
    again = translations("uk")
    assert all(again.gettext(k) == v for k, v in expected(locales / "imbot.po").items())


def test_an_edited_catalog_is_compiled_afresh_and_the_old_one_removed(locales: Path) -> None:
    po = locales / "imbot.po"
    wanted = expected(po)
    msgid, old = next((k, v) for k, v in wanted.items() if '"' not in k + v and "\n" not in v)
    translations("uk")
    before = compiled(locales)
    text = po.read_text(encoding="utf-8")
    assert text.count(f'msgstr "{old}"') >= 1
    po.write_text(text.replace(f'msgstr "{old}"', 'msgstr "НОВЕ"'), encoding="utf-8")
    translations.cache_clear()
    assert translations("uk").gettext(msgid) == "НОВЕ"
    after = compiled(locales)
    assert len(after) == 1 and after != before


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_kept_catalog_is_compiled_again(locales: Path, damage: str) -> None:
    translations("uk")
    (kept,) = compiled(locales)
    whole = kept.read_bytes()
    broken = b"not a catalog" if damage == "garbage" else whole[:100]
    kept.write_bytes(broken)
    translations.cache_clear()
    wanted = expected(locales / "imbot.po")
    assert all(translations("uk").gettext(k) == v for k, v in wanted.items())
    assert kept.read_bytes() == whole


def test_a_read_only_install_translates_without_keeping_anything(
    locales: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(**_: object) -> tuple[int, str]:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    wanted = expected(locales / "imbot.po")
    assert all(translations("uk").gettext(k) == v for k, v in wanted.items())
    assert compiled(locales) == []
