"""Framework-free request and response shapes shared by the server and the routes it serves.

A route is ``async def route(services, request) -> WebResponse``; the server (web/server.py)
adapts it to the HTTP library, so each route can be tested without one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.context import Services


@dataclass(frozen=True)
class WebRequest:
    method: str
    path: str
    # Header names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)
    # Named groups of the route's path pattern, e.g. {"secret": "..."}.
    params: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    # The query string's arguments (the first value of each, decoded).
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebResponse:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


Route = Callable[["Services", WebRequest], Awaitable[WebResponse]]


@dataclass(frozen=True)
class RouteSpec:
    """``pattern`` is a regular expression with named groups matched against the whole path."""

    pattern: str
    route: Route
    methods: tuple[str, ...] = ("GET", "HEAD")
