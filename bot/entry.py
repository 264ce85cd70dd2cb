"""The ``imbot`` command's entry point: the command line (``bot.cli``), with Python's cyclic
garbage collector paused while its modules load and, for ``imbot run``, until the bot is built.

Start-up makes ~200,000 objects (modules, classes, mapped tables, handlers) that live as long as
the process; each pass of the collector over them finds next to nothing to free (under a
thousand objects) yet costs ~0.1 s, and start-up triggered several. ``bot.cli.resume_collector``
turns it back on — at once for every other command, after the Application is built for ``run``
— and freezes what start-up made (``gc.freeze``), so later passes skip it too.
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    from bot.cli import main as command_line  # the heavy imports, with the collector paused

    command_line()
