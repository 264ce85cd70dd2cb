"""The consent policy: unit cases from seed 004 and hypothesis properties over random worlds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.contacts import render_card
from moderation.contacts import (
    DEFAULT_LEVELS,
    FIELDS,
    Grant,
    GrantKind,
    InvalidValue,
    Level,
    Requester,
    Subject,
    check_query,
    disclosed,
    may_see,
    normalise_email,
    normalise_phone,
    visible_fields,
)

CLUSTERS = ["WASH", "Protection", "Health", "CCCM"]


def subject(**kw: object) -> Subject:
    base: dict[str, object] = dict(
        contact_id=1,
        user_id=500,
        consented=True,
        clusters=frozenset({"Protection"}),
        levels=dict(DEFAULT_LEVELS),
    )
    base.update(kw)
    return Subject(**base)  # type: ignore[arg-type]


MEMBER = Requester(user_id=9, is_member=True, clusters=frozenset({"WASH"}))


def test_defaults_for_a_member_of_another_cluster() -> None:
    assert visible_fields(MEMBER, subject(), []) == {
        "name",
        "organisation",
        "role",
        "clusters",
        "focal_point",
    }


def test_same_cluster_sees_cluster_fields_but_not_private_phone() -> None:
    peer = Requester(9, True, clusters=frozenset({"protection"}))
    seen = visible_fields(peer, subject(), [])
    assert {"location", "telegram"} <= seen
    assert "phone" not in seen and "email" not in seen


def test_coordinator_of_another_cluster_gets_organisation_and_focal_point_only() -> None:
    coordinator = Requester(9, True, is_cluster_coordinator=True, clusters=frozenset({"WASH"}))
    for_coordinators = {f: Level.COORDINATORS for f in FIELDS}
    assert visible_fields(coordinator, subject(levels=for_coordinators), []) == {"organisation"}
    focal = subject(levels=for_coordinators, is_focal_point=True)
    assert visible_fields(coordinator, focal, []) == {
        "name",
        "organisation",
        "focal_point",
        "phone",
        "email",
        "telegram",
    }


def test_private_stays_private_for_a_coordinator_of_another_cluster() -> None:
    """Issue 15: a coordinator of another cluster saw a focal point's private phone that a
    coordinator of the focal point's own cluster did not."""
    private = {f: Level.PRIVATE for f in FIELDS}
    focal = subject(levels=private, is_focal_point=True)
    other = Requester(9, True, is_cluster_coordinator=True, clusters=frozenset({"WASH"}))
    same = Requester(10, True, is_cluster_coordinator=True, clusters=frozenset({"Protection"}))
    assert visible_fields(other, focal, []) == frozenset()
    assert visible_fields(same, focal, []) == frozenset()


def test_not_consented_shows_nothing_even_to_moderators_and_overrides() -> None:
    moderator = Requester(9, True, is_moderator=True)
    public = {f: Level.PUBLIC for f in FIELDS}
    pending = subject(consented=False, levels=public)
    override = Grant(9, 1, frozenset(FIELDS), GrantKind.OVERRIDE)
    assert visible_fields(moderator, pending, [override]) == frozenset()


def test_explicit_yes_opens_exactly_the_granted_fields_for_that_requester_only() -> None:
    grant = Grant(9, 1, frozenset({"phone"}), GrantKind.CONSENT)
    assert may_see(MEMBER, subject(), "phone", [grant])
    other = Requester(10, True)
    assert not may_see(other, subject(), "phone", [grant])
    assert not may_see(MEMBER, subject(contact_id=2), "phone", [grant])


def test_outsiders_see_nothing() -> None:
    outsider = Requester(9, is_member=False)
    assert visible_fields(outsider, subject(levels={f: Level.PUBLIC for f in FIELDS}), []) == set()


def test_normalising() -> None:
    assert normalise_phone("+380 44 123 4567") == "+380441234567"
    assert normalise_phone("044 123 4567", "UA") == "+380441234567"
    with pytest.raises(InvalidValue):
        normalise_phone("12")
    assert normalise_email("Olena@Example.ORG") == "Olena@example.org"
    with pytest.raises(InvalidValue):
        normalise_email("olena@@example")


@pytest.mark.parametrize(
    "query", ["", "ab", "  ", "<b>", "%%_", "+380441234567", "olena@example.org", "x" * 500]
)
def test_bad_queries_are_refused(query: str) -> None:
    with pytest.raises(InvalidValue):
        check_query(query)


def test_markup_and_sql_characters_are_just_text() -> None:
    assert check_query("'; DROP TABLE contacts; --") == "drop table contacts"
    assert check_query("<i>Olena</i>") == "i olena i"


# ---------------------------------------------------------------------------- properties
levels_st = st.fixed_dictionaries({f: st.sampled_from(list(Level)) for f in FIELDS})
clusters_st = st.frozensets(st.sampled_from(CLUSTERS), max_size=3)
requester_st = st.builds(
    Requester,
    user_id=st.integers(1, 6),
    is_member=st.booleans(),
    is_moderator=st.booleans(),
    is_cluster_coordinator=st.booleans(),
    clusters=clusters_st,
)
subject_st = st.builds(
    Subject,
    contact_id=st.integers(1, 4),
    user_id=st.one_of(st.none(), st.integers(1, 6)),
    consented=st.booleans(),
    clusters=clusters_st,
    levels=levels_st,
    is_focal_point=st.booleans(),
)
grant_st = st.builds(
    Grant,
    requester_id=st.integers(1, 6),
    contact_id=st.integers(1, 4),
    fields=st.frozensets(st.sampled_from(FIELDS)),
    kind=st.sampled_from(list(GrantKind)),
)


def sentinel_values(contact_id: int) -> dict[str, str]:
    # Values unique per field and contact, so a leak is visible in any rendered text.
    return {f: f"zq{f}{contact_id}x" for f in FIELDS}


@settings(max_examples=400)
@given(requester_st, subject_st, st.lists(grant_st, max_size=6))
def test_no_rendered_card_contains_a_forbidden_field(requester, subj, grants) -> None:
    values = sentinel_values(subj.contact_id)
    shown = disclosed(requester, subj, values, grants)
    card = render_card(shown, subj.contact_id)
    for name in FIELDS:
        if not may_see(requester, subj, name, grants):
            assert values[name] not in card
            assert name not in shown


@settings(max_examples=300)
@given(requester_st, subject_st, st.lists(grant_st, max_size=6))
def test_policy_invariants(requester, subj, grants) -> None:
    seen = visible_fields(requester, subj, grants)
    own = subj.user_id is not None and subj.user_id == requester.user_id
    consent_grant = any(
        g.requester_id == requester.user_id
        and g.contact_id == subj.contact_id
        and g.kind is GrantKind.CONSENT
        for g in grants
    )
    if not subj.consented and not own and not consent_grant:
        assert seen == frozenset()
    if not own:
        for name in seen:
            granted = any(
                g.requester_id == requester.user_id
                and g.contact_id == subj.contact_id
                and name in g.fields
                for g in grants
            )
            level = subj.level(name)
            # private opens only with a grant (the lattice: nobody's clearance is above
            # coordinators)
            assert level is not Level.PRIVATE or granted
    # more grants never hide anything
    assert seen <= visible_fields(
        requester, subj, [*grants, Grant(requester.user_id, subj.contact_id, frozenset())]
    )


# ------------------------------------------------------------- the lattice, exhaustively
# Written from the README's table ("Contact directory and consent"), not from the code: the
# widest level each role sees of a consented person, without any grant.
LATTICE: dict[str, tuple[str, ...]] = {
    "outsider": (),
    "member of another cluster": ("public",),
    "member of the same cluster": ("public", "cluster"),
    "coordinator of another cluster": ("public",),
    "coordinator of the same cluster": ("public", "cluster", "coordinators"),
    "moderator": ("public", "cluster", "coordinators"),
}
# The one widening: a coordinator of another cluster sees, up to the coordinators level, the
# organisation of anyone and the contact details of an organisation's focal point.
CROSS_CLUSTER_ALWAYS = {"organisation"}
CROSS_CLUSTER_FOCAL_POINT = {"name", "organisation", "focal_point", "phone", "email", "telegram"}
ROLES: dict[str, Requester] = {
    "outsider": Requester(9, False, clusters=frozenset({"Protection"})),
    "member of another cluster": Requester(9, True, clusters=frozenset({"WASH"})),
    "member of the same cluster": Requester(9, True, clusters=frozenset({"protection"})),
    "coordinator of another cluster": Requester(
        9, True, is_cluster_coordinator=True, clusters=frozenset({"WASH"})
    ),
    "coordinator of the same cluster": Requester(
        9, True, is_cluster_coordinator=True, clusters=frozenset({"Protection"})
    ),
    "moderator": Requester(9, True, is_moderator=True),
}
ABOVE = [  # (lower, higher): the lower never sees more of any field
    ("outsider", "member of another cluster"),
    ("member of another cluster", "member of the same cluster"),
    ("member of another cluster", "coordinator of another cluster"),
    ("member of the same cluster", "coordinator of the same cluster"),
    ("coordinator of another cluster", "coordinator of the same cluster"),
    ("coordinator of the same cluster", "moderator"),
    ("moderator", "coordinator of the same cluster"),
]


def expected(role_name: str, level: Level, name: str, focal_point: bool) -> bool:
    if level.value in LATTICE[role_name]:
        return True
    if role_name == "coordinator of another cluster" and level is not Level.PRIVATE:
        return name in CROSS_CLUSTER_ALWAYS or (focal_point and name in CROSS_CLUSTER_FOCAL_POINT)
    return False


@pytest.mark.parametrize("focal_point", [False, True])
@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("role_name", list(ROLES))
def test_every_role_level_and_field_follows_the_lattice(
    role_name: str, level: Level, focal_point: bool
) -> None:
    person = subject(levels={f: level for f in FIELDS}, is_focal_point=focal_point)
    for name in FIELDS:
        assert may_see(ROLES[role_name], person, name, []) == expected(
            role_name, level, name, focal_point
        ), (role_name, level, name, focal_point)


@pytest.mark.parametrize("focal_point", [False, True])
@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize(("lower", "higher"), ABOVE)
def test_no_role_sees_more_than_a_role_above_it(
    lower: str, higher: str, level: Level, focal_point: bool
) -> None:
    person = subject(levels={f: level for f in FIELDS}, is_focal_point=focal_point)
    assert visible_fields(ROLES[lower], person, []) <= visible_fields(ROLES[higher], person, [])


def test_private_opens_only_with_a_yes_for_every_role() -> None:
    for requester in ROLES.values():
        for focal_point in (False, True):
            person = subject(levels={f: Level.PRIVATE for f in FIELDS}, is_focal_point=focal_point)
            assert visible_fields(requester, person, []) == frozenset()
            yes = Grant(9, 1, frozenset({"phone"}), GrantKind.CONSENT)
            assert visible_fields(requester, person, [yes]) == {"phone"}


def test_which_grants_still_count() -> None:
    from datetime import UTC, datetime, timedelta

    from moderation.contacts import counting_grants

    now = datetime(2026, 3, 1, tzinfo=UTC)
    yes = Grant(9, 1, frozenset({"phone"}), GrantKind.CONSENT)
    live = Grant(9, 1, frozenset({"phone"}), GrantKind.OVERRIDE, now + timedelta(seconds=1))
    ended = Grant(9, 1, frozenset({"phone"}), GrantKind.OVERRIDE, now)
    undated = Grant(9, 1, frozenset({"phone"}), GrantKind.OVERRIDE)

    def count(**kw: bool) -> list[Grant]:
        base = {"overrides_allowed": True, "requester_is_moderator": True}
        base.update(kw)
        return counting_grants([yes, live, ended, undated], now, **base)

    assert count() == [yes, live]
    assert count(overrides_allowed=False) == [yes]
    assert count(requester_is_moderator=False) == [yes]
    assert count(for_export=True) == [yes]
