"""The mention rules: parsing, tags, recipients, batching, cooldowns and pacing (pure)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from moderation import mentions as rules
from moderation.mentions import (
    MAX_ENTITIES,
    MAX_MENTIONS_PER_MESSAGE,
    Addressed,
    Leading,
    Member,
    NameOutcome,
    TagKind,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KINDS = (TagKind.ORGANISATION, TagKind.CLUSTER)


def person(
    uid: int,
    first: str = "Ann",
    last: str | None = None,
    username: str | None = None,
    present: bool = True,
    is_bot: bool = False,
    organisation: str | None = None,
    cluster: str | None = None,
    moderator: bool = False,
) -> Member:
    full = f"{first} {last}" if last else first
    return Member(
        uid,
        (first,),
        (full,),
        username=username,
        present=present,
        is_bot=is_bot,
        moderator=moderator,
        organisation=organisation,
        cluster=cluster,
    )


# --------------------------------------------------------------------------- parsing
def test_leading_mentions_and_anywhere() -> None:
    assert rules.leading_mentions("@Olena Petrenko, @wash hi") == [
        Leading("Olena", "Petrenko"),
        Leading("wash", "hi"),
    ]
    assert rules.leading_mentions("  @all. Meeting at 3") == [Leading("all", "Meeting")]
    assert rules.leading_mentions("hello @all") == []
    assert rules.leading_mentions("@") == []
    assert rules.anywhere_words("mail me at ivan@all.org or see @all-hands; @all!") == [
        "all-hands",
        "all",
    ]


def test_addressed_reserved_tags_and_names() -> None:
    assert rules.addressed("@all meeting at 3", {"wash"}).everyone
    assert not rules.addressed("meeting at 3 @all", {"wash"}).everyone
    assert rules.addressed("meeting at 3 @all", {"wash"}, anywhere=True).everyone
    assert not rules.addressed("@all-hands at 3", set()).everyone
    who = rules.addressed(
        "@Moderators @WASH @shelter-nfi @Olena Petrenko hi", {"wash", "shelternfi"}
    )
    assert who.moderators and who.tags == ("wash", "shelternfi")
    assert who.names == (Leading("Olena", "Petrenko"),)
    assert who.broadcast
    assert not rules.addressed("@Olena hi", {"wash"}).broadcast


def test_tag_names_and_keys() -> None:
    assert rules.tag_name("Shelter/NFI") == "shelter_nfi"
    assert rules.tag_key("Shelter/NFI") == rules.tag_key("shelter-nfi") == "shelternfi"
    assert rules.tag_name("Київ") == "київ"
    assert rules.tag_name("<b>!!</b>") == "b_b"
    assert rules.tag_name("???") == ""


def test_available_tags_from_config_and_introductions() -> None:
    members = [
        person(1, organisation="UNICEF", cluster="WASH"),
        person(2, organisation="Save the Children", cluster="Protection", present=False),
        person(3, organisation="All"),  # a reserved word is never a tag
    ]
    tags = rules.available_tags(KINDS, members, ["OCHA"], ["Shelter/NFI"])
    assert set(tags) == {"unicef", "wash", "ocha", "shelternfi"}
    assert tags["shelternfi"].name == "shelter_nfi"
    only_clusters = rules.available_tags([TagKind.CLUSTER], members, ["OCHA"], ["WASH"])
    assert set(only_clusters) == {"wash"}


def test_opt_out_and_opt_in() -> None:
    ann = person(1, organisation="UNICEF", cluster="WASH")
    bob = person(2, organisation="OCHA")
    prefs = {(1, "wash"): False, (2, "wash"): True}
    assert not rules.in_tag(ann, "wash", KINDS, prefs)
    assert rules.in_tag(ann, "unicef", KINDS, prefs)
    assert rules.in_tag(bob, "wash", KINDS, prefs)
    who = Addressed(tags=("wash",))
    assert rules.recipients([ann, bob], 99, who, KINDS, prefs) == [2]
    # @all and @moderators cannot be opted out of.
    assert rules.recipients([ann, bob], 99, Addressed(everyone=True), KINDS, prefs) == [1, 2]


# --------------------------------------------------------------------------- names
def test_names() -> None:
    olena = person(1, "Olena", "Petrenko")
    olena2 = person(2, "Olena", "Koval", username="olena_k")
    pavlo = person(3, "Pavlo", "Shevchenko", username="pavlo")
    gone = person(4, "Marta", "Bondar", present=False)
    members = [olena, olena2, pavlo, gone]
    one = rules.match_name(Leading("olena", "petrenko"), members, 99)
    assert one.outcome is NameOutcome.ONE and one.member == olena
    assert one.typed == "olena petrenko"
    many = rules.match_name(Leading("Olena", "please"), members, 99)
    assert many.outcome is NameOutcome.AMBIGUOUS and len(many.candidates) == 2
    # The author does not count; a username is Telegram's business; people who left are gone.
    assert rules.match_name(Leading("Olena"), members, 2).outcome is NameOutcome.ONE
    assert rules.match_name(Leading("Pavlo"), members, 99).outcome is NameOutcome.NONE
    assert rules.match_name(Leading("olena_k"), members, 99).outcome is NameOutcome.NONE
    assert rules.match_name(Leading("Marta"), members, 99).outcome is NameOutcome.NONE
    assert rules.match_name(Leading("Nobody"), members, 99).outcome is NameOutcome.NONE


# --------------------------------------------------------------------------- who, how often
def test_may_use_and_cooldown() -> None:
    assert rules.may_use("everyone", False)
    assert not rules.may_use("moderators", False) and rules.may_use("moderators", True)
    assert not rules.may_use("off", True)
    ten = timedelta(minutes=10)
    assert rules.cooldown_left(None, NOW, ten) == timedelta(0)
    assert rules.cooldown_left(NOW - timedelta(minutes=4), NOW, ten) == timedelta(minutes=6)
    assert rules.cooldown_left(NOW - ten, NOW, ten) == timedelta(0)
    assert rules.minutes_text(timedelta(seconds=61)) == 2
    assert rules.minutes_text(timedelta(seconds=1)) == 1


def test_links_and_quotes() -> None:
    assert rules.message_link(-1001234567890, 42) == "https://t.me/c/1234567890/42"
    assert rules.message_link(-4242, 42) is None  # a basic group has no message links
    assert rules.quote("a  b\n\nc") == "a b c"
    assert rules.without_leading("@all, @wash: meeting @all", {"wash"}) == "meeting @all"
    assert rules.without_leading("@Olena hi", {"wash"}) == "@Olena hi"
    assert rules.without_leading("@all", set()) == "@all"
    assert len(rules.quote("x" * 1000)) == rules.QUOTE_LENGTH


# --------------------------------------------------------------------------- properties
members_strategy = st.lists(
    st.builds(
        person,
        uid=st.integers(1, 400),
        present=st.booleans(),
        is_bot=st.booleans(),
        organisation=st.sampled_from([None, "UNICEF", "OCHA"]),
        cluster=st.sampled_from([None, "WASH", "Health"]),
        moderator=st.booleans(),
    ),
    max_size=600,
)


@given(
    members=members_strategy,
    author=st.integers(1, 400),
    size=st.integers(-5, 200),
    everyone=st.booleans(),
    moderators=st.booleans(),
    tags=st.lists(st.sampled_from(["unicef", "ocha", "wash", "health"]), max_size=3, unique=True),
    opt=st.dictionaries(
        st.tuples(st.integers(1, 400), st.sampled_from(["unicef", "wash"])), st.booleans()
    ),
)
def test_every_present_member_notified_exactly_once(
    members: list[Member],
    author: int,
    size: int,
    everyone: bool,
    moderators: bool,
    tags: list[str],
    opt: dict[tuple[int, str], bool],
) -> None:
    who = Addressed(everyone, moderators, tuple(tags))
    chosen = rules.recipients(members, author, who, KINDS, opt)
    parts = rules.batches(chosen, size)
    flat = [uid for part in parts for uid in part]
    # Exactly once each, nobody else.
    assert sorted(flat) == sorted(set(chosen)) and len(flat) == len(set(flat))
    assert all(part for part in parts)
    # Never over the cap (a message keeps at most 100 entities; the notice adds a link).
    assert all(len(part) <= min(max(size, 1), MAX_MENTIONS_PER_MESSAGE) for part in parts)
    assert MAX_MENTIONS_PER_MESSAGE + 2 <= MAX_ENTITIES
    present = {m.user_id for m in members if m.present and not m.is_bot}
    gone_only = {m.user_id for m in members} - present
    assert author not in flat
    assert not set(flat) & gone_only  # people who left (and bots) are never included
    if everyone:
        assert set(flat) == present - {author}


@given(
    now=st.datetimes(timezones=st.just(UTC)),
    count=st.integers(0, 120),
    per_minute=st.integers(1, 20),
)
def test_schedule_respects_the_pace(now: datetime, count: int, per_minute: int) -> None:
    due = rules.schedule(now, count, per_minute)
    assert len(due) == count
    assert all(at >= now for at in due)
    if due:
        assert due[0] == now  # the notice goes at once, whatever else waits
    gap = rules.spacing(per_minute)
    assert all(b - a == gap for a, b in itertools.pairwise(due))
    # Whatever the start, no minute holds more than per_minute of them.
    for start in due:
        assert sum(1 for at in due if start <= at < start + rules.WINDOW) <= per_minute


@given(
    sent=st.lists(st.integers(0, 300), max_size=60),
    per_minute=st.integers(1, 20),
)
def test_budget_never_exceeds_the_rate(sent: list[int], per_minute: int) -> None:
    times = [NOW - timedelta(seconds=s) for s in sent]
    allowed = rules.budget(NOW, times, per_minute)
    recent = sum(1 for s in sent if s < 60)
    assert 0 <= allowed <= per_minute
    assert recent + allowed <= max(per_minute, recent)


@given(st.text(max_size=300))
def test_parsing_never_fails_and_tags_are_clean(text: str) -> None:
    items = rules.leading_mentions(text)
    assert len(items) <= rules.MAX_LEADING
    assert all(item.word for item in items)
    name = rules.tag_name(text)
    assert len(name) <= rules.MAX_TAG_LENGTH
    assert rules.tag_name(name) == name  # normalising is idempotent
    assert all(c.isalnum() or c == "_" for c in name)
    rules.addressed(text, {"wash"}, anywhere=True)


# --------------------------------------------------------------------------- fairness
@given(
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=5),
    served=st.lists(st.integers(0, 50), max_size=5),
)
def test_fair_order_puts_notices_first_and_alternates_broadcasts(
    sizes: list[int], served: list[int]
) -> None:
    waiting = []
    row = itertools.count(1)
    for broadcast, size in enumerate(sizes, start=1):
        waiting += [rules.Waiting(next(row), broadcast, seq) for seq in range(size)]
    last = {b: at for b, at in enumerate(served, start=1) if b <= len(sizes)}
    ordered = rules.fair_order(waiting, last)
    assert sorted(w.row_id for w in ordered) == sorted(w.row_id for w in waiting)
    notices = sum(1 for w in waiting if w.seq == 0)
    assert all(w.seq == 0 for w in ordered[:notices])
    batches = ordered[notices:]
    # Each broadcast's batches in their own order; no broadcast served twice in a row while
    # another still has batches waiting.
    for broadcast in range(1, len(sizes) + 1):
        seqs = [w.seq for w in batches if w.broadcast_id == broadcast]
        assert seqs == sorted(seqs)
    for i, (a, b) in enumerate(itertools.pairwise(batches)):
        if a.broadcast_id == b.broadcast_id:
            assert {w.broadcast_id for w in batches[i + 1 :]} == {a.broadcast_id}


@given(
    seqs=st.lists(st.integers(0, 3), max_size=30),
    allowed=st.integers(0, 20),
    per_minute=st.integers(1, 20),
    sent=st.integers(0, 20),
)
def test_pick_keeps_a_slot_for_notices(
    seqs: list[int], allowed: int, per_minute: int, sent: int
) -> None:
    ordered = [rules.Waiting(i, i, seq) for i, seq in enumerate(seqs)]
    chosen = rules.pick(ordered, allowed, per_minute, sent)
    assert len(chosen) <= allowed
    batches = sum(1 for w in chosen if w.seq > 0)
    reserve = 1 if per_minute > 1 else 0
    assert sent + batches <= max(sent, per_minute - reserve)
    # Notices are never held back for room: every notice within ``allowed`` goes.
    notices = [w for w in ordered if w.seq == 0]
    assert sum(1 for w in chosen if w.seq == 0) >= min(len(notices), allowed) - batches
