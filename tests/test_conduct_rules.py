"""The watcher's decision (``judge``) and warning escalation (``plan_warning``) as pure rules.

Oracles come from the README's Moderation section and config/example.yaml, restated here
independently: "8 messages within 30s → muted for 10m", "the 3rd warning within 30d → muted
24h, the 4th → removed", "moderators and admins are not policed", "links and files wait for
the introduction", "an edit is never a new message".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from moderation.conduct import (
    NOTHING,
    MessageFacts,
    Offence,
    Standing,
    WarningAction,
    WatchPolicy,
    judge,
    plan_warning,
    screen,
    sponsor_news,
)
from moderation.discipline import BannedMatcher, FloodRule, Penalty, Step
from tests.test_discipline_rules import ladders

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
README_FLOOD = FloodRule(messages=8, per=timedelta(seconds=30))
README_LADDER = [Step(3, Penalty.MUTE, timedelta(hours=24)), Step(4, Penalty.REMOVE)]
POLICY = WatchPolicy(
    flood=README_FLOOD,
    banned=BannedMatcher.build(["idiot"], []),
    block_links_until_introduced=True,
    block_media_until_introduced=True,
)
MEMBER = Standing()
NEWCOMER = Standing(introduction_incomplete=True)


def burst(n: int, every: timedelta = timedelta(seconds=1)) -> tuple[datetime, ...]:
    """``n`` messages ending at T0, ``every`` apart (the last one is the message judged)."""
    return tuple(T0 - every * k for k in reversed(range(n)))


def said(
    text: str = "hello all",
    *,
    recent: tuple[datetime, ...] = burst(1),
    edited: bool = False,
    has_media: bool = False,
    entity_types: tuple[str, ...] = (),
) -> MessageFacts:
    return MessageFacts(T0, text, entity_types, has_media, edited, recent)


# --------------------------------------------------------------------------- judge: examples
def test_the_eighth_message_in_thirty_seconds_mutes() -> None:
    assert judge(said(recent=burst(7)), MEMBER, POLICY) == NOTHING
    verdict = judge(said(recent=burst(8)), MEMBER, POLICY)
    assert verdict.mute_for_flood and verdict.flood_count == 8 and verdict.delete is None
    # Spread over more than 30 seconds it is conversation, not a flood.
    assert judge(said(recent=burst(8, timedelta(seconds=5))), MEMBER, POLICY) == NOTHING


def test_no_flood_limit_configured_never_mutes() -> None:
    off = WatchPolicy(None, POLICY.banned, True, True)
    assert judge(said(recent=burst(100)), MEMBER, off) == NOTHING


def test_who_is_not_muted_for_flooding() -> None:
    flood = said(recent=burst(8))
    for standing in (
        Standing(trusted=True),  # configured moderators, admins by the live list
        Standing(admin=True),  # Telegram protects admins
        Standing(muted=True),  # already muted
        Standing(held=True),  # read-only until introduced anyway
    ):
        assert not judge(flood, standing, POLICY).mute_for_flood, standing


def test_an_edit_is_not_counted_as_a_new_message() -> None:
    edit = said(recent=burst(20), edited=True)
    assert judge(edit, MEMBER, POLICY) == NOTHING


def test_banned_words_are_deleted_for_anyone_but_the_trusted() -> None:
    verdict = judge(said("you IDIOT"), MEMBER, POLICY)
    assert verdict.delete is Offence.BANNED_WORD and verdict.banned == "IDIOT"
    assert judge(said("you IDIOT"), Standing(trusted=True), POLICY) == NOTHING
    assert judge(said("idiotic rules"), MEMBER, POLICY) == NOTHING  # whole words only
    # An edit that adds one is moderated the same way.
    assert judge(said("you idiot", edited=True), MEMBER, POLICY).delete is Offence.BANNED_WORD


def test_links_and_media_wait_for_the_introduction() -> None:
    link = said("offer: https://example.org/deal")
    assert judge(link, NEWCOMER, POLICY).delete is Offence.LINK
    assert judge(link, MEMBER, POLICY) == NOTHING
    photo = said("", has_media=True)
    assert judge(photo, NEWCOMER, POLICY).delete is Offence.MEDIA
    assert judge(said("see t.me/x", has_media=True), NEWCOMER, POLICY).delete is Offence.LINK
    assert judge(said("", entity_types=("text_link",)), NEWCOMER, POLICY).delete is Offence.LINK
    allowed = WatchPolicy(README_FLOOD, POLICY.banned, False, False)
    assert judge(link, NEWCOMER, allowed) == NOTHING
    assert judge(photo, NEWCOMER, allowed) == NOTHING


def test_a_flood_with_a_banned_word_mutes_and_deletes() -> None:
    verdict = judge(said("idiot", recent=burst(8)), MEMBER, POLICY)
    assert verdict.mute_for_flood and verdict.delete is Offence.BANNED_WORD


# --------------------------------------------------------------------------- judge: properties
WORDS = st.sampled_from(["hello", "idiot", "https://example.org", "t.me/chat", "see you", ""])
STANDINGS = st.builds(
    Standing,
    trusted=st.booleans(),
    admin=st.booleans(),
    muted=st.booleans(),
    held=st.booleans(),
    introduction_incomplete=st.booleans(),
)
POLICIES = st.builds(
    WatchPolicy,
    flood=st.none() | st.builds(FloodRule, st.integers(2, 12), st.just(timedelta(seconds=30))),
    banned=st.just(POLICY.banned),
    block_links_until_introduced=st.booleans(),
    block_media_until_introduced=st.booleans(),
)


@st.composite
def messages(draw: st.DrawFn) -> MessageFacts:
    gaps = draw(st.lists(st.integers(0, 40), max_size=15))
    recent = [T0]
    for gap in gaps:
        recent.insert(0, recent[0] - timedelta(seconds=gap))
    edited = draw(st.booleans())
    return MessageFacts(
        sent_at=T0,
        text=" ".join(draw(st.lists(WORDS, max_size=3))),
        entity_types=tuple(draw(st.lists(st.sampled_from(["url", "bold", "mention"]), max_size=2))),
        has_media=draw(st.booleans()),
        edited=edited,
        recent=() if edited else tuple(recent),
    )


@given(messages(), STANDINGS, POLICIES)
def test_judge_follows_the_readme(
    facts: MessageFacts, standing: Standing, policy: WatchPolicy
) -> None:
    verdict = judge(facts, standing, policy)
    if standing.trusted or standing.admin:
        assert verdict == NOTHING
        return
    words = (facts.text or "").split()
    in_window = [t for t in facts.recent if T0 - timedelta(seconds=30) < t <= T0]
    flooding = policy.flood is not None and len(in_window) >= policy.flood.messages
    expect_mute = flooding and not facts.edited and not standing.muted and not standing.held
    assert verdict.mute_for_flood is expect_mute
    assert verdict.flood_count == (len(facts.recent) if expect_mute else 0)
    linked = "url" in facts.entity_types or any(w.startswith(("https://", "t.me/")) for w in words)
    if "idiot" in words:
        assert verdict.delete is Offence.BANNED_WORD and verdict.banned == "idiot"
    elif standing.introduction_incomplete and policy.block_links_until_introduced and linked:
        assert verdict.delete is Offence.LINK
    elif (
        standing.introduction_incomplete and policy.block_media_until_introduced and facts.has_media
    ):
        assert verdict.delete is Offence.MEDIA
    else:
        assert verdict.delete is None


@given(messages(), STANDINGS, POLICIES)
def test_a_clean_screening_means_nothing_whoever_sent_it(
    facts: MessageFacts, standing: Standing, policy: WatchPolicy
) -> None:
    """Why the watcher may skip reading the sender's standing for an ordinary message."""
    if screen(facts, policy).clean:
        assert judge(facts, standing, policy) == NOTHING


@given(messages(), STANDINGS, POLICIES)
def test_an_edit_never_mutes(facts: MessageFacts, standing: Standing, policy: WatchPolicy) -> None:
    edited = MessageFacts(
        facts.sent_at, facts.text, facts.entity_types, facts.has_media, True, facts.recent
    )
    assert not judge(edited, standing, policy).mute_for_flood
    # ... and its content is judged exactly as a new message's would be.
    assert judge(edited, standing, policy).delete == judge(facts, standing, policy).delete


@given(messages(), STANDINGS, st.integers(1, 10))
def test_more_messages_never_lift_a_flood_mute(
    facts: MessageFacts, standing: Standing, extra: int
) -> None:
    more = MessageFacts(
        facts.sent_at,
        facts.text,
        facts.entity_types,
        facts.has_media,
        facts.edited,
        facts.recent + (() if facts.edited else (T0,) * extra),
    )
    if judge(facts, standing, POLICY).mute_for_flood:
        assert judge(more, standing, POLICY).mute_for_flood


# --------------------------------------------------------------------------- plan_warning
def test_the_readme_ladder_warning_by_warning() -> None:
    plans = [plan_warning(earlier, README_LADDER, held=False) for earlier in range(6)]
    assert [p.count for p in plans] == [1, 2, 3, 4, 5, 6]
    assert [p.action for p in plans] == [
        WarningAction.NONE,
        WarningAction.NONE,
        WarningAction.MUTE,
        WarningAction.REMOVE,
        WarningAction.REMOVE,  # past the last step it repeats
        WarningAction.REMOVE,
    ]
    assert plans[2].mute_for == timedelta(hours=24)
    assert [p.upcoming.warnings if p.upcoming else None for p in plans] == [
        3,
        3,
        4,
        None,
        None,
        None,
    ]


def test_a_held_newcomer_is_not_muted_again_by_a_warning() -> None:
    plan = plan_warning(2, README_LADDER, held=True)
    assert plan.action is WarningAction.ALREADY_HELD and plan.mute_for is None
    assert plan_warning(3, README_LADDER, held=True).action is WarningAction.REMOVE


def test_what_the_sponsor_is_told() -> None:
    removal = plan_warning(3, README_LADDER, held=False)
    assert sponsor_news(removal, penalty_done=True).kind == "remove"
    assert sponsor_news(removal, penalty_done=True).after == 4
    assert sponsor_news(removal, penalty_done=False).kind == "warn"  # Telegram refused
    mute = plan_warning(2, README_LADDER, held=False)
    assert sponsor_news(mute, penalty_done=True).kind == "warn"
    ban = plan_warning(0, [Step(1, Penalty.BAN)], held=False)
    assert (sponsor_news(ban, True).kind, sponsor_news(ban, True).after) == ("ban", 1)


@given(ladders(), st.integers(0, 50), st.booleans(), st.booleans())
def test_plan_warning_climbs_the_ladder(
    ladder: list[Step], earlier: int, held: bool, done: bool
) -> None:
    plan = plan_warning(earlier, ladder, held)
    count = earlier + 1
    assert plan.count == count
    reached = [s for s in ladder if s.warnings <= count]
    assert plan.step == (reached[-1] if reached else None)
    expected = {
        None: WarningAction.NONE,
        Penalty.MUTE: WarningAction.ALREADY_HELD if held else WarningAction.MUTE,
        Penalty.REMOVE: WarningAction.REMOVE,
        Penalty.BAN: WarningAction.BAN,
    }[plan.step.penalty if plan.step else None]
    assert plan.action is expected
    higher = [s.warnings for s in ladder if s.warnings > count]
    assert (plan.upcoming.warnings if plan.upcoming else None) == (min(higher) if higher else None)
    news = sponsor_news(plan, done)
    if done and expected in (WarningAction.REMOVE, WarningAction.BAN):
        assert (news.kind, news.after) == (expected.value, count)
    else:
        assert (news.kind, news.after) == ("warn", None)
