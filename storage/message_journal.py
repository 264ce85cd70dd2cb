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
caller then asks with ``shared=True``: as soon as the window holds an earlier message (a burst
is starting), each message of the member writes this process's rows and reads the window from
the table, so a burst is counted across replicas (each replica's first message of a burst may
reach the table up to a second late). A member writing calmly still costs no query.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from storage.db import Database
from storage.moderation import ModerationRepository, NotedMessage

log = logging.getLogger(__name__)

Window = list[tuple[datetime, str | None, int]]  # (sent at, album, message id)

# A window longer than this is dropped and read again (a trusted sender's is never pruned).
MAX_WINDOW = 256


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
        # Group → member → window: no (group, member) key tuple per member (~1 MB a 10,000).
        self._windows: dict[int, dict[int, Window]] = {}
        self._failing = False  # the last write failed: only the timer and readers try again
        self.dropped = 0  # rows given up on (a long outage, or rows the table refused)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def note(
        self, chat_id: int, message_id: int, user_id: int, at: datetime, album: str | None = None
    ) -> None:
        """Remember a message; it reaches the table with the next flush."""
        self._pending.append(NotedMessage(chat_id, message_id, user_id, at, album))
        window = self._window(chat_id, user_id)
        if window is not None and all(entry[2] != message_id for entry in window):
            window.append((at, album, message_id))  # a redelivered message counts once
            if len(window) > MAX_WINDOW:
                del self._windows[chat_id][user_id]
        if len(self._pending) >= self.batch and not self._failing:
            self.flush(quietly=True)

    def flush(self, *, quietly: bool = False) -> int:
        """Write the pending rows; if the database is unreachable keep them for the next try.

        ``quietly``: log the error instead of raising it (the message path and the timer must
        not fail because the table is briefly unreachable).
        """
        if not self._pending:
            return 0
        rows = self._pending
        self._pending = []
        try:
            self._write(rows)
        except OperationalError as exc:  # unreachable, locked, disk full: try again later
            self._failing = True
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
        self._failing = False
        return len(rows)

    def _write(self, rows: list[NotedMessage]) -> None:
        try:
            with self.db.transaction() as session:
                ModerationRepository(session).remember_messages(rows)
        except OperationalError:
            raise
        except SQLAlchemyError as exc:
            # Not an outage: some row the table refuses. Keep the others, one by one, so one
            # bad row cannot hold up the queue.
            log.warning("a batch of noted messages was refused (%s); writing one by one", exc)
            for row in rows:
                try:
                    with self.db.transaction() as session:
                        ModerationRepository(session).remember_messages([row])
                except OperationalError:
                    raise
                except SQLAlchemyError as error:
                    self.dropped += 1
                    log.warning("dropped a noted message the table refused: %s", error)

    def times(
        self, chat_id: int, user_id: int, since: datetime, *, shared: bool = False
    ) -> list[datetime]:
        """When the member's messages after ``since`` were sent, oldest first, an album once.

        Call after ``note`` for the message being judged, so it is among them.
        """
        key = (chat_id, user_id)
        window = self._window(chat_id, user_id)
        if window is not None:
            window[:] = [entry for entry in window if entry[0] > since]
        if window is None or (shared and len(window) > 1):
            if shared and window is not None:
                self.flush(quietly=True)  # a burst: the other replicas read our rows too
            window = self._read(key, since) or window
        return _once_per_album(window or [])

    def _window(self, chat_id: int, user_id: int) -> Window | None:
        members = self._windows.get(chat_id)
        return None if members is None else members.get(user_id)

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
        stored = {message_id for _at, _album, message_id in rows}
        for row in self._pending:
            mine = (row.chat_id, row.user_id) == key and row.at > since
            if mine and row.message_id not in stored:
                stored.add(row.message_id)
                rows.append((row.at, row.album, row.message_id))
        if sum(map(len, self._windows.values())) >= self.max_windows:
            self._windows.clear()  # simple and rare: members are read once more
        self._windows.setdefault(key[0], {})[key[1]] = rows
        return rows


def _once_per_album(window: Window) -> list[datetime]:
    seen: set[str] = set()
    times: list[datetime] = []
    for at, album, _message_id in window:
        if album is not None:
            if album in seen:
                continue
            seen.add(album)
        times.append(at)
    return times
