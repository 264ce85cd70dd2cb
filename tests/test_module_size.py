"""No module over 600 lines (README "Architecture", the checklist for adding a feature).

Every Python file of every project package (each folder at the top with an ``__init__.py``,
``tests/`` and ``bench/`` included) is at most 600 lines. Exempt, as the issue says: the
Alembic migrations (``storage/migrations/versions/``, written once and never edited) and the
fake Bot API (``simulation/faketg.py``, a test double mirroring Telegram's surface). There is
no pending list: a module that grows past the limit is split along its section banners into a
package.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 600
EXEMPT_FILES = {Path("simulation/faketg.py")}
EXEMPT_FOLDERS = {Path("storage/migrations/versions")}
# The packages the brief names; a new top-level package is checked too (see below).
NAMED = {
    "bench",
    "bot",
    "config",
    "delivery",
    "handlers",
    "i18n",
    "moderation",
    "runtime",
    "simulation",
    "storage",
    "tests",
    "web",
}


def packages() -> list[Path]:
    return sorted(
        folder
        for folder in ROOT.iterdir()
        if folder.is_dir() and (folder / "__init__.py").is_file()
    )


def exempt(relative: Path) -> bool:
    return relative in EXEMPT_FILES or any(f in relative.parents for f in EXEMPT_FOLDERS)


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def checked_modules() -> list[Path]:
    return [
        path
        for package in packages()
        for path in sorted(package.rglob("*.py"))
        if not exempt(path.relative_to(ROOT)) and ".venv" not in path.parts
    ]


def test_no_module_over_600_lines() -> None:
    modules = checked_modules()
    assert len(modules) > 100  # the whole code base, not an empty glob
    too_long = {
        str(path.relative_to(ROOT)): n for path in modules if (n := line_count(path)) > LIMIT
    }
    assert too_long == {}, f"split these along their section banners: {too_long}"


def test_every_named_package_is_checked_and_the_exemptions_are_real() -> None:
    assert {package.name for package in packages()} >= NAMED
    for relative in EXEMPT_FILES | EXEMPT_FOLDERS:
        assert (ROOT / relative).exists(), relative
    # The exemptions cover only themselves: the migrations' env.py is checked, and so is
    # every other simulation module.
    checked = {path.relative_to(ROOT) for path in checked_modules()}
    assert Path("storage/migrations/env.py") in checked
    assert Path("simulation/simulator.py") in checked
    assert Path("tests/test_module_size.py") in checked  # the tests obey the rule too
    assert not any(exempt(path) for path in checked)


def test_the_count_is_lines_not_bytes(tmp_path: Path) -> None:
    """The oracle itself: 601 short lines fail, 600 pass, a missing final newline counts."""
    at_limit = tmp_path / "at_limit.py"
    at_limit.write_text("x = 1\n" * LIMIT, encoding="utf-8")
    over = tmp_path / "over.py"
    over.write_text("x = 1\n" * LIMIT + "y = 2", encoding="utf-8")
    assert line_count(at_limit) == LIMIT
    assert line_count(over) == LIMIT + 1
