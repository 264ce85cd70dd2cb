"""Calendar feeds: one row per person, found by the digest of the secret in its address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from storage.db import SessionRepository
from storage.models import CalendarFeed


class CalendarFeedRepository(SessionRepository):
    def of(self, user_id: int) -> CalendarFeed | None:
        """The person's feed, live or stopped."""
        return self.session.get(CalendarFeed, user_id)

    def live(self, user_id: int) -> CalendarFeed | None:
        feed = self.of(user_id)
        return feed if feed is not None and feed.revoked_at is None else None

    def by_digest(self, digest: str) -> CalendarFeed | None:
        """The live feed whose secret has this digest (a stopped one answers None)."""
        feed = self.session.scalar(select(CalendarFeed).where(CalendarFeed.secret_sha256 == digest))
        return feed if feed is not None and feed.revoked_at is None else None

    def issue(self, user_id: int, digest: str, now: datetime) -> CalendarFeed:
        """A new secret for the person: the previous one (if any) stops working at once."""
        feed = self.of(user_id)
        if feed is None:
            feed = CalendarFeed(user_id=user_id, secret_sha256=digest, created_at=now)
            self.session.add(feed)
        else:
            feed.secret_sha256, feed.created_at, feed.revoked_at = digest, now, None
        self.session.flush()
        return feed

    def revoke(self, user_id: int, now: datetime) -> bool:
        """Stop the person's link; False when there was no live one."""
        feed = self.live(user_id)
        if feed is None:
            return False
        feed.revoked_at = now
        self.session.flush()
        return True

    def forget(self, user_id: int) -> None:
        """Erasure (/forgetme): the row goes, not only the secret."""
        self.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id))
