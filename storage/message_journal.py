"""Recent group messages: noted in memory at once, written to ``recent_messages`` in batches.

Every ordinary group message is noted (``/purge`` deletes a member's last messages) and counted
(the flood limit). Doing both with SQL on every message cost more than everything else the bot
does for that message together (see bench/README.md), so this process keeps two things:

* **pending rows**, written in one INSERT every second (a JobQueue job), as soon as
  ``batch`` are waiting, before ``/purge`` reads the table, and at shutdown. A crash loses at
  most the last second of notes: ``/purge`` then misses those messages, nothing else.
* **a flood window per (group, member)**: when their messages of the last ``per`` were sent.
  It is read from the table the first time this process counts that member (so a restart or
  a new poller forgets nothing), then kept in memory.

One process receives updates in polling mode (the replicas elect a poller), so its windows are
complete. In webhook mode a load balancer spreads a member's messages over the replicas; the
caller then asks with ``shared=True`` and the window is read again from the table whenever it
already holds a message (a burst is starting): a flood is seen at most a flush interval late
(the other replicas' rows reach the table within a second), and a member writing calmly still
costs no query.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database
from storage.moderation import ModerationRepository, NotedMessage

log = logging.getLogger(__name__)

Window = list[tuple[datetime, str | None]]


class MessageJournal:
    def __init__(
        self,
        db: Database,
        *,
        batch: int = 200,
        max_pending: int = 20_000,
        max_windows: int = 100_000,
    ) -> None:
        self.db = db
        self.batch, self.max_pending, self.max_windows = batch, max_pending, max_windows
        self._pending: list[NotedMessage] = []
        self._windows: dict[tuple[int, int], Window] = {}
        self.dropped = 0  # rows given up on while the database was unreachable

    @property
    def pending(self) -> int:
        return len(self._pending)

    def note(
        self, chat_id: int, message_id: int, user_id: int, at: datetime, album: str | None = None
    ) -> None:
        """Remember a message; it reaches the table with the next flush."""
        self._pending.append(NotedMessage(chat_id, message_id, user_id, at, album))
        window = self._windows.get((chat_id, user_id))
        if window is not None:
            window.append((at, album))
        if len(self._pending) >= self.batch:
            self.flush(quietly=True)

    def flush(self, *, quietly: bool = False) -> int:
        """Write the pending rows; on a database error keep them for the next try.

        ``quietly``: log the error instead of raising it (the message path and the timer must
        not fail because the table is briefly unreachable).
        """
        if not self._pending:
            return 0
        rows = self._pending
        self._pending = []
        try:
            with self.db.transaction() as session:
                ModerationRepository(session).remember_messages(rows)
        except SQLAlchemyError as exc:
            self._pending = rows + self._pending
            overflow = len(self._pending) - self.max_pending
            if overflow > 0:  # a long outage: keep the newest, /purge only needs recent ones
                del self._pending[:overflow]
                self.dropped += overflow
            if not quietly:
                raise
            log.warning(
                "could not write %d noted messages (kept for the next try): %s",
                len(self._pending),
                getattr(exc, "orig", exc),
            )
            return 0
        return len(rows)

    def times(
        self, chat_id: int, user_id: int, since: datetime, *, shared: bool = False
    ) -> list[datetime]:
        """When the member's messages after ``since`` were sent, oldest first, an album once.

        Call after ``note`` for the message being judged, so it is among them.
        """
        key = (chat_id, user_id)
        window = self._windows.get(key)
        if window is not None:
            window[:] = [entry for entry in window if entry[0] > since]
        if window is None or (shared and len(window) > 1):
            window = self._read(key, since) or window
        return _once_per_album(window or [])

    def forget_windows(self) -> None:
        """Drop every window: another process may have counted these members meanwhile."""
        self._windows.clear()

    def _read(self, key: tuple[int, int], since: datetime) -> Window | None:
        """The table's rows for ``key`` after ``since`` and this process's unwritten ones."""
        try:
            with self.db.transaction() as session:
                rows = ModerationRepository(session).message_times(key[0], key[1], since)
        except SQLAlchemyError as exc:
            # Judge by what this process saw; the table is read again next time.
            log.warning("could not read recent messages: %s", getattr(exc, "orig", exc))
            return None
        rows += [
            (row.at, row.album)
            for row in self._pending
            if (row.chat_id, row.user_id) == key and row.at > since
        ]
        if len(self._windows) >= self.max_windows:
            self._windows.clear()  # simple and rare: members are read once more
        self._windows[key] = rows
        return rows


def _once_per_album(window: Window) -> list[datetime]:
    seen: set[str] = set()
    times: list[datetime] = []
    for at, album in window:
        if album is not None:
            if album in seen:
                continue
            seen.add(album)
        times.append(at)
    return times
