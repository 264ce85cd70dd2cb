"""Every stored form survives restarts, whichever way it was opened: each way is driven through
the real bot on a file database twice, once in one run and once with the bot stopped and a fresh
one started before every answer (wrong answers included), and both runs must end with the same
result — the one the README and the seeds describe. A way of opening a form (a ``<FORM>.start``
call in handlers/, told apart by its ``mode``, or else by the function it is in) that has no
scenario in tests/form_restart_scenarios.py fails
``test_every_way_of_opening_a_form_has_a_scenario``."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.forms import FORMS, Form
from simulation.simulator import Simulator
from tests.form_restart_scenarios import SCENARIOS, Driver, open_forms

# ------------------------------------------------------------------- finding the ways in
HANDLERS = Path(__file__).resolve().parent.parent / "handlers"


class Unreadable(Exception):
    """A ``.start`` call whose form or way cannot be told from the source."""


def _dotted(node: ast.expr) -> list[str] | None:
    """``A.B.C`` → ``["A", "B", "C"]``; None for anything but names and attributes."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else [*head, node.attr]
    return None


def _strings(node: ast.expr, function: ast.AST) -> list[str]:
    """The string values ``node`` can have: a literal, either branch of ``x if c else y``, or a
    local name assigned only such expressions in ``function``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, function) + _strings(node.orelse, function)
    if isinstance(node, ast.Name):
        values = [
            value
            for assign in ast.walk(function)
            if isinstance(assign, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in assign.targets)
            for value in _strings(assign.value, function)
        ]
        if values:
            return values
    raise Unreadable(ast.unparse(node))


def _calls(tree: ast.Module) -> Iterator[tuple[ast.Call, ast.AST | None]]:
    """Every ``X.start(...)`` call with the innermost function around it."""

    def visit(node: ast.AST, function: ast.AST | None) -> Iterator[tuple[ast.Call, ast.AST | None]]:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr == "start"
            ):
                yield child, inner
            yield from visit(child, inner)

    yield from visit(tree, None)


def ways_of_opening() -> dict[str, list[str]]:
    """Every way handlers/ opens a form: ``kind/mode`` when the state the ``<FORM>.start(update,
    context, State(...))`` call is given names a ``mode`` (a literal, or a local chosen between
    literals), else ``kind/the-function-it-is-in``; each with where it is (path:line)."""
    ways: dict[str, list[str]] = {}
    root = HANDLERS.parent
    for path in sorted(HANDLERS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        calls = list(_calls(tree))
        if not calls:
            continue
        module = importlib.import_module(".".join(path.relative_to(root).with_suffix("").parts))
        for call, function in calls:
            where = f"{path.relative_to(root)}:{call.lineno}"
            assert isinstance(call.func, ast.Attribute)
            names = _dotted(call.func.value)
            target: object = module if names else None
            for name in names or []:
                target = getattr(target, name, None)
            if target is None and len(call.args) + len(call.keywords) == 3:
                raise Unreadable(f"{where}: which form does {ast.unparse(call.func)} start?")
            if not isinstance(target, Form):
                continue  # not a form's start (none today, but e.g. a task's)
            state = call.args[2] if len(call.args) > 2 else None
            if not isinstance(state, ast.Call) or function is None:
                raise Unreadable(f"{where}: the state of {ast.unparse(call)} is not spelled out")
            mode = next((k.value for k in state.keywords if k.arg == "mode"), None)
            assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            try:
                labels = _strings(mode, function) if mode else [function.name.replace("_", "-")]
            except Unreadable as exc:
                raise Unreadable(f"{where}: cannot tell the mode {exc}") from None
            for label in labels:
                ways.setdefault(f"{target.kind}/{label}", []).append(where)
    return ways


def bot_forms() -> set[str]:
    """The kinds of form the bot itself registers (tests may add toy forms of their own)."""
    return {kind for kind in FORMS if not kind.startswith("test-")}


async def test_every_way_of_opening_a_form_has_a_scenario(sim: Simulator) -> None:
    ways = ways_of_opening()
    assert {way.split("/")[0] for way in ways} == bot_forms()  # the scan misses no form
    shared = {way: places for way, places in ways.items() if len(places) > 1}
    assert shared == {}, "one way opened in several places: key them apart"
    missing = sorted(set(ways) - set(SCENARIOS))
    assert missing == [], f"no restart scenario for {missing} ({[ways[w] for w in missing]})"
    assert sorted(set(SCENARIOS) - set(ways)) == []  # no scenario for a way that is gone


def test_the_scan_tells_the_ways_apart() -> None:
    """The scan reads what the bot does today: the three sponsor modes from two calls (one
    chooses between intro and jr), both /deadline modes, and the two buttons that open the
    out-of-country form."""
    ways = ways_of_opening()
    assert ways["sponsor/intro"] == ways["sponsor/jr"] != ways["sponsor/invite"]
    assert {w for w in ways if w.startswith(("deadline/", "out-of-country/"))} == {
        "deadline/add",
        "deadline/edit",
        "out-of-country/departure-yes",
        "out-of-country/new-sponsor",
    }


@pytest.mark.parametrize("restarting", [False, True], ids=["one-run", "restart-every-answer"])
@pytest.mark.parametrize("way", sorted(SCENARIOS))
async def test_a_form_ends_the_same_with_a_restart_before_every_answer(
    sim: Simulator, way: str, restarting: bool
) -> None:
    scenario, expected = SCENARIOS[way]
    drive = Driver(sim, restarting)
    try:
        result = await scenario(sim, drive)
        assert result == expected
        assert open_forms(drive.sim) == []  # completed: nothing left half-way
        assert drive.restarts >= (4 if restarting else 0)
    finally:
        await drive.close()
    assert drive.errors == []
