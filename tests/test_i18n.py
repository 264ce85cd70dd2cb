"""The translation layer: placeholders, plural forms, right-to-left isolates, dates, languages."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.loader import ConfigError, load_settings
from handlers.render import esc, esc_attr, mention
from i18n import (
    FSI,
    LANGUAGES,
    PDI,
    SEPARATOR,
    _,
    bidi,
    comma_join,
    date_text,
    datetime_text,
    duration_text,
    each_label,
    each_language,
    list_text,
    ngettext,
    pick_language,
    supported,
    use_locale,
)
from moderation.introductions import InputError, parse_date, split_name
from simulation.faketg import parse_html

KYIV = ZoneInfo("Europe/Kyiv")
ISOLATES = {"\u2066", "\u2067", FSI}


def paragraph_directions(text: str) -> list[str]:
    """Unicode Bidirectional Algorithm rules P2/P3: each paragraph's direction comes from its
    first strong character, skipping what is inside isolates. "L", "R", or "none"."""
    directions = []
    for paragraph in text.split("\n"):
        depth, found = 0, "none"
        for char in paragraph:
            if char in ISOLATES:
                depth += 1
            elif char == PDI:
                depth = max(depth - 1, 0)
            elif depth == 0:
                kind = unicodedata.bidirectional(char)
                if kind == "L":
                    found = "L"
                    break
                if kind in ("R", "AL"):
                    found = "R"
                    break
        directions.append(found)
    return directions


def isolated_runs(text: str) -> list[str]:
    runs, depth, current = [], 0, ""
    for char in text:
        if char in ISOLATES:
            depth += 1
            if depth == 1:
                current = ""
                continue
        elif char == PDI and depth:
            depth -= 1
            if depth == 0:
                runs.append(current)
                continue
        if depth:
            current += char
    return runs


# --------------------------------------------------------------------------- placeholders
def test_english_is_the_source_and_fills_named_placeholders() -> None:
    with use_locale("en"):
        assert _("Sponsor: {name}", name="Ivan") == "Sponsor: Ivan"
        assert FSI not in _("Sponsor: {name}", name="Ivan")


def test_each_language_has_its_own_words() -> None:
    texts = {}
    for code in LANGUAGES:
        with use_locale(code):
            texts[code] = _("There is nothing to cancel.")
    assert texts == {
        "en": "There is nothing to cancel.",
        "uk": "Немає чого скасовувати.",
        "fr": "Il n’y a rien à annuler.",
        "ar": "لا يوجد ما يُلغى.",
    }


@pytest.mark.parametrize(
    ("language", "counts"),
    [
        ("en", {1: "member", 2: "members", 5: "members"}),
        ("uk", {1: "учасник", 3: "учасники", 5: "учасників", 21: "учасник", 22: "учасники"}),
        ("fr", {0: "membre", 1: "membre", 2: "membres"}),
        (
            "ar",
            {0: "عضو", 1: "عضو واحد", 2: "عضوان", 3: "أعضاء", 11: "عضوًا", 100: "عضو"},
        ),
    ],
)
def test_plural_forms_follow_the_language(language: str, counts: dict[int, str]) -> None:
    with use_locale(language):
        for n, word in counts.items():
            text = ngettext("{group}: {n} member", "{group}: {n} members", n, group="G")
            assert text.endswith(word), (n, text)
            assert str(n) in text


def test_unknown_language_falls_back_to_english() -> None:
    with use_locale("de"):
        assert _("There is nothing to cancel.") == "There is nothing to cancel."


@given(
    chosen=st.one_of(st.none(), st.sampled_from([*LANGUAGES, "de", "uk-UA", ""])),
    telegram=st.one_of(st.none(), st.sampled_from([*LANGUAGES, "de", "fr-CA", "pt-br"])),
    fallback=st.one_of(st.none(), st.sampled_from([*LANGUAGES, "xx"])),
)
def test_pick_language_prefers_choice_then_telegram_then_group(
    chosen: str | None, telegram: str | None, fallback: str | None
) -> None:
    picked = pick_language(chosen, telegram, fallback)
    assert picked in LANGUAGES
    assert picked == (supported(chosen) or supported(telegram) or supported(fallback) or "en")


# --------------------------------------------------------------------------- right to left
def test_arabic_isolates_latin_names_and_numbers_and_reads_right_to_left() -> None:
    with use_locale("ar"):
        text = _(
            "{name} was removed: {why}. They are welcome back through a sponsor.",
            name=mention(42, "John Smith"),
            why=_(
                "the introduction was not completed within {deadline}",
                deadline=duration_text(timedelta(hours=72)),
            ),
        )
    # The Latin name keeps its own direction inside the Arabic sentence...
    assert f'{FSI}<a href="tg://user?id=42">{FSI}John Smith{PDI}</a>{PDI}' in text
    # ...and the sentence is laid out right to left.
    assert paragraph_directions(parse_html(text)[0]) == ["R"]
    assert f"{FSI}3 أيام{PDI}" in text  # the number inside, in its own isolate


def test_a_sentence_starting_with_a_name_gets_a_right_to_left_mark() -> None:
    """Babel's ar plural order is zero, one, two, few (3–10), other (100–102), many (11–99)."""
    with use_locale("ar"):
        text = ngettext("{group}: {n} member", "{group}: {n} members", 11, group="WASH")
    assert text.startswith("\u200f")  # the translation begins with the Latin group name
    assert paragraph_directions(text) == ["R"]
    with use_locale("en"):
        assert not ngettext("{group}: {n} member", "{group}: {n} members", 1, group="W").startswith(
            "\u200f"
        )


def test_isolates_only_in_right_to_left_languages() -> None:
    for code in ("en", "uk", "fr"):
        with use_locale(code):
            assert bidi("John") == "John"
            assert FSI not in _("Sponsor: {name}", name="John")
    with use_locale("ar"):
        assert bidi("John") == f"{FSI}John{PDI}"
        assert bidi("two\nlines") == "two\nlines"  # an isolate would end at the line break
        assert bidi("") == ""


@given(
    name=st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\n\r"),
        min_size=1,
        max_size=40,
    ),
    count=st.integers(min_value=0, max_value=10_000),
)
def test_every_arabic_value_is_one_balanced_isolate(name: str, count: int) -> None:
    """Whatever a person is called, in Arabic the name and the number sit in their own
    isolates, exactly as given (escaped), and the HTML stays valid for Telegram."""
    with use_locale("ar"):
        text = ngettext(
            "<b>{group}</b>: {n} member", "<b>{group}</b>: {n} members", count, group=esc(name)
        )
    plain, _mentions = parse_html(text)
    shown = esc_attr(name)  # escaped, stray direction controls removed, isolated once by esc
    assert isolated_runs(text) == ([shown] if shown else []) + [str(count)]
    assert plain.count(FSI) == plain.count(PDI) >= 1
    assert paragraph_directions(plain) == ["R"]


def test_format_specs_still_work_inside_isolates() -> None:
    with use_locale("ar"):
        text = _(
            "This file is too large ({size:,} bytes); the limit is {limit:,}. "
            "Nothing was imported.",
            size=2_500_000,
            limit=2_000_000,
        )
    assert f"{FSI}2,500,000{PDI}" in text and f"{FSI}2,000,000{PDI}" in text


# --------------------------------------------------------------------------- several languages
def test_a_bilingual_message_is_each_language_in_turn() -> None:
    text = each_language(["uk", "en"], lambda: _("There is nothing to cancel."))
    assert text == f"Немає чого скасовувати.{SEPARATOR}There is nothing to cancel."
    assert each_label(["uk", "en"], lambda: _("Remove")) == "Видалити / Remove"
    assert each_label(["en", "en"], lambda: _("Remove")) == "Remove"


def test_lists_use_the_language_punctuation() -> None:
    with use_locale("ar"):
        assert comma_join(["UNICEF", "WASH"]) == "UNICEF، WASH"
    with use_locale("uk"):
        assert list_text(["A", "B"]) == "A і B"


# --------------------------------------------------------------------------- dates and times
def test_dates_in_the_locale_format() -> None:
    day = date(2026, 12, 20)
    expected = {
        "en": "20 Dec 2026",
        "uk": "20 груд. 2026\u202fр.",
        "fr": "20 déc. 2026",
        "ar": "20 ديسمبر 2026",
    }
    for code, text in expected.items():
        with use_locale(code):
            assert date_text(day) == text


def test_times_are_shown_in_the_group_time_zone_across_daylight_saving() -> None:
    winter = datetime(2026, 12, 20, 10, 0, tzinfo=UTC)  # 12:00 in Kyiv (UTC+2)
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)  # 13:00 in Kyiv (UTC+3)
    with use_locale("en"):
        assert datetime_text(winter, KYIV) == "20 Dec 2026, 12:00 Kyiv time"
        assert datetime_text(summer, KYIV) == "1 Jul 2026, 13:00 Kyiv time"
        assert datetime_text(winter, ZoneInfo("UTC")) == "20 Dec 2026, 10:00 UTC"
        assert datetime_text(winter, ZoneInfo("America/New_York")).endswith("New York time")
    with use_locale("fr"):
        assert datetime_text(winter, KYIV) == "20 déc. 2026, 12:00 heure de Kiev"
    with use_locale("uk"):
        assert datetime_text(winter, KYIV).endswith("12:00 за часом міста Київ")
    # A moment late on the 31st in UTC is already the 1st in Kyiv.
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    with use_locale("uk"):
        assert date_text(late, KYIV) == "1 січ. 2027\u202fр."


def test_durations_in_words() -> None:
    with use_locale("en"):
        assert duration_text(timedelta(days=3, hours=4, minutes=5)) == "3 days 4 hours"
        assert duration_text(timedelta(hours=24)) == "1 day"
        assert duration_text(timedelta(seconds=20)) == "20 seconds"
    with use_locale("uk"):
        assert duration_text(timedelta(hours=72)) == "3 дні"
    with use_locale("ar"):
        assert duration_text(timedelta(hours=2)) == "ساعتان"


# --------------------------------------------------------------------------- typed input
def test_rule_messages_speak_the_current_language() -> None:
    with use_locale("uk"), pytest.raises(InputError, match="і ім’я, і прізвище"):
        split_name("Olena")
    with use_locale("fr"), pytest.raises(InputError, match="Trop long"):
        split_name("x" * 200)


@pytest.mark.parametrize(
    "typed",
    ["in 3 weeks", "через 3 тижні", "dans 3 semaines", "بعد 3 أسابيع", "بعد ٣ أسابيع"],
)
def test_relative_dates_in_every_language(typed: str) -> None:
    assert parse_date(typed, date(2026, 11, 23)) == date(2026, 12, 14)


# --------------------------------------------------------------------------- configuration
def _config(tmp_path: Path, languages: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "groups:\n  - chat_id: -100123\n    title: G\n" + f"    languages: {languages}\n"
    )
    return path


def test_group_languages_are_configured(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, "[uk, en]"))
    assert settings.groups[0].languages == ["uk", "en"]
    default = load_settings(_config(tmp_path, "[ar]"))
    assert default.groups[0].languages == ["ar"]


@pytest.mark.parametrize("languages", ["[de]", "[uk, en, fr]", "[uk, uk]", "[]"])
def test_bad_group_languages_are_refused(tmp_path: Path, languages: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_config(tmp_path, languages))
    assert any("languages" in problem for problem in refused.value.problems)
