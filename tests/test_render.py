"""Nothing a user types is ever rendered as markup; durations read and print consistently."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.render import chunk_lines, esc, mention, strip_direction_controls
from moderation.durations import DurationError, format_duration, parse_duration
from simulation.faketg import parse_html
from tests.test_bidi import line_is_contained


@given(st.text(min_size=1))
def test_escaped_text_reads_back_verbatim(text: str) -> None:
    plain, mentions = parse_html(f"<b>{esc(text)}</b>")
    # What a reader sees: the text itself, less the direction controls that would reorder it.
    assert plain.replace("\u2068", "").replace("\u2069", "") == strip_direction_controls(
        text
    ).replace("\u2068", "").replace("\u2069", "")
    assert mentions == []


@given(st.integers(min_value=1, max_value=2**52), st.text(min_size=1, max_size=50))
def test_mentions_keep_names_plain(user_id: int, name: str) -> None:
    plain, mentions = parse_html(mention(user_id, name))
    reader = {ord("\u2068"): None, ord("\u2069"): None}
    assert plain.translate(reader) == strip_direction_controls(name).translate(reader)
    assert mentions == [user_id]


@given(st.lists(st.text(max_size=5000), max_size=20))
def test_chunks_respect_telegram_length(lines: list[str]) -> None:
    assert all(len(chunk) <= 4096 for chunk in chunk_lines(lines))


# Lines as the bot writes them: user text through esc(), in tags, mentions and plain words.
_words = st.text(st.characters(blacklist_characters="\n\r"), max_size=40)
_pieces = st.one_of(
    _words.map(esc),
    st.tuples(st.sampled_from(["b", "i", "code"]), _words).map(
        lambda tag_text: f"<{tag_text[0]}>{esc(tag_text[1])}</{tag_text[0]}>"
    ),
    st.tuples(st.integers(1, 2**40), _words).map(lambda m: mention(*m)),
    st.sampled_from([" ", "—", "A&B → ", "“quoted”"]).map(esc),
)
_lines = st.lists(_pieces, max_size=12).map("".join)


@given(st.lists(_lines, min_size=1, max_size=8), st.integers(min_value=8, max_value=300))
def test_every_chunk_parses_even_when_a_line_is_cut(lines: list[str], limit: int) -> None:
    """Telegram refuses a message whose HTML does not parse; a cut line must still parse, keep
    its direction to itself, and fit. Lines that fit arrive whole and in order (a message
    never starts with an empty line)."""
    chunks = chunk_lines(lines, limit)
    for chunk in chunks:
        assert len(chunk) <= limit
        parse_html(chunk)  # raises ApiError(400) as Telegram would refuse it
        for line in chunk.split("\n"):
            assert line_is_contained(line), line
    whole = [line for line in lines if 0 < len(line) <= limit]
    sent = [line for chunk in chunks for line in chunk.split("\n")]
    assert [line for line in sent if line in whole] == whole


@given(st.integers(min_value=60, max_value=10**8).map(lambda s: s - s % 60))
def test_duration_round_trip(seconds: int) -> None:
    shown = format_duration(timedelta(seconds=seconds)).replace(" ", "")
    assert parse_duration(shown) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "-5m", "0m", "5x", "m", "1.5h", "99999999d", "soon"])
def test_bad_durations_say_what_was_expected(bad: str) -> None:
    with pytest.raises(DurationError, match="duration such as 30m"):
        parse_duration(bad)
