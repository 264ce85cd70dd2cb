"""``LifecycleRepository.entry`` reads one member directly and gives exactly the entry that
``entries`` (every member of the group) gives for them — on the real database, over random
groups of members (hypothesis): veterans without an introduction, in-country, surge and
out-of-country members, bots, people who left or were removed, sponsors who are present, gone,
outside the country, unknown, or configured moderators who are not members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event

from moderation.introductions import Category, IntroStatus
from moderation.lifecycle import Outcome
from moderation.roster import JoinMethod, MemberStatus
from storage.db import Database
from storage.lifecycle import Entry, LifecycleRepository
from storage.models import Group, Introduction, MemberLifecycle, Membership, User

GROUP = -100777
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MODERATOR = 900  # configured moderator: trusted, a member or not
OUTSIDER = 901  # a sponsor the bot knows nothing about
NOT_A_MEMBER = 902  # asked about, never in the group
TRUSTED = frozenset({MODERATOR})
STATUSES = list(MemberStatus)


@dataclass(frozen=True)
class Person:
    status: MemberStatus
    is_bot: bool = False
    intro: bool = True  # False: a member from before the bot
    category: Category | None = Category.IN_COUNTRY
    intro_status: IntroStatus = IntroStatus.COMPLETE
    sponsor: int | None = None  # an index into the group, or MODERATOR / OUTSIDER
    row: str = "none"  # none | same (this admission) | old (an earlier admission) | removed


people = st.builds(
    Person,
    status=st.sampled_from(STATUSES),
    is_bot=st.sampled_from([False, False, False, True]),
    intro=st.booleans(),
    category=st.sampled_from([None, *Category]),
    intro_status=st.sampled_from(list(IntroStatus)),
    sponsor=st.none() | st.integers(0, 7) | st.sampled_from([MODERATOR, OUTSIDER]),
    row=st.sampled_from(["none", "same", "old", "removed"]),
)

# One of each kind the lifecycle rules tell apart.
KINDS = [
    Person(MemberStatus.MEMBER, intro=False),  # 0: a veteran (counts in the country)
    Person(MemberStatus.MEMBER, sponsor=0),  # 1: in the country, sponsored by a veteran
    Person(MemberStatus.RESTRICTED, category=Category.SURGE, sponsor=1, row="same"),  # 2
    Person(MemberStatus.MEMBER, category=Category.OUT_OF_COUNTRY, sponsor=1),  # 3: sponsor ok
    Person(MemberStatus.MEMBER, category=Category.OUT_OF_COUNTRY, sponsor=2),  # 4: surge sponsor
    Person(MemberStatus.LEFT, sponsor=0),  # 5: gone
    Person(MemberStatus.MEMBER, category=Category.OUT_OF_COUNTRY, sponsor=5, row="old"),  # 6
    Person(MemberStatus.ADMIN, category=Category.OUT_OF_COUNTRY, sponsor=MODERATOR),  # 7
    Person(MemberStatus.MEMBER, category=Category.OUT_OF_COUNTRY, sponsor=OUTSIDER),  # 8
    Person(MemberStatus.MEMBER, is_bot=True, sponsor=0),  # 9: a bot is no entry
    Person(MemberStatus.MEMBER, category=Category.OUT_OF_COUNTRY, sponsor=9, row="removed"),
    Person(MemberStatus.MEMBER, intro_status=IntroStatus.PENDING, sponsor=3),  # 11
]


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    db.upgrade()
    return db


def build(database: Database, group: list[Person]) -> list[int]:
    """Store ``group`` (person i has user id 1000 + i); returns the ids to ask about."""
    ids = [1000 + i for i in range(len(group))]

    def sponsor_id(person: Person) -> int | None:
        if person.sponsor is None or person.sponsor in (MODERATOR, OUTSIDER):
            return person.sponsor
        return ids[person.sponsor % len(group)]

    with database.transaction() as session:
        for table in (MemberLifecycle, Introduction, Membership, User, Group):
            session.execute(delete(table))
        session.add(Group(chat_id=GROUP, title="Test"))
        session.add(User(id=MODERATOR, first_name="Mira", first_seen=NOW, last_seen=NOW))
        for user_id, person in zip(ids, group, strict=True):
            joined = NOW - timedelta(days=30 + user_id % 7)
            session.add(
                User(
                    id=user_id,
                    first_name=f"P{user_id}",
                    is_bot=person.is_bot,
                    first_seen=joined,
                    last_seen=NOW,
                )
            )
            session.flush()
            session.add(
                Membership(
                    chat_id=GROUP,
                    user_id=user_id,
                    status=person.status,
                    join_method=JoinMethod.UNKNOWN,
                    joined_at=joined,
                    updated_at=NOW,
                )
            )
            if person.intro:
                session.add(
                    Introduction(
                        chat_id=GROUP,
                        user_id=user_id,
                        status=person.intro_status,
                        sponsor_id=sponsor_id(person),
                        category=person.category,
                        end_date=date(2027, 1, 10) if person.category else None,
                        created_at=joined,
                        updated_at=joined,
                    )
                )
            if person.row != "none":
                session.add(
                    MemberLifecycle(
                        chat_id=GROUP,
                        user_id=user_id,
                        joined_at=joined - timedelta(days=400) if person.row == "old" else joined,
                        departure_date=date(2026, 12, 1),
                        sponsor_lost_at=NOW - timedelta(days=1),
                        removal_outcome=(
                            Outcome.REMOVED.value if person.row == "removed" else None
                        ),
                        updated_at=joined,
                    )
                )
    return [*ids, MODERATOR, OUTSIDER, NOT_A_MEMBER]


def check(database: Database, group: list[Person], one_first: bool) -> None:
    asked = build(database, group)
    with database.transaction() as session:
        repo = LifecycleRepository(session)
        single: dict[int, Entry | None] = {}
        if one_first:
            single = {uid: repo.entry(GROUP, uid, NOW, TRUSTED) for uid in asked}
        every = {e.user.id: e for e in repo.entries(GROUP, NOW, TRUSTED)}
        if not one_first:
            single = {uid: repo.entry(GROUP, uid, NOW, TRUSTED) for uid in asked}
    assert {uid for uid, e in single.items() if e is not None} == set(every)
    for uid, entry in every.items():
        assert single[uid] == entry  # the same row, membership, user, introduction and facts


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(group=st.lists(people, min_size=1, max_size=8), one_first=st.booleans())
@example(group=KINDS, one_first=True)
@example(group=KINDS, one_first=False)
def test_entry_is_the_matching_element_of_entries(
    database: Database, group: list[Person], one_first: bool
) -> None:
    check(database, group, one_first)


def test_the_kinds_come_out_as_the_rules_say(database: Database) -> None:
    """The fixed group above, read one at a time: whose sponsor counts, who is no entry."""
    asked = build(database, KINDS)
    with database.transaction() as session:
        repo = LifecycleRepository(session)
        found = {uid: repo.entry(GROUP, uid, NOW, TRUSTED) for uid in asked}
    ok = {uid - 1000: e.facts.sponsor_ok for uid, e in found.items() if e is not None}
    assert ok == {
        0: False,  # no sponsor on record
        1: True,  # a veteran counts as in the country
        2: True,
        3: True,
        4: False,  # a surge member is not in the country for good
        6: False,  # the sponsor left
        7: True,  # a configured moderator counts although not a member
        8: False,  # unknown sponsor
        10: False,  # a bot never counts
        11: False,  # a sponsor outside the country does not count
    }
    assert found[1005] is None and found[1009] is None  # left; a bot
    assert found[NOT_A_MEMBER] is None and found[MODERATOR] is None
    row = found[1006]
    assert row is not None and row.row.departure_date is None  # an earlier admission: afresh
    assert row.facts.sponsor_lost_at is None
    same = found[1002]
    assert same is not None and same.row.departure_date == date(2026, 12, 1)  # kept


def test_entry_reads_one_member_not_the_whole_group(database: Database) -> None:
    """The cost of one button press does not grow with the group."""
    group = [Person(MemberStatus.MEMBER, sponsor=(i + 1) % 40, row="same") for i in range(40)]
    group[0] = Person(MemberStatus.MEMBER, category=Category.OUT_OF_COUNTRY, sponsor=1, row="same")
    build(database, group)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.transaction() as session:
            entry = LifecycleRepository(session).entry(GROUP, 1000, NOW, TRUSTED)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert entry is not None and entry.facts.sponsor_ok
    # The member, their sponsor, their lifecycle row.
    assert len(statements) <= 3, statements


def test_entries_read_a_page_at_a_time_are_the_same_in_the_same_order(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(database, KINDS * 2)
    with database.transaction() as session:
        repo = LifecycleRepository(session)
        whole = repo.entries(GROUP, NOW, TRUSTED)
        monkeypatch.setattr("storage.lifecycle.ENTRY_PAGE", 3)
        paged = list(repo.each_entry(GROUP, NOW, TRUSTED))
    assert len(whole) > 3
    assert paged == whole
