"""Mention rules: who ``@all``, ``@moderators``, a tag or a typed name reaches, and how the
mentions are cut into messages and paced. Plain values in, plain values out; no Telegram.

Telegram has no ``@all``, a bot cannot list a group's members, and people without a username
cannot be mentioned by typing. The bot closes those gaps from its own roster:

* ``@all`` reaches every present member except the author and bots;
* ``@moderators`` reaches the group's moderators who are in the group;
* tags (``@unicef``, ``@wash``, ``@kharkiv``) come from the introductions' organisation,
  cluster and location, only for the kinds the configuration enables; members may opt out of a
  tag they belong to, or opt in to one they do not;
* ``@Firstname`` / ``@Firstname Lastname`` at the start of a message names one member without a
  username.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ALL = "all"
MODERATORS = "moderators"
RESERVED = frozenset({ALL, MODERATORS})

# Telegram ignores entities past the hundredth of a message (a mention is one entity).
MAX_ENTITIES = 100
# Telegram notifies only the first five mentions of a message; the rest are shown as mentions
# but nobody is notified (not in the Bot API documentation; widely reported by the authors of
# mention bots, and how the fake Bot API in simulation/ counts notifications). So a mention
# message never carries more than this many mentions.
NOTIFYING_MENTIONS = 5
MAX_MENTIONS_PER_MESSAGE = NOTIFYING_MENTIONS
MAX_TAG_LENGTH = 32
MAX_LEADING = 5  # at most this many @words at the start of a message are looked at
QUOTE_LENGTH = 200
WINDOW = timedelta(minutes=1)


class TagKind(enum.StrEnum):
    ORGANISATION = "organisation"
    CLUSTER = "cluster"
    LOCATION = "location"


# --------------------------------------------------------------------------- tags
def tag_name(value: str) -> str:
    """How a tag is written: ``"Shelter/NFI"`` → ``shelter_nfi``; ``""`` when nothing is left.

    Letters of every script are kept (a location may be written in Ukrainian or Arabic);
    everything else becomes one ``_``.
    """
    text = unicodedata.normalize("NFKC", value).casefold()
    text = re.sub(r"[\W_]+", "_", text).strip("_")
    return text[:MAX_TAG_LENGTH].strip("_")


def tag_key(value: str) -> str:
    """What a typed tag is compared by: ``@Shelter_NFI``, ``@shelternfi`` and ``@shelter-nfi``
    are the same tag."""
    return tag_name(value).replace("_", "")


@dataclass(frozen=True)
class Tag:
    key: str
    name: str  # as shown: ``@shelter_nfi``
    kinds: frozenset[TagKind]
    label: str  # the value it comes from: ``Shelter/NFI``


@dataclass(frozen=True)
class Member:
    """A person on the roster, as the mention rules see them."""

    user_id: int
    first_names: tuple[str, ...]  # from the introduction and from Telegram
    full_names: tuple[str, ...]
    username: str | None = None
    present: bool = True
    is_bot: bool = False
    moderator: bool = False
    organisation: str | None = None
    cluster: str | None = None
    location: str | None = None

    def value(self, kind: TagKind) -> str | None:
        match kind:
            case TagKind.ORGANISATION:
                return self.organisation
            case TagKind.CLUSTER:
                return self.cluster
            case TagKind.LOCATION:
                return self.location


def available_tags(
    kinds: Collection[TagKind],
    members: Iterable[Member],
    organisations: Iterable[str] = (),
    clusters: Iterable[str] = (),
) -> dict[str, Tag]:
    """Every tag of the enabled kinds: configured organisations and clusters, and the values
    present members' introductions carry. Keyed by ``tag_key``; reserved words never a tag."""
    values: list[tuple[TagKind, str]] = []
    if TagKind.ORGANISATION in kinds:
        values += [(TagKind.ORGANISATION, v) for v in organisations]
    if TagKind.CLUSTER in kinds:
        values += [(TagKind.CLUSTER, v) for v in clusters]
    for member in members:
        if member.present and not member.is_bot:
            for kind in kinds:
                value = member.value(kind)
                if value:
                    values.append((kind, value))
    tags: dict[str, Tag] = {}
    for kind, value in values:
        key = tag_key(value)
        if not key or key in RESERVED:
            continue
        found = tags.get(key)
        if found is None:
            tags[key] = Tag(key, tag_name(value), frozenset({kind}), value.strip())
        elif kind not in found.kinds:
            tags[key] = Tag(key, found.name, found.kinds | {kind}, found.label)
    return dict(sorted(tags.items()))


def derived_tags(member: Member, kinds: Collection[TagKind]) -> set[str]:
    """The tags a member belongs to through their introduction."""
    keys = set()
    for kind in kinds:
        value = member.value(kind)
        if value and tag_key(value) and tag_key(value) not in RESERVED:
            keys.add(tag_key(value))
    return keys


Preferences = Mapping[tuple[int, str], bool]  # (user id, tag key) → subscribed


def in_tag(member: Member, key: str, kinds: Collection[TagKind], prefs: Preferences) -> bool:
    """Derived membership, unless opted out; or opted in."""
    choice = prefs.get((member.user_id, key))
    if choice is not None:
        return choice
    return key in derived_tags(member, kinds)


# --------------------------------------------------------------------------- parsing
_NAME_WORD = r"[^\W\d_][\w'’\-]*"
_LEADING = re.compile(
    r"\s*@(?P<word>[^\W_][\w'’\-.]*)(?:[ \t]+(?!@)(?P<next>" + _NAME_WORD + r"))?[\s,;:]*"
)
_ANYWHERE = re.compile(r"(?<![\w@./+-])@([^\W_][\w'’\-.]*)")


def _clean(word: str) -> str:
    return word.rstrip(".-'’")


@dataclass(frozen=True)
class Leading:
    """One ``@word`` at the start of a message, and the word after it (maybe a last name)."""

    word: str
    following: str | None = None


def leading_mentions(text: str) -> list[Leading]:
    """The ``@words`` a message starts with: ``"@Olena Petrenko, @wash hi"`` →
    ``[Leading("Olena", "Petrenko"), Leading("wash", "hi")]``."""
    found: list[Leading] = []
    position = 0
    while len(found) < MAX_LEADING:
        match = _LEADING.match(text, position)
        if match is None or match.end() == position:
            break
        word = _clean(match.group("word"))
        following = match.group("next")
        found.append(Leading(word, _clean(following) if following else None))
        position = match.end()
    return found


def anywhere_words(text: str) -> list[str]:
    """Every ``@word`` in the text that is not part of an e-mail address or a link."""
    return [_clean(m.group(1)) for m in _ANYWHERE.finditer(text)]


@dataclass(frozen=True)
class Addressed:
    """Whom a message addresses, before anyone is looked up."""

    everyone: bool = False
    moderators: bool = False
    tags: tuple[str, ...] = ()  # tag keys, in the order typed
    names: tuple[Leading, ...] = ()

    @property
    def broadcast(self) -> bool:
        return self.everyone or self.moderators or bool(self.tags)

    def label(self, tags: Mapping[str, Tag]) -> str:
        """``@all`` / ``@moderators @wash`` (plain text: escape before rendering)."""
        parts = []
        if self.everyone:
            parts.append("@" + ALL)
        else:
            if self.moderators:
                parts.append("@" + MODERATORS)
            parts += ["@" + tags[key].name for key in self.tags if key in tags]
        return " ".join(parts)


def addressed(text: str, tag_keys: Collection[str], anywhere: bool = False) -> Addressed:
    """Read the leading mentions (and, with ``anywhere``, @all and tags anywhere)."""
    everyone = moderators = False
    tags: list[str] = []
    names: list[Leading] = []

    def note(word: str) -> bool:
        nonlocal everyone, moderators
        key = tag_key(word)
        if key == ALL:
            everyone = True
        elif key == MODERATORS:
            moderators = True
        elif key in tag_keys:
            if key not in tags:
                tags.append(key)
        else:
            return False
        return True

    for item in leading_mentions(text):
        if not note(item.word):
            names.append(item)
    if anywhere:
        for word in anywhere_words(text):
            note(word)
    return Addressed(everyone, moderators, tuple(tags), tuple(names))


# --------------------------------------------------------------------------- recipients
def recipients(
    members: Iterable[Member],
    author_id: int,
    who: Addressed,
    kinds: Collection[TagKind],
    prefs: Preferences,
) -> list[int]:
    """Whom a broadcast notifies: present people, never the author or a bot, each once.

    ``@all`` and ``@moderators`` cannot be opted out of; tags follow the preferences.
    """
    chosen: list[int] = []
    seen: set[int] = set()
    for member in members:
        if not member.present or member.is_bot or member.user_id == author_id:
            continue
        if member.user_id in seen:
            continue
        wanted = (
            who.everyone
            or (who.moderators and member.moderator)
            or any(in_tag(member, key, kinds, prefs) for key in who.tags)
        )
        if wanted:
            seen.add(member.user_id)
            chosen.append(member.user_id)
    return chosen


def batches(user_ids: Sequence[int], size: int) -> list[list[int]]:
    """Cut the recipients into messages of at most ``size`` mentions (never more than
    ``MAX_MENTIONS_PER_MESSAGE``); each person appears once, in the given order."""
    size = max(1, min(size, MAX_MENTIONS_PER_MESSAGE))
    unique = list(dict.fromkeys(user_ids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


# --------------------------------------------------------------------------- names
class NameOutcome(enum.Enum):
    NONE = "none"  # nobody by that name, or it is a username Telegram already handles
    ONE = "one"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class NameMatch:
    outcome: NameOutcome
    typed: str
    candidates: tuple[Member, ...] = field(default_factory=tuple)

    @property
    def member(self) -> Member:
        assert self.outcome is NameOutcome.ONE
        return self.candidates[0]


def match_name(item: Leading, members: Iterable[Member], author_id: int) -> NameMatch:
    """``@Firstname`` or ``@Firstname Lastname`` → exactly one present member without a
    username (ONE), several people of that name (AMBIGUOUS), or NONE.

    ``@word`` that is someone's username is left to Telegram. ``Firstname Lastname`` wins over
    ``Firstname`` alone when somebody has that full name. A single match who has a username is
    NONE: they can be mentioned by typing it, and Telegram has done nothing wrong.
    """
    people = [m for m in members if m.present and not m.is_bot and m.user_id != author_id]
    word = item.word.casefold()
    if any((m.username or "").casefold() == word for m in people):
        return NameMatch(NameOutcome.NONE, item.word)
    candidates: list[Member] = []
    typed = item.word
    if item.following:
        full = f"{word} {item.following.casefold()}"
        candidates = [m for m in people if full in {n.casefold() for n in m.full_names}]
        if candidates:
            typed = f"{item.word} {item.following}"
    if not candidates:
        candidates = [m for m in people if word in {n.casefold() for n in m.first_names}]
    if not candidates:
        return NameMatch(NameOutcome.NONE, typed)
    if len(candidates) > 1:
        return NameMatch(NameOutcome.AMBIGUOUS, typed, tuple(candidates))
    if candidates[0].username:
        return NameMatch(NameOutcome.NONE, typed)
    return NameMatch(NameOutcome.ONE, typed, tuple(candidates))


# --------------------------------------------------------------------------- who, how often
def may_use(setting: str, moderator: bool) -> bool:
    """``everyone`` / ``moderators`` / ``off``: may this person use @all (or tags)?"""
    if setting == "everyone":
        return True
    if setting == "moderators":
        return moderator
    return False


def cooldown_left(last: datetime | None, now: datetime, cooldown: timedelta) -> timedelta:
    """How long until the author may broadcast again (zero: now)."""
    if last is None:
        return timedelta(0)
    return max(timedelta(0), last + cooldown - now)


# --------------------------------------------------------------------------- pacing
def spacing(per_minute: int) -> timedelta:
    """The gap between two paced messages in one group (rounded up, so that no minute ever
    holds one message too many)."""
    return timedelta(microseconds=math.ceil(60_000_000 / max(1, per_minute)))


def schedule(now: datetime, count: int, per_minute: int) -> list[datetime]:
    """When each of ``count`` new messages is due: the first now, the rest one gap apart.
    Each broadcast is due from its own start; ``fair_order`` interleaves them."""
    gap = spacing(per_minute)
    return [now + gap * i for i in range(count)]


def budget(now: datetime, sent: Iterable[datetime], per_minute: int) -> int:
    """How many paced messages may go now: never more than ``per_minute`` in any minute
    (after downtime, overdue messages therefore trickle out instead of bursting)."""
    recent = sum(1 for at in sent if now - WINDOW < at <= now)
    return max(0, per_minute - recent)


@dataclass(frozen=True)
class Waiting:
    """A message due to go, as the fairness rule sees it."""

    row_id: int
    broadcast_id: int
    seq: int  # 0: the notice


def fair_order(waiting: Iterable[Waiting], last_served: Mapping[int, int]) -> list[Waiting]:
    """The order due messages go in: every notice first (a broadcast's notice goes at once,
    never behind another broadcast's batches), then the batches round-robin between
    broadcasts, starting with the one served longest ago (``last_served``: the message id of
    each broadcast's latest sent message; they grow in a chat), so two authors' broadcasts
    interleave instead of one waiting for the whole other queue."""
    notices = sorted((w for w in waiting if w.seq == 0), key=lambda w: w.row_id)
    queues: dict[int, list[Waiting]] = {}
    for item in sorted(waiting, key=lambda w: (w.seq, w.row_id)):
        if item.seq > 0:
            queues.setdefault(item.broadcast_id, []).append(item)
    order = sorted(queues, key=lambda b: (last_served.get(b, 0), b))
    batches: list[Waiting] = []
    for round_ in range(max((len(q) for q in queues.values()), default=0)):
        batches += [queues[b][round_] for b in order if round_ < len(queues[b])]
    return notices + batches


def pick(
    ordered: Sequence[Waiting], allowed: int, per_minute: int, sent_in_window: int
) -> list[Waiting]:
    """What goes in this run: at most ``allowed``, with one slot of every minute kept for
    notices (batches never take the group's last slot), so a new broadcast's notice goes at
    once even while another broadcast's batches fill the pace."""
    reserve = 1 if per_minute > 1 else 0
    batch_room = max(0, per_minute - reserve - sent_in_window)
    chosen: list[Waiting] = []
    for item in ordered:
        if len(chosen) >= allowed:
            break
        if item.seq > 0:
            if batch_room <= 0:
                continue
            batch_room -= 1
        chosen.append(item)
    return chosen


# --------------------------------------------------------------------------- rendering aids
def message_link(chat_id: int, message_id: int) -> str | None:
    """``https://t.me/c/…`` for a supergroup message (members can open it); None otherwise."""
    text = str(chat_id)
    if not text.startswith("-100") or message_id <= 0:
        return None
    return f"https://t.me/c/{text[4:]}/{message_id}"


_HEAD = re.compile(r"\s*@([^\W_][\w'’\-.]*)[\s,;:]*")


def without_leading(text: str, tag_keys: Collection[str]) -> str:
    """The message without the @all / @moderators / tags it starts with (for the quote)."""
    position = 0
    while (match := _HEAD.match(text, position)) is not None:
        key = tag_key(_clean(match.group(1)))
        if key not in RESERVED and key not in tag_keys:
            break
        position = match.end()
    return text[position:].strip() or text.strip()


def quote(text: str, limit: int = QUOTE_LENGTH) -> str:
    """The author's words on one line, shortened (plain text: escape before rendering)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def minutes_text(left: timedelta) -> int:
    """Whole minutes to wait, rounded up (at least 1)."""
    return max(1, math.ceil(left.total_seconds() / 60))
