"""The Mini App's screens, in the order of its tabs.

A screen is a tab of the one page (/app): its section, its script in web/static, its texts and
its JSON routes under /app/api. The chat's "Open" buttons name a screen (``?screen=profile``);
a moderators' screen's tab is shown only to moderators, and its routes refuse everyone else
whatever the page shows. To add a screen: a module web/miniapp_<name>.py with ``strings()``
and ``routes(app)``, a script web/static/<name>.js that calls ``imbot.register``, and a line
below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from i18n import _
from runtime.context import App
from web import miniapp_deadlines, miniapp_directory, miniapp_moderation, miniapp_profile
from web.http import RouteSpec


@dataclass(frozen=True)
class Screen:
    name: str  # in ?screen= and the section's id
    label: Callable[[], str]  # the tab, in the current language
    strings: Callable[[], dict[str, str]]  # the texts its script shows
    routes: Callable[[App], list[RouteSpec]]
    moderators_only: bool = False


SCREENS: tuple[Screen, ...] = (
    Screen(
        "directory", lambda: _("Directory"), miniapp_directory.strings, miniapp_directory.routes
    ),
    Screen("profile", lambda: _("My profile"), miniapp_profile.strings, miniapp_profile.routes),
    Screen(
        "deadlines", lambda: _("Deadlines"), miniapp_deadlines.strings, miniapp_deadlines.routes
    ),
    Screen(
        "moderation",
        lambda: _("Moderation"),
        miniapp_moderation.strings,
        miniapp_moderation.routes,
        moderators_only=True,
    ),
)
DEFAULT_SCREEN = SCREENS[0].name


def screen_named(name: str | None) -> Screen | None:
    return next((s for s in SCREENS if s.name == name), None)
