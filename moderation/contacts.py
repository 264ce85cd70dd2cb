"""Who may see which contact field: the one consent policy (seed 004, "Protection Cluster
member contact information"), plus the pure helpers around it (normalising, searching text).

No Telegram import, no database: every lookup, export and reply asks :func:`visible_fields`.
``phonenumbers`` and ``email_validator`` are imported when a value is first checked, not to
start the bot (a tenth of a second of its cold start).
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from i18n import N_, _, ngettext
from moderation.plaintext import strip_controls


class Level(enum.StrEnum):
    """How widely a field is shared, from widest to narrowest."""

    PUBLIC = "public"  # every group member
    CLUSTER = "cluster"  # members and coordinators of the same cluster, and moderators
    COORDINATORS = "coordinators"  # moderators and coordinators of the person's cluster(s)
    PRIVATE = "private"  # nobody without an explicit yes


FIELDS: tuple[str, ...] = (
    "name",
    "organisation",
    "role",
    "clusters",
    "location",
    "phone",
    "email",
    "telegram",
    "focal_point",
)
# English msgids: show them with field_label(), which translates.
FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"),
    "organisation": N_("Organisation"),
    "role": N_("Role"),
    "clusters": N_("Clusters"),
    "location": N_("Location"),
    "phone": N_("Phone"),
    "email": N_("E-mail"),
    "telegram": N_("Telegram"),
    "focal_point": N_("Organisation focal point"),
}
LEVEL_LABELS: dict[str, str] = {
    "public": N_("public"),
    "cluster": N_("cluster"),
    "coordinators": N_("coordinators"),
    "private": N_("private"),
}


def field_label(name: str) -> str:
    """A field's name in the current language."""
    return _(FIELD_LABELS[name])


def level_label(level: str) -> str:
    """A sharing level in the current language."""
    return _(LEVEL_LABELS.get(level, level))


# Fields a lookup may match on (never phone or e-mail: no reverse lookup of a number).
SEARCHABLE: tuple[str, ...] = ("name", "organisation", "role", "clusters", "location")
# What a coordinator of another cluster may always get about an organisation's focal point.
FOCAL_POINT_FIELDS: frozenset[str] = frozenset(
    {"name", "organisation", "focal_point", "phone", "email", "telegram"}
)
DEFAULT_LEVELS: dict[str, Level] = {
    "name": Level.PUBLIC,
    "organisation": Level.PUBLIC,
    "role": Level.PUBLIC,
    "clusters": Level.PUBLIC,
    "location": Level.CLUSTER,
    "phone": Level.PRIVATE,
    "email": Level.COORDINATORS,
    "telegram": Level.CLUSTER,
    "focal_point": Level.PUBLIC,
}


class GrantKind(enum.StrEnum):
    CONSENT = "consent"  # the person said "Share with this person"
    OVERRIDE = "override"  # a moderator override with a written reason (where allowed)


@dataclass(frozen=True)
class Requester:
    user_id: int
    is_member: bool  # present in a configured group (or a moderator)
    is_moderator: bool = False
    is_cluster_coordinator: bool = False
    clusters: frozenset[str] = frozenset()

    @property
    def is_coordinator(self) -> bool:
        return self.is_moderator or self.is_cluster_coordinator


@dataclass(frozen=True)
class Subject:
    contact_id: int
    user_id: int | None
    consented: bool
    clusters: frozenset[str] = frozenset()
    levels: Mapping[str, Level] = field(default_factory=dict)
    is_focal_point: bool = False

    def level(self, name: str) -> Level:
        return self.levels.get(name, Level.PRIVATE)


@dataclass(frozen=True)
class Grant:
    """Permission for one requester to see some fields of one contact."""

    requester_id: int
    contact_id: int
    fields: frozenset[str]
    kind: GrantKind = GrantKind.CONSENT
    expires_at: datetime | None = None  # overrides only; a consent lasts until revoked


def counting_grants(
    grants: Iterable[Grant],
    now: datetime,
    *,
    overrides_allowed: bool,
    requester_is_moderator: bool,
    for_export: bool = False,
) -> list[Grant]:
    """The grants that still count right now. A consent counts until revoked (revoked ones are
    never loaded). An override counts only while overrides are allowed, the requester is a
    moderator now (the live role), and it has not expired; it never feeds an export."""
    live: list[Grant] = []
    for grant in grants:
        if grant.kind is GrantKind.OVERRIDE and (
            for_export
            or not overrides_allowed
            or not requester_is_moderator
            or grant.expires_at is None
            or grant.expires_at <= now
        ):
            continue
        live.append(grant)
    return live


@functools.lru_cache(maxsize=1024)
def _norm_cluster(name: str) -> str:
    return name.strip().casefold()


def shares_cluster(a: Iterable[str], b: Iterable[str]) -> bool:
    return bool({_norm_cluster(x) for x in a} & {_norm_cluster(y) for y in b})


LEVEL_ORDER: tuple[Level, ...] = (Level.PUBLIC, Level.CLUSTER, Level.COORDINATORS, Level.PRIVATE)


def clearance(requester: Requester, subject: Subject, name: str) -> Level | None:
    """The widest level of field ``name`` of ``subject`` that ``requester`` sees without a
    grant (None: nothing at all). The lattice public ⊂ cluster ⊂ coordinators ⊂ private:
    nobody's clearance is ever above a same-cluster coordinator's, and private needs a yes."""
    if not requester.is_member:
        return None
    return _clearance(
        requester, subject, name, shares_cluster(requester.clusters, subject.clusters)
    )


def _clearance(requester: Requester, subject: Subject, name: str, same_cluster: bool) -> Level:
    """:func:`clearance` for a member, the shared cluster worked out once per subject."""
    if requester.is_moderator:
        return Level.COORDINATORS
    if requester.is_cluster_coordinator:
        if same_cluster:
            return Level.COORDINATORS
        # Coordinators of another cluster: the organisation, and an organisation's focal point
        # (seed 004: coordinators link members with other clusters' coordinators), no more.
        if name == "organisation" or (subject.is_focal_point and name in FOCAL_POINT_FIELDS):
            return Level.COORDINATORS
        return Level.PUBLIC
    return Level.CLUSTER if same_cluster else Level.PUBLIC


_RANK = {level: rank for rank, level in enumerate(LEVEL_ORDER)}
_ALL_FIELDS = frozenset(FIELDS)


def may_see(requester: Requester, subject: Subject, name: str, grants: Iterable[Grant]) -> bool:
    """May ``requester`` see field ``name`` of ``subject``, given ``grants`` (the ones that
    still count: see :func:`counting_grants`)? One field of :func:`visible_fields`."""
    return name in visible_fields(requester, subject, grants)


def visible_fields(
    requester: Requester, subject: Subject, grants: Iterable[Grant]
) -> frozenset[str]:
    """THE policy: the fields of ``subject`` that ``requester`` may see, given ``grants``.
    A lookup asks it of 200 candidates, so what depends only on the pair is worked out once."""
    if subject.user_id is not None and requester.user_id == subject.user_id:
        return _ALL_FIELDS  # your own record
    granted: set[str] = set()
    for grant in grants:
        if (
            grant.requester_id == requester.user_id
            and grant.contact_id == subject.contact_id
            # An override never reaches someone who has not opted in; an explicit yes is opt-in.
            and (grant.kind is GrantKind.CONSENT or subject.consented)
        ):
            granted |= grant.fields
    # Imported people are invisible until they opt in; outsiders see nothing.
    if subject.consented and requester.is_member:
        same_cluster = shares_cluster(requester.clusters, subject.clusters)
        for name in FIELDS:
            allowed = _clearance(requester, subject, name, same_cluster)
            if _RANK[subject.level(name)] <= _RANK[allowed]:
                granted.add(name)
    return _ALL_FIELDS.intersection(granted)


def disclosed(
    requester: Requester,
    subject: Subject,
    values: Mapping[str, str],
    grants: Iterable[Grant],
) -> dict[str, str]:
    """The only way values leave the directory: the non-empty fields the policy allows."""
    allowed = visible_fields(requester, subject, grants)
    return {f: values[f] for f in FIELDS if f in allowed and values.get(f)}


def findable(
    requester: Requester, subject: Subject, values: Mapping[str, str], grants: Iterable[Grant]
) -> bool:
    """Could the requester's own search return this person? Only through a searchable field
    they may see (what "ask to be put in touch" is limited to)."""
    if not subject.consented:
        return False
    shown = disclosed(requester, subject, values, grants)
    return any(
        len(search_key(shown[f]).replace(" ", "")) >= MIN_QUERY for f in SEARCHABLE if f in shown
    )


MAX_NOTE = 300


def check_note(raw: str) -> str:
    """A requester's note: one line, at most MAX_NOTE characters, never cut."""
    return clean_text(raw, MAX_NOTE)


# --------------------------------------------------------------------------- normalising
class InvalidValue(ValueError):
    """A value a person typed that cannot be stored; the message says what was expected."""


def normalise_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 (+380441234567), or InvalidValue."""
    text = raw.strip()
    if not text:
        raise InvalidValue(_("a phone number is empty"))
    if len(text) > 40:
        raise InvalidValue(_("a phone number is at most 40 characters"))
    import phonenumbers

    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidValue(
            _("not a phone number; write it with the country code, e.g. +380 44 123 4567")
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(_("not a valid phone number; check the country code and the digits"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    text = raw.strip()
    if len(text) > 254:
        raise InvalidValue(_("an e-mail address is at most 254 characters"))
    # Our own sentences: the library's explanations are English and end with a full stop.
    local, at, domain = text.rpartition("@")
    if not at or "@" in local or " " in text:
        raise InvalidValue(
            _("an e-mail address has one @ and no spaces, like olena.petrenko@example.org")
        )
    if not local:
        raise InvalidValue(_("a name must come before the @, like olena.petrenko@example.org"))
    if "." not in domain.strip("."):
        raise InvalidValue(_("after the @ comes a domain with a dot, like example.org"))
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidValue(
            _(
                "{address} is not a valid e-mail address; check it for typing mistakes",
                address=text[:80],
            )
        ) from None


_HANDLE = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")


def normalise_handle(raw: str) -> str:
    text = raw.strip().removeprefix("https://t.me/").lstrip("@")
    if not _HANDLE.fullmatch(text):
        raise InvalidValue(_("a Telegram username is 4–32 letters, digits or _, like @olena_k"))
    return "@" + text


def clean_text(raw: str, limit: int = 120) -> str:
    """One line of plain text: control characters removed, spaces collapsed, length checked."""
    text = strip_controls(raw, keep=" ")
    text = " ".join(text.split())
    if len(text) > limit:
        raise InvalidValue(
            ngettext("at most {n} character, please", "at most {n} characters, please", limit)
        )
    return text


def split_clusters(raw: str) -> list[str]:
    parts = [clean_text(p, 60) for p in re.split(r"[;,|]", raw)]
    seen: dict[str, str] = {}
    for part in parts:
        if part and part.casefold() not in seen:
            seen[part.casefold()] = part
    if len(seen) > 10:
        raise InvalidValue(ngettext("at most {n} cluster", "at most {n} clusters", 10))
    return list(seen.values())


@functools.lru_cache(maxsize=16384)  # pure; organisations, roles and places repeat a lot
def search_key(text: str) -> str:
    """Lower-case, accents removed, punctuation as spaces: what queries are compared with."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


MIN_QUERY = 3
MAX_QUERY = 100


def check_query(raw: str) -> str:
    """The normalised query, or InvalidValue saying what a query must look like."""
    too_long = ngettext(
        "a search is at most {n} character", "a search is at most {n} characters", MAX_QUERY
    )
    if len(raw) > MAX_QUERY * 4:
        raise InvalidValue(too_long)
    key = search_key(raw)
    if len(key.replace(" ", "")) < MIN_QUERY:
        raise InvalidValue(
            ngettext(
                "a search needs at least {n} letter or digit: a name, organisation, role, "
                "cluster or place",
                "a search needs at least {n} letters or digits: a name, organisation, role, "
                "cluster or place",
                MIN_QUERY,
            )
        )
    if len(key) > MAX_QUERY:
        raise InvalidValue(too_long)
    digits = sum(ch.isdigit() for ch in key)
    if "@" in raw or digits >= 5:
        raise InvalidValue(_("searching by phone number or e-mail is not possible, by design"))
    return key


def trigrams(key: str) -> set[str]:
    grams: set[str] = set()
    for word in key.split():
        if len(word) < 3:
            continue
        grams.update(word[i : i + 3] for i in range(len(word) - 2))
        if len(word) <= 5:  # one typo breaks most trigrams of a short word: add bigrams
            grams.update(word[i : i + 2] for i in range(len(word) - 1))
    return grams


# --------------------------------------------------------------------------- CSV import
IMPORT_COLUMNS: tuple[str, ...] = (*FIELDS, "cluster_coordinator", "user_id")
MAX_IMPORT_ROWS = 200_000  # the default of contacts.import_max_rows
MAX_IMPORT_ERRORS = 20


@dataclass(frozen=True)
class ImportedContact:
    line: int
    name: str
    organisation: str = ""
    role: str = ""
    clusters: tuple[str, ...] = ()
    location: str = ""
    phone: str = ""
    email: str = ""
    telegram: str = ""
    focal_point: bool = False
    cluster_coordinator: bool = False
    user_id: int | None = None  # the Telegram user id: the only thing that links a person


def _user_id(text: str) -> int | None:
    value = text.strip()
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) < 2**52:
        raise InvalidValue(
            _("a user_id is the person's numeric Telegram id, got {value}", value=repr(value[:20]))
        )
    return int(value)


@dataclass
class ParsedImport:
    rows: list[ImportedContact] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("", "no", "n", "false", "0"):
        return False
    if value in ("yes", "y", "true", "1", "x"):
        return True
    raise InvalidValue(_("expected yes or no, got {value}", value=repr(text[:20])))


def parse_contacts_csv(
    data: bytes,
    max_bytes: int,
    region: str | None = None,
    max_rows: int = MAX_IMPORT_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> ParsedImport:
    """Validate a whole CSV file; any error means nothing may be imported.

    ``progress(rows checked, rows in the file)`` is called every 1,000 rows and at the end."""
    import csv
    import io

    result = ParsedImport()
    if len(data) > max_bytes:
        result.errors.append(
            _(
                "the file is {size:,} bytes; the limit is {limit:,} (contacts.import_max_bytes)",
                size=len(data),
                limit=max_bytes,
            )
        )
        return result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.errors.append(_("the file is not UTF-8 text; save it as “CSV UTF-8” and try again"))
        return result
    if "\x00" in text:
        result.errors.append(_("the file contains NUL bytes; it is not a CSV text file"))
        return result
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if header is None:
            result.errors.append(_("the file is empty"))
            return result
        columns = [h.strip().lower() for h in header]
        unknown = [c for c in columns if c not in IMPORT_COLUMNS]
        if unknown or "name" not in columns or len(set(columns)) != len(columns):
            expected = ", ".join(IMPORT_COLUMNS)
            if unknown:
                result.errors.append(
                    _(
                        "line 1: the header must name columns from: {columns} (name is "
                        "required, each once); unknown: {unknown}",
                        columns=expected,
                        unknown=", ".join(u[:30] for u in unknown[:5]),
                    )
                )
            else:
                result.errors.append(
                    _(
                        "line 1: the header must name columns from: {columns} (name is "
                        "required, each once)",
                        columns=expected,
                    )
                )
            return result
        total = sum(1 for raw in csv.reader(io.StringIO(text, newline="")) if "".join(raw).strip())
        if total - 1 > max_rows:  # the header is not a contact
            result.errors.append(
                ngettext(
                    "the file has {n:,} contact; the limit is {limit:,} (contacts.import_max_rows)",
                    "the file has {n:,} contacts; the limit is {limit:,} "
                    "(contacts.import_max_rows)",
                    total - 1,
                    limit=max_rows,
                )
            )
            return result
        seen: dict[str, int] = {}
        checked = 0
        for number, raw in enumerate(reader, start=2):
            if not any(cell.strip() for cell in raw):
                continue
            checked += 1
            if progress is not None and checked % 1000 == 0:
                progress(checked, total - 1)
            if len(raw) != len(columns):
                result.errors.append(
                    _(
                        "line {line}: {values} values for {columns} columns",
                        line=number,
                        values=len(raw),
                        columns=len(columns),
                    )
                )
                continue
            cells = dict(zip(columns, raw, strict=True))
            try:
                row = ImportedContact(
                    line=number,
                    name=clean_text(cells.get("name", ""), 200),
                    organisation=clean_text(cells.get("organisation", ""), 200),
                    role=clean_text(cells.get("role", ""), 200),
                    clusters=tuple(split_clusters(cells.get("clusters", ""))),
                    location=clean_text(cells.get("location", ""), 200),
                    phone=normalise_phone(cells["phone"], region)
                    if cells.get("phone", "").strip()
                    else "",
                    email=normalise_email(cells["email"]) if cells.get("email", "").strip() else "",
                    telegram=normalise_handle(cells["telegram"])
                    if cells.get("telegram", "").strip()
                    else "",
                    focal_point=_flag(cells.get("focal_point", "")),
                    cluster_coordinator=_flag(cells.get("cluster_coordinator", "")),
                    user_id=_user_id(cells.get("user_id", "")),
                )
                if len(row.name) < 2:
                    raise InvalidValue(_("a name is required"))
            except InvalidValue as exc:
                result.errors.append(_("line {line}: {problem}", line=number, problem=str(exc)))
                continue
            keys = (row.email.lower(), row.telegram.lower(), row.phone, str(row.user_id or ""))
            for key in keys:
                if key and key in seen:
                    result.errors.append(
                        _(
                            "line {line}: the same person as line {other} ({key})",
                            line=number,
                            other=seen[key],
                            key=key[:60],
                        )
                    )
                    break
            else:
                for key in keys:
                    if key:
                        seen[key] = number
                result.rows.append(row)
            if len(result.errors) >= MAX_IMPORT_ERRORS:
                result.errors.append(_("… stopped after too many errors"))
                break
    except csv.Error as exc:
        result.errors.append(_("the file is not valid CSV: {error}", error=str(exc)))
    if not result.rows and not result.errors:
        result.errors.append(_("the file has no contacts"))
    elif progress is not None and not result.errors:
        progress(len(result.rows), len(result.rows))
    return result
