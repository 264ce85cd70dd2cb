"""GET /calendar/<secret>.ics: a person's deadlines as a calendar apps subscribe to.

The secret is looked up by its SHA-256 digest (the only form the database keeps). Every refusal
is the same bare 404, whether the secret never existed, was stopped or replaced, or its owner is
no longer a member: an answer never tells which, nor whose address it was.
"""

from __future__ import annotations

from handlers.calendar import deadline_calendar, may_have_feed
from moderation import calendar_feed as feeds
from runtime.context import Services
from storage.calendar_feeds import CalendarFeedRepository
from web.http import RouteSpec, WebRequest, WebResponse

NOT_FOUND = WebResponse(
    404,
    b"Not found\n",
    (("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")),
)


async def serve_feed(services: Services, request: WebRequest) -> WebResponse:
    secret = request.params.get("secret", "")
    with services.db.transaction() as session:
        feed = CalendarFeedRepository(session).by_digest(feeds.secret_digest(secret))
        if feed is None or not may_have_feed(services, session, feed.user_id):
            return NOT_FOUND
        feed_changed = feed.created_at
        calendar = deadline_calendar(services, session)
    changed = max(t for t in (calendar.changed_at, feed_changed) if t is not None)
    etag = feeds.etag_of(calendar.body)
    headers = (
        ("ETag", etag),
        ("Last-Modified", feeds.http_date(changed)),
        ("Cache-Control", f"private, max-age={feeds.MAX_AGE_S}"),
    )
    if feeds.not_modified(
        request.headers.get("if-none-match"),
        request.headers.get("if-modified-since"),
        etag,
        changed,
    ):
        return WebResponse(304, b"", headers)
    body = b"" if request.method == "HEAD" else calendar.body
    return WebResponse(
        200,
        body,
        (
            ("Content-Type", "text/calendar; charset=utf-8"),
            ("Content-Disposition", 'inline; filename="deadlines.ics"'),
            *headers,
        ),
    )


FEED = RouteSpec(r"/calendar/(?P<secret>[A-Za-z0-9_-]{20,100})\.ics", serve_feed)
