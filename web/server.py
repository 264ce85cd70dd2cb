"""The bot's one HTTP server (tornado), started by ``imbot run`` in every mode.

It serves ``ROUTES`` — health, readiness, metrics; a feature adds its endpoint by appending a
``RouteSpec`` — plus, in webhook mode, the route Telegram posts updates to. Requests are not
logged with their path (a path may carry a secret); an error in a route answers 500 and is
logged with the route's pattern.
"""

from __future__ import annotations

import logging
import re
import socket
from typing import TYPE_CHECKING, Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from web import calendar_feed, health, metrics
from web.http import RouteSpec, WebRequest, WebResponse

if TYPE_CHECKING:
    from runtime.context import Services

log = logging.getLogger(__name__)

ROUTES: list[RouteSpec] = [*health.ROUTES, *metrics.ROUTES, calendar_feed.FEED]

MAX_BODY = 1 << 20  # Telegram's updates are a few kilobytes


Compiled = list[tuple[re.Pattern[str], RouteSpec]]


class _Dispatch(RequestHandler):
    def initialize(self, services: Services, routes: Compiled) -> None:
        self.services, self.routes = services, routes

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.clear_header("Content-Type")

    async def _handle(self, *_args: Any) -> None:
        method, path = self.request.method or "GET", self.request.path
        for pattern, spec in self.routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method not in spec.methods:
                self._answer(WebResponse(405, headers=(("Allow", ", ".join(spec.methods)),)))
                return
            request = WebRequest(
                method=method,
                path=path,
                headers={k.lower(): v for k, v in self.request.headers.get_all()},
                params={k: v for k, v in match.groupdict().items() if v is not None},
                body=self.request.body or b"",
                query={
                    k: v[0].decode("utf-8", "replace")
                    for k, v in self.request.query_arguments.items()
                    if v
                },
            )
            try:
                response = await spec.route(self.services, request)
            except Exception:
                log.exception("HTTP route %s failed", spec.pattern)
                response = WebResponse(500)
            self._answer(response)
            return
        self._answer(WebResponse(404))

    def _answer(self, response: WebResponse) -> None:
        self.set_status(response.status)
        for name, value in response.headers:
            self.set_header(name, value)
        if self.request.method == "HEAD" or response.status in (204, 304):
            if response.status not in (204, 304):
                self.set_header("Content-Length", str(len(response.body)))
            self.finish()
        else:
            self.finish(response.body)

    get = head = post = put = delete = patch = options = _handle


def _quiet(_handler: RequestHandler) -> None:
    """No access log: a request's path may carry a secret (a calendar feed's, the webhook's)."""


class HttpServer:
    def __init__(self, services: Services, routes: list[RouteSpec]) -> None:
        compiled = [(re.compile(spec.pattern), spec) for spec in routes]
        application = Application(
            [(r"/.*", _Dispatch, {"services": services, "routes": compiled})],
            log_function=_quiet,
        )
        self._server = HTTPServer(application, max_body_size=MAX_BODY)
        self.routes = routes
        self.port = 0

    def start(self, listen: str, port: int) -> int:
        """Listen (port 0: any free port); returns the port. OSError when it cannot."""
        sockets = bind_sockets(port, address=listen or None, family=socket.AF_UNSPEC)
        self._server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])
        log.info("HTTP server listening on %s port %d", listen, self.port)
        return self.port

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()
