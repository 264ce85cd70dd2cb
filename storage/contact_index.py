"""An in-memory gram index of the contact directory, kept in sync with the ``contacts`` table.

The lookup ranks consented contacts by how many of the query's grams (trigrams, plus bigrams
of short words: ``moderation.contacts.trigrams``) occur in their ``search_text``, and keeps the
best 200 for fuzzy scoring. Done in SQL that was one ``LIKE '%gram%'`` per gram over every row
(≈ 230 ms at 100,000 contacts). Here each gram maps to the contacts containing it — a sorted
array of ids, or a bitmask (bit = contact id) once it is common — and the per-contact counts
are added up bit-sliced over those masks, so a query costs a few dozen big-integer operations.
The candidates are exactly those of the SQL ranking (same grams, same counts, ties by id); the
old query stays as ``ContactRepository.scan_candidates`` and a test compares the two.

Sync: every flush that touches a ``Contact`` bumps ``directory_version`` in the same
transaction (an ORM event, so every process and every write path does it). After commit this
process marks those ids dirty in its index; a search first reads the version (one primary-key
lookup): unchanged → use the index; only our own changes → reload those rows; another
process's changes → reload those too, from the change log (below); anything the log cannot
replay → rebuild from the table, in a thread, while
lookups are answered by the SQL ranking (``scan_candidates``, the same candidates): a rebuild
over 100,000 contacts takes seconds of CPU, and on the event loop it held every update up.

Catch-up: the same flush also logs each changed contact with its search_text before the change
in ``contact_changes`` (``ContactChange``). An index behind by another process's writes reads
the log past its version in one statement and reloads just those contacts, like its own
changes; only when that is too much (over ``CATCH_UP_CONTACTS`` contacts or ``CATCH_UP_ROWS``
rows) or the log has a gap (pruned, or a bulk write that only bumped the version) does it
rebuild. An erased contact's texts are blanked in the log (NULL: unknown; /forgetme leaves no
copy) and an index behind takes it out by id. The ``contact-index`` sweep keeps the newest
``LOG_KEPT`` versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Engine, Integer, delete, event, insert, inspect, select, update
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from storage.db import Database, one_of, upsert_insert
from storage.models import Contact, ContactChange, DirectoryVersion

DENSE_FRACTION = 32  # a gram in more than 1/32 of the id range is kept as a bitmask
MIN_DENSE = 256
CHUNK_ROWS, CHUNK_GRAMS = 5000, 200  # a background rebuild lets other work run this often
_CHANGES = "contact_index_changes"
Changes = dict[int, str | None]  # contact id → its search_text before the change
# Catching up from the change log beyond this reloads about as much as a rebuild costs (and a
# rebuild does not hold the lookup up: the database's gram index answers meanwhile).
CATCH_UP_CONTACTS, CATCH_UP_ROWS = 200, 1000
# Log versions kept: fixed, not a setting — an index more than this behind rebuilds anyway
# (see CATCH_UP_ROWS), and each version is a row or a few, so the table stays small.
LOG_KEPT = 1000
NARROW_MAX = 2**31 - 1  # postings hold ids in 4 bytes up to here, in 8 past it
UNINDEXED = 0  # the contact_id logged for a version that changed nothing the index holds


def _grams_of_word(word: str) -> frozenset[str]:
    return frozenset(
        [word[i : i + 3] for i in range(len(word) - 2)]
        + [word[i : i + 2] for i in range(len(word) - 1)]
    )


# Names, organisations and places repeat a lot in changes and queries. A rebuild does not use
# the cache: each word comes once there, and filling it held ~6 MB of grams at 100,000 contacts.
_word_grams = functools.lru_cache(maxsize=8192)(_grams_of_word)


def grams_of(text: str) -> set[str]:
    """Every bigram and trigram inside each word: any query gram is one of these."""
    return set().union(*map(_word_grams, text.split()))


def _append(postings: dict[str, array[int]], key: str, contact_id: int) -> array[int]:
    """Add ``contact_id`` to ``postings[key]``: 4 bytes an id, 8 once an id needs more."""
    ids = postings.get(key)
    if ids is None:
        ids = postings[key] = array("i")
    if contact_id > NARROW_MAX and ids.typecode == "i":  # a BIGINT key: this list widens
        ids = postings[key] = array("q", ids)
    ids.append(contact_id)
    return ids


def _mask(ids: Iterable[int], top: int) -> int:
    bits = bytearray(top // 8 + 1)
    for i in ids:
        bits[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(bits, "little")


def _lowest(mask: int, count: int) -> list[int]:
    """The positions of the ``count`` lowest set bits, ascending."""
    found: list[int] = []
    if mask.bit_count() <= 16:  # few: peel them off (each step copies the whole integer)
        while mask and len(found) < count:
            low = mask & -mask
            found.append(low.bit_length() - 1)
            mask ^= low
        return found
    bits = bin(mask)[:1:-1]  # many: one pass to text, then find each "1" (bit i at index i)
    at = bits.find("1")
    while at >= 0 and len(found) < count:
        found.append(at)
        at = bits.find("1", at + 1)
    return found


class ContactIndex:
    def __init__(self) -> None:
        self.present = 0  # bitmask of the contact ids in the index (the consented ones)
        self.sparse: dict[str, array[int]] = {}
        self.dense: dict[str, int] = {}
        self.top = 0  # highest contact id seen
        self.version: int | None = None  # the directory version the index reflects
        # ids changed by this process since, with the search_text the index holds for each
        # (None: not in the index before); they are reloaded before the next query.
        self.dirty: dict[int, str | None] = {}
        self.stale = True
        self.notes: list[tuple[Changes, int, int]] | None = None  # kept while warming
        self.building: asyncio.Task[None] | None = None  # a rebuild under way in a thread
        self.rebuilds = 0  # full rebuilds started (tests and benchmarks watch it)

    # --- maintenance ---------------------------------------------------------------------------
    def _threshold(self) -> int:
        return max(MIN_DENSE, self.top // DENSE_FRACTION)

    def _add(self, contact_id: int, text: str) -> None:
        self.present |= 1 << contact_id
        self.top = max(self.top, contact_id)
        bit = 1 << contact_id
        for gram in grams_of(text):
            if gram in self.dense:
                self.dense[gram] |= bit
                continue
            ids = _append(self.sparse, gram, contact_id)
            if len(ids) > self._threshold():
                self.dense[gram] = _mask(ids, self.top)
                del self.sparse[gram]

    def _remove(self, contact_id: int, text: str) -> None:
        """Take out a contact indexed with ``text`` (nothing happens if it is not indexed)."""
        bit = 1 << contact_id
        if not self.present & bit:
            return
        self.present &= ~bit
        for gram in grams_of(text):
            if gram in self.dense:
                self.dense[gram] &= ~bit
            elif gram in self.sparse:
                ids = self.sparse[gram]
                with contextlib.suppress(ValueError):
                    ids.remove(contact_id)
                if not ids:
                    del self.sparse[gram]

    def _remove_unknown(self, ids: set[int]) -> None:
        """Take out contacts whose indexed text is unknown (erased: the log keeps no text of
        them) by one pass over every posting — tens of ms at 100,000 contacts, not a rebuild."""
        ids = {i for i in ids if self.present >> i & 1}
        if not ids:
            return
        mask = _mask(ids, max(ids))
        self.present &= ~mask
        for gram in self.dense:
            self.dense[gram] &= ~mask
        for gram, postings in list(self.sparse.items()):
            if not ids.isdisjoint(postings):
                kept = array(postings.typecode, (i for i in postings if i not in ids))
                if kept:
                    self.sparse[gram] = kept
                else:
                    del self.sparse[gram]

    def rebuild(self, rows: Iterable[tuple[int, str]], version: int) -> None:
        for _ in self._build(rows, version):
            pass

    def _build(self, rows: Iterable[tuple[int, str]], version: int) -> Iterator[None]:
        """Rebuild from (id, search_text) rows, pausing (yield) every few thousand rows.

        Words repeat (names, organisations, places), so contacts are grouped by word first and
        each gram's postings are the union of its words' — far less work and memory than one
        posting per (contact, gram).
        """
        by_word: dict[str, array[int]] = {}
        present = array("q")  # 8 bytes an id; a list of ints was 36 (3.6 MB at the peak)
        for n, (contact_id, text) in enumerate(rows, 1):
            present.append(contact_id)
            for word in set(text.split()):
                _append(by_word, word, contact_id)
            if n % CHUNK_ROWS == 0:
                yield
        self.top = max(present, default=0)
        code = "i" if self.top <= NARROW_MAX else "q"
        if code == "q":  # one list widened: all do, so they can be joined below
            by_word = {word: array(code, ids) for word, ids in by_word.items()}
        self.present = _mask(present, self.top)
        del present
        threshold = self._threshold()
        by_gram: dict[str, list[str]] = {}
        for word in by_word:
            for gram in _grams_of_word(word):
                by_gram.setdefault(gram, []).append(word)
        word_masks: dict[str, int] = {}  # masks of frequent words, each made once
        self.dense, self.sparse = {}, {}
        for n in range(1, len(by_gram) + 1):
            # Taken out as it is used: the word lists shrink while the postings grow (the
            # build's peak was both at once, ~30 MB over the index at 100,000 contacts).
            gram, words = by_gram.popitem()
            size = sum(len(by_word[w]) for w in words)
            if size > threshold:
                mask, rare = 0, []
                for word in words:
                    if len(by_word[word]) > threshold:
                        if word not in word_masks:
                            word_masks[word] = _mask(by_word[word], self.top)
                        mask |= word_masks[word]
                    else:
                        rare.append(by_word[word])
                self.dense[gram] = mask | _mask(chain.from_iterable(rare), self.top)
            else:
                ids = array(code)
                for word in words:
                    ids.extend(by_word[word])
                # A contact with two words holding the gram is listed once.
                if len(words) > 1:
                    ids = array(ids.typecode, sorted(set(ids)))
                self.sparse[gram] = ids
            if n % CHUNK_GRAMS == 0:
                yield
        self.version, self.dirty, self.stale = version, {}, False

    def note(self, changes: Changes, first: int, last: int) -> None:
        """This process committed ``changes`` (id → search_text before them, None: unknown),
        moving the directory version from first-1 to last."""
        if self.notes is not None:
            self.notes.append((changes, first, last))
        if self.version is not None and not self.stale and last <= self.version:
            return  # already in the rows the index was built from
        if self.version is None or None in changes.values():
            self.stale = True
            return
        if self.version != first - 1:
            # Another process wrote in between: the change log holds its changes and ours,
            # and refresh() catches up from it (or finds it cannot, and rebuilds).
            self.stale = self.version > first - 1
            return
        self.version = last
        for contact_id, before in changes.items():
            self.dirty.setdefault(contact_id, before)  # the first "before" is what is indexed

    def refresh(self, session: Session) -> bool:
        """Bring the index up to date with the directory; False when only a full rebuild can,
        which is then started in the background (the caller answers from SQL meanwhile)."""
        version = current_version(session)
        if not self.stale and self.version is not None and self.version < version:
            self._catch_up(session, version)
        if self.stale or self.version != version:
            self.start_building(session)
            return False
        if self.dirty:
            changed, self.dirty = self.dirty, {}
            found = {
                int(i): (str(t), c)
                for i, t, c in session.execute(
                    select(Contact.id, Contact.search_text, Contact.consent).where(
                        one_of(session, Contact.id, changed, Integer)
                    )
                )
            }
            for contact_id, before in changed.items():
                if before is not None:
                    self._remove(contact_id, before)
                text, consent = found.get(contact_id, ("", ""))
                if consent == "given":
                    self._add(contact_id, text)
        return True

    def _catch_up(self, session: Session, version: int) -> None:
        """Queue the contacts the change log holds past our version for reloading (as our own
        changes are), and move to ``version``; or mark the index stale when the log cannot."""
        assert self.version is not None
        rows = session.execute(
            select(ContactChange.version, ContactChange.contact_id, ContactChange.before)
            .where(ContactChange.version > self.version, ContactChange.version <= version)
            .order_by(ContactChange.version)
            .limit(CATCH_UP_ROWS + 1)
        ).all()
        befores: Changes = {}
        for _, contact_id, before in rows:  # by version: the first "before" is the indexed one
            if contact_id != UNINDEXED and contact_id not in self.dirty:
                befores.setdefault(int(contact_id), before)
        if (
            len(rows) > CATCH_UP_ROWS
            or len(befores) > CATCH_UP_CONTACTS
            or len({v for v, _, _ in rows}) != version - self.version  # a gap: pruned, or bulk
        ):
            self.stale = True
            return
        # An unknown "before" (an erased contact's, blanked in the log): removed from every
        # posting now; None in dirty then means "nothing indexed", and the reload adds it back
        # if it is still there and consented.
        self._remove_unknown({i for i, before in befores.items() if before is None})
        self.dirty.update(befores)
        self.version = version

    def start_building(self, session: Session) -> None:
        if self.building is not None and not self.building.done():
            return
        self.rebuilds += 1
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a command line without an event loop: build here and now
            self.rebuild(_consented(session), current_version(session))
            return
        self.building = loop.create_task(build(engine, self), name="contact-index")

    # --- the query -------------------------------------------------------------------------------
    def candidates(self, grams: Sequence[str], limit: int) -> list[int]:
        """Ids of the ``limit`` consented contacts containing the most of ``grams``; ties by id."""
        planes: list[int] = []  # bit-sliced counters: plane b holds bit b of every count
        for gram in set(grams):
            if gram in self.dense:
                carry = self.dense[gram]
            elif gram in self.sparse:
                carry = _mask(self.sparse[gram], self.top)
            else:
                continue
            for b in range(len(planes)):
                planes[b], carry = planes[b] ^ carry, planes[b] & carry
                if not carry:
                    break
            if carry:
                planes.append(carry)
        if not planes:
            return []
        anything = 0
        for plane in planes:
            anything |= plane
        chosen: list[int] = []
        for score in range(2 ** len(planes) - 1, 0, -1):
            exact = anything
            for b, plane in enumerate(planes):
                exact &= plane if score >> b & 1 else ~plane
            if exact:
                chosen.extend(_lowest(exact, limit - len(chosen)))
                if len(chosen) >= limit:
                    break
        return chosen


def _consented(session: Session) -> Iterator[tuple[int, str]]:
    """(id, search_text) of every consented contact, fetched a few thousand rows at a time."""
    query = (
        select(Contact.id, Contact.search_text)
        .where(Contact.consent == "given")
        .execution_options(yield_per=CHUNK_ROWS)
    )
    for contact_id, text in session.execute(query):
        yield int(contact_id), str(text)


def _build_apart(engine: Engine) -> ContactIndex:
    """A new index from the table, read in one transaction (run in a worker thread)."""
    fresh = ContactIndex()
    with Session(engine) as session, session.begin():
        version = current_version(session)
        fresh.rebuild(_consented(session), version)
        if engine.dialect.name == "sqlite":
            # The read filled this pooled connection's page cache (1 MiB, storage.db) with contacts
            # the index now holds itself: hand those pages back.
            session.execute(sql("PRAGMA shrink_memory"))
    return fresh


async def build(engine: Engine, index: ContactIndex) -> None:
    """Rebuild ``index`` in a worker thread (the event loop keeps answering: a build holds the
    interpreter lock only for a few milliseconds at a time), then replay the changes this
    process committed meanwhile and put the new index in place."""
    notes: list[tuple[Changes, int, int]] = []
    index.notes = notes
    try:
        fresh = await asyncio.to_thread(_build_apart, engine)
        for changes, first, last in notes:
            fresh.note(changes, first, last)
    finally:
        if index.notes is notes:
            index.notes = None
    if not fresh.stale and (index.stale or (fresh.version or 0) >= (index.version or 0)):
        fresh.building, fresh.rebuilds = index.building, index.rebuilds
        index.__dict__.update(fresh.__dict__)
    release_free_memory()  # the build's scaffolding and, after a rebuild, the old index


def release_free_memory() -> None:
    """Ask glibc's allocator to return its free pages to the system (``malloc_trim``).

    A build allocates in a worker thread, whose allocator arena otherwise keeps the freed
    pages (~5 MB over 100,000 contacts) for as long as the process runs. Elsewhere (another
    C library) nothing happens.
    """
    import ctypes  # only here: nothing else needs it, and the first build is after start-up

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def ready(db: Database) -> bool:
    """Whether the in-memory index answers lookups now: brought up to date from the change log
    when it can be, else a rebuild is started and False returned (the database's gram index
    answers meanwhile, best in a worker thread: its query can take a few hundred ms). Call it
    on the event loop, which owns the index."""
    with db.transaction() as session:
        return index_for(session).refresh(session)


async def warm(db: Database) -> None:
    """Rebuild the index if it is behind the directory (start-up, or after another process
    changed it), without blocking the event loop, so no lookup waits for it."""
    with db.transaction() as session:
        index = index_for(session)
        if index.version is not None and index.refresh(session):
            return  # up to date, or caught up from the change log
        if index.building is None or index.building.done():
            loop = asyncio.get_running_loop()
            index.rebuilds += 1
            index.building = loop.create_task(build(db.engine, index), name="contact-index")
        building = index.building
    await building


def prune_log(session: Session) -> int:
    """Delete the change log older than the newest ``LOG_KEPT`` versions; rows deleted."""
    cut = current_version(session) - LOG_KEPT
    result = session.execute(delete(ContactChange).where(ContactChange.version <= cut))
    return int(getattr(result, "rowcount", 0) or 0)


# --------------------------------------------------------------------------- one per database
_INDEXES: weakref.WeakKeyDictionary[Engine, ContactIndex] = weakref.WeakKeyDictionary()


def index_for(session: Session) -> ContactIndex:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    if engine not in _INDEXES:
        _INDEXES[engine] = ContactIndex()
    return _INDEXES[engine]


def current_version(session: Session) -> int:
    return int(
        session.scalar(select(DirectoryVersion.version).where(DirectoryVersion.id == 1)) or 0
    )


def bump_version(session: Session) -> int:
    """Move the directory version on, in the session's transaction; returns the new one.

    The ORM event below does it for every change to a ``Contact``; a bulk statement that
    bypasses the ORM (a benchmark's mass insert) must call this itself.
    """
    connection = session.connection()
    bump = (
        update(DirectoryVersion)
        .where(DirectoryVersion.id == 1)
        .values(version=DirectoryVersion.version + 1)
    )
    if not connection.execute(bump).rowcount:
        # The row is made on first use (a freshly migrated database stays empty, as backups
        # expect); two processes may race to make it, hence ON CONFLICT DO NOTHING.
        create = upsert_insert(connection.dialect.name)
        connection.execute(
            create(DirectoryVersion).values(id=1, version=0).on_conflict_do_nothing()
        )
        connection.execute(bump)
    return int(
        connection.execute(
            select(DirectoryVersion.version).where(DirectoryVersion.id == 1)
        ).scalar_one()
    )


def note_unindexed_change(session: Session) -> None:
    """A bulk statement changed only entries the index never holds (imported entries waiting
    for consent): the version moves on, and this process's index follows without reloading."""
    version = bump_version(session)
    _log(session, version, {UNINDEXED: None})
    noted = session.info.setdefault(_CHANGES, {"changes": {}, "first": version})
    noted["last"] = version


def _log(session: Session, version: int, changed: Changes) -> None:
    """Write the change log rows of one version (Core, on the flush's connection: no flush)."""
    rows = [{"version": version, "contact_id": i, "before": b} for i, b in changed.items()]
    session.connection().execute(insert(ContactChange), rows)


NEW = ""  # the "before" of a contact created in this transaction: nothing indexed


@event.listens_for(Session, "after_flush")
def _bump_version(session: Session, _context: Any) -> None:
    changed: Changes = {}
    for obj in chain(session.new, session.dirty, session.deleted):
        if not isinstance(obj, Contact) or obj.id is None:
            continue
        if obj in session.dirty and not session.is_modified(obj):
            continue  # a value set to what it was (a repeated press): nothing to log or reload
        changed[obj.id] = NEW if obj in session.new else _text_before(obj)
    if not changed:
        return
    version = bump_version(session)
    # An erased contact's texts do not stay in the log (/forgetme): its rows say "unknown", and
    # an index behind takes it out by id (``_remove_unknown``); this process has the text.
    erased = [obj.id for obj in session.deleted if isinstance(obj, Contact) and obj.id is not None]
    if erased:
        session.connection().execute(
            update(ContactChange).where(ContactChange.contact_id.in_(erased)).values(before=None)
        )
    _log(session, version, {i: None if i in erased else b for i, b in changed.items()})
    noted = session.info.setdefault(_CHANGES, {"changes": {}, "first": version})
    for contact_id, before in changed.items():
        noted["changes"].setdefault(contact_id, before)
    noted["last"] = version


def _text_before(contact: Contact) -> str | None:
    """The search_text the contact had before this flush (None when it cannot be known)."""
    history = inspect(contact).attrs.search_text.history
    if history.deleted:
        return str(history.deleted[0])
    if history.unchanged:
        return str(history.unchanged[0])
    return None


@event.listens_for(Session, "after_commit")
def _apply_changes(session: Session) -> None:
    noted = session.info.pop(_CHANGES, None)
    if noted is None:
        return
    engine = session.get_bind()
    index = _INDEXES.get(engine) if isinstance(engine, Engine) else None
    if index is not None:
        index.note(noted["changes"], noted["first"], noted["last"])


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGES, None)
