"""The directory's gram ranking served by an index inside the database (the answer while the
in-memory index of ``storage.contact_index`` is being built).

The ranking is ``ContactRepository.scan_candidates``'s: consented contacts by the number of the
query's grams (trigrams, and bigrams of short words) found in ``search_text``, ties by id. The
scan tests every gram on every row; here each gram is one indexed lookup returning the ids that
contain it, and the ids are counted (UNION ALL, GROUP BY, ORDER BY count, id; on PostgreSQL
the rows found are scored instead), so the cost follows the grams' postings, not the table.

* SQLite: a contentless FTS5 table ``contacts_grams`` with the trigram tokenizer
  (case-sensitive), holding consented contacts only, kept in sync by triggers. FTS5 cannot
  match fewer than 3 characters, so a second column ``pairs`` holds every in-word bigram
  followed by ``|`` (a character ``search_text`` never contains): bigram ``ab`` is the trigram
  ``ab|`` there. Both columns are ASCII-lower-cased (SQLite's ``lower``), and so are the grams:
  the scan's ``LIKE`` ignores the case of ASCII letters only, and so does this.
* PostgreSQL: a GIN index on ``contact_grams(search_text)`` (every in-word bigram and trigram,
  an immutable SQL function), partial on consent. It finds the rows holding any of the grams
  (``&&``, exact: a gram has no space, so ``LIKE '%g%'`` holds exactly when g is one of them),
  which are then scored by the scan's own ``LIKE`` expressions.
  ``pg_trgm`` was measured too (``bench/native_index.py``): its GIN index cannot serve the
  2-character grams, and a LIKE it serves is rechecked on the heap row.

Neither is in the models (``modelled`` keeps autogenerate from dropping them). On SQLite a
migration that copies ``contacts`` (Alembic's batch mode) drops the triggers with the old
table: it must run ``SQLITE_DROP``, then ``SQLITE_CREATE`` and ``SQLITE_FILL`` again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

FTS = "contacts_grams"


def _pairs(column: str) -> str:
    """SQL: every 2-character substring of ``column`` without a space, each followed by '|'
    (a JSON array of n zeros stands in for a series: triggers cannot use a recursive CTE)."""
    return (
        f"(SELECT group_concat(p || '|', '') FROM (SELECT substr(lower({column}), j.key + 1, 2)"
        f" AS p FROM json_each('[' || rtrim(replace(hex(zeroblob(max(length({column}) - 1, 0))),"
        f" '00', '0,'), ',') || ']') AS j) WHERE instr(p, ' ') = 0)"
    )


def _add(prefix: str) -> str:
    return (
        f"INSERT INTO {FTS} (rowid, search_text, pairs) SELECT {prefix}.id, "
        f"lower({prefix}.search_text), {_pairs(prefix + '.search_text')}"
    )


def _remove(prefix: str) -> str:
    return (
        f"INSERT INTO {FTS} ({FTS}, rowid, search_text, pairs) SELECT 'delete', {prefix}.id, "
        f"lower({prefix}.search_text), {_pairs(prefix + '.search_text')}"
    )


SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(search_text, pairs, content='', "
    "tokenize='trigram case_sensitive 1')",
    f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON contacts WHEN new.consent = 'given' "
    f"BEGIN {_add('new')}; END",
    f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON contacts WHEN old.consent = 'given' "
    f"BEGIN {_remove('old')}; END",
    f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF id, search_text, consent ON contacts "
    "WHEN old.consent = 'given' OR new.consent = 'given' BEGIN "
    f"{_remove('old')} WHERE old.consent = 'given'; {_add('new')} WHERE new.consent = 'given'; "
    "END",
]
SQLITE_FILL = f"{_add('contacts')} FROM contacts WHERE consent = 'given'"
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {FTS}_update",
    f"DROP TRIGGER IF EXISTS {FTS}_delete",
    f"DROP TRIGGER IF EXISTS {FTS}_insert",
    f"DROP TABLE IF EXISTS {FTS}",
]

PG_CREATE = [
    "CREATE OR REPLACE FUNCTION contact_grams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE "
    "STRICT PARALLEL SAFE AS $$ SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (SELECT "
    "substr(t, i, n) AS g, n FROM generate_series(1, length(t)) AS i CROSS JOIN (VALUES (2), "
    "(3)) AS v(n)) AS s WHERE length(g) = n AND strpos(g, ' ') = 0 $$",
    "CREATE INDEX ix_contacts_grams ON contacts USING gin (contact_grams(search_text)) "
    "WHERE consent = 'given'",
]
PG_DROP = ["DROP INDEX IF EXISTS ix_contacts_grams", "DROP FUNCTION IF EXISTS contact_grams(text)"]


def modelled(_object: Any, name: str | None, _type: str, _reflected: bool, _other: Any) -> bool:
    """Alembic's ``include_object``: False for what this module makes outside the models."""
    return not (name or "").startswith((FTS, "ix_contacts_grams"))


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _phrase(gram: str) -> str:
    return '"' + gram.replace('"', '""') + '"'


def sqlite_match(gram: str) -> str:
    """The FTS5 query finding the rows whose search_text contains ``gram`` (as LIKE does)."""
    low = gram.translate(_ASCII_LOWER)
    if len(low) >= 3:
        return f"search_text : {_phrase(low)}"
    return f"pairs : {_phrase(low + '|')}"


def _like(gram: str) -> str:
    return "%" + gram.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def candidate_ids(session: Session, grams: Sequence[str], limit: int) -> list[int]:
    """Ids of the ``limit`` consented contacts containing the most of ``grams`` (2 or 3
    characters each, no spaces), ties by id: the scan's ranking, from the native index."""
    if not grams:
        return []
    params: dict[str, object] = {"limit": limit}
    if session.get_bind().dialect.name == "postgresql":
        # One bitmap scan for the rows holding any gram, scored by the scan's own LIKEs:
        # faster here than a count per gram, each of which visits its rows on the heap.
        params["grams"] = list(grams)
        hits = []
        for n, gram in enumerate(grams):
            params[f"p{n}"] = _like(gram)
            hits.append(f"CASE WHEN search_text LIKE :p{n} ESCAPE '/' THEN 1 ELSE 0 END")
        query = (
            "SELECT id FROM contacts WHERE consent = 'given' AND contact_grams(search_text) "
            f"&& CAST(:grams AS text[]) ORDER BY {' + '.join(hits)} DESC, id LIMIT :limit"
        )
    else:
        parts = []
        for n, gram in enumerate(grams):
            params[f"g{n}"] = sqlite_match(gram)
            parts.append(f"SELECT rowid AS id FROM {FTS} WHERE {FTS} MATCH :g{n}")
        query = (
            f"SELECT id FROM ({' UNION ALL '.join(parts)}) AS hits "
            "GROUP BY id ORDER BY count(*) DESC, id LIMIT :limit"
        )
    return [int(i) for i in session.execute(text(query), params).scalars()]
