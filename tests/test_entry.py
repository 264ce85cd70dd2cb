"""The ``imbot`` entry point pauses the garbage collector while the modules load, and the
command line turns it back on (freezing what start-up made) before a command does its work."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from bot.cli import resume_collector
from tests.conftest import EXAMPLE

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import atexit, gc, sys
paused = []
import bot.cli
original = bot.cli.main.callback
def callback(*args, **kwargs):
    paused.append(not gc.isenabled())  # while the command line starts
    return original(*args, **kwargs)
bot.cli.main.callback = callback
atexit.register(lambda: print("paused", paused, "enabled", gc.isenabled(),
                              "frozen", gc.get_freeze_count() > 0))
sys.argv = ["imbot", "check-config", sys.argv[1]]
from bot.entry import main
main()
"""


def test_a_command_runs_with_the_collector_back_on_and_start_up_frozen() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(EXAMPLE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout
    assert "paused [True] enabled True frozen True" in done.stdout


def test_resuming_is_a_no_op_when_the_collector_was_never_paused() -> None:
    frozen = gc.get_freeze_count()
    assert gc.isenabled()
    resume_collector()
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_resuming_after_a_pause_enables_and_freezes() -> None:
    gc.disable()
    try:
        resume_collector()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()
