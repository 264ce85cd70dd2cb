"""The handler order is stated once: ``handlers/order.py`` (``Stage``) and the README's table.

Every ``add_handler`` call in ``handlers/`` and ``bot/`` names its stage (no bare group
numbers, no positional group); the README's table lists exactly the stages of the enumeration,
with their numbers; and the assembled bot uses exactly those groups.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from handlers.order import Stage
from simulation.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("handlers", "bot")


def add_handler_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_handler"
                ):
                    calls.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return calls


def stage_named(call: ast.Call) -> str | None:
    """The ``Stage`` member a call passes as ``group=``, or None when it passes anything else."""
    if len(call.args) != 1:  # a second positional argument would be the group
        return None
    group = [k.value for k in call.keywords if k.arg == "group"]
    if len(group) != 1:
        return None
    value = group[0]
    if (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.value.id == "Stage"
        and value.attr in Stage.__members__
    ):
        return value.attr
    return None


def test_every_add_handler_names_its_stage() -> None:
    calls = add_handler_calls()
    assert len(calls) > 60  # every feature registers through add_handler
    bad = [where for where, call in calls if stage_named(call) is None]
    assert bad == [], f"add_handler without group=Stage.<member>: {bad}"
    used = {stage_named(call) for _where, call in calls}
    assert used == set(Stage.__members__)  # no stage is named and never used


def parsed(source: str) -> ast.Call:
    call = ast.parse(source, mode="eval").body
    assert isinstance(call, ast.Call)
    return call


def test_the_scan_rejects_bare_numbers_and_missing_groups() -> None:
    """The oracle itself: the shapes a careless registration takes are caught."""
    for source in (
        "app.add_handler(h)",
        "app.add_handler(h, group=1)",
        "app.add_handler(h, 1)",
        "app.add_handler(h, group=-1)",
        "app.add_handler(h, group=WATCH_GROUP)",
        "app.add_handler(h, group=Stage.NOT_A_STAGE)",
        "app.add_handler(h, group=Other.FEATURES)",
        "app.add_handler(h, 0, group=Stage.FEATURES)",
    ):
        assert stage_named(parsed(source)) is None, source
    assert stage_named(parsed("app.add_handler(h, group=Stage.MENTIONS)")) == "MENTIONS"


def readme_table() -> list[tuple[str, int, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("**Handler order.**")
    rows: list[tuple[str, int, str]] = []
    in_table = False
    for line in text[start:].splitlines():
        if line.startswith("|"):
            in_table = True
            cells = [c.strip() for c in line.strip("|").split("|")]
            match = re.fullmatch(r"`([A-Z_]+)`", cells[0])
            if match:
                rows.append((match.group(1), int(cells[1]), cells[2]))
        elif in_table:
            break
    return rows


def test_the_readme_table_matches_the_enumeration() -> None:
    rows = readme_table()
    assert [(name, number) for name, number, _what in rows] == [(s.name, s.value) for s in Stage]
    assert all(what for _name, _number, what in rows)
    assert [number for _name, number, _what in rows] == sorted(s.value for s in Stage)


async def test_the_assembled_bot_uses_exactly_the_stages(sim: Simulator) -> None:
    assert sorted(sim.app.handlers) == sorted(s.value for s in Stage)
    assert all(sim.app.handlers[stage] for stage in Stage)
