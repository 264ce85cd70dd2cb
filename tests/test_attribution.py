"""The arrival rule: every newcomer has a present sponsor, or is held with a recorded reason."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from moderation.introductions import Arrival, IntroStatus, attribute_arrival, may_sponsor

ids = st.none() | st.integers(min_value=1, max_value=5)

arrivals = st.builds(
    Arrival,
    joined_as_admin=st.booleans(),
    via_link=st.booleans(),
    invitation_sponsor_id=ids,
    invitation_was_unused=st.booleans(),
    via_join_request=st.booleans(),
    request_sponsor_id=ids,
    request_moderator_id=ids,
    adder_id=ids,
    present_ids=st.frozensets(st.integers(min_value=1, max_value=5)),
)


@given(arrivals)
def test_never_silently_accepted(arrival: Arrival) -> None:
    decision = attribute_arrival(arrival)
    assert decision.note  # there is always a recorded reason
    if decision.status is IntroStatus.HELD:
        assert decision.sponsor_id is None
    elif decision.status is IntroStatus.PENDING:
        assert decision.sponsor_id is not None
        # A sponsor from a link or an adder must still be in the group.
        if arrival.via_link or (not arrival.via_join_request and arrival.adder_id):
            assert decision.sponsor_id in arrival.present_ids
    else:
        assert arrival.joined_as_admin


def test_a_used_link_is_held_even_with_a_present_sponsor() -> None:
    decision = attribute_arrival(
        Arrival(via_link=True, invitation_sponsor_id=1, present_ids=frozenset({1}))
    )
    assert decision.status is IntroStatus.HELD and "already used" in decision.note


def test_unfinished_introduction_cannot_sponsor() -> None:
    from moderation.introductions import Category

    problem = may_sponsor(True, None, Category.IN_COUNTRY, IntroStatus.PENDING)
    assert problem == "please complete your own introduction before sponsoring someone"
