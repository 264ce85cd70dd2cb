"""Deadlines in every language: each partner's reminders and each moderator's digest in their
own language and date format, the group's digest and answers in the group's language(s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from i18n import SEPARATOR, use_locale
from moderation import deadlines as rules
from moderation.deadline_input import parse_schedule
from moderation.deadlines import Deadline, DeadlineError
from simulation.faketg import FakeUser, SentMessage
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.test_deadlines import SITREP, run_until
from tests.test_languages import bilingual, choose  # noqa: F401 - the fixture


def plain(text: str) -> str:
    """CLDR puts narrow no-break spaces in some dates (``2026\u202fр.``); compare as read."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


SNOOZE_LABELS = {"en": "⏰ Snooze 2 hours", "uk": "⏰ Відкласти на 2 години"}


async def subscribe(sim: Simulator, user: FakeUser) -> None:
    """/subscribe as WASH / UNICEF, whatever language the questions come in."""
    sim.telegram.started.add(user.id)
    await sim.dm(user, "/start")
    mark = sim.mark()
    await sim.dm(user, "/subscribe")
    await sim.press(user, sim.unique_reply(mark, user.id), "WASH")
    await sim.press(user, sim.last(user.id), "UNICEF")


def sitrep_reminders(sim: Simulator, user: FakeUser) -> list[SentMessage]:
    return [
        m
        for m in sim.telegram.sent(user.id)
        if "SitRep inputs" in m.text and "(sitrep)" in m.text and m.reply_markup
    ]


def labels(message: SentMessage) -> list[str]:
    markup = message.reply_markup or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_each_partner_reads_reminders_in_their_language_and_date_format(
    sim: Simulator,
) -> None:
    alice = sim.user("Alice", username="alice_im")
    olena = sim.user("Olena", username="olena_im", language_code="uk")
    pierre = sim.user("Pierre", username="pierre_im")
    for person in (alice, olena, pierre):
        await subscribe(sim, person)
    await choose(sim, pierre, "Français")  # a /language choice beats Telegram's English
    await run_until(sim, SITREP - timedelta(days=2))
    (english,) = sitrep_reminders(sim, alice)
    (ukrainian,) = sitrep_reminders(sim, olena)
    (french,) = sitrep_reminders(sim, pierre)
    assert "is due Wed, 2 Dec 2026, 12:00 Kyiv time (in 2 days)" in english.text
    assert "ср, 2 груд. 2026 р., 12:00 за часом міста Київ (через 2 дні)" in plain(ukrainian.text)
    assert "mer. 2 déc. 2026, 12:00 heure de Kiev (dans 2 jours)" in plain(french.text)
    assert labels(english)[0] == "✅ Submitted" and labels(english)[1] == SNOOZE_LABELS["en"]
    assert labels(ukrainian)[:2] == ["✅ Подано", SNOOZE_LABELS["uk"]]
    assert labels(french)[0] == "✅ Remis"
    # Pressing a button answers in the presser's language, with the same local date.
    mark = sim.mark()
    await sim.press(olena, ukrainian, "Подано")
    done = plain(sim.unique_reply(mark, olena.id).text)
    assert done.startswith("Записано: SitRep inputs (ср, 2 груд. 2026 р., 12:00")


async def test_the_moderators_digest_is_in_the_moderators_language(sim: Simulator) -> None:
    await subscribe(sim, sim.user("Alice", username="alice_im"))
    mira = sim.telegram.users[MODERATOR_ID]
    await choose(sim, mira, "Українська")
    await run_until(sim, SITREP + timedelta(hours=3))
    digests = [m for m in sim.telegram.sent(MODERATOR_ID) if "SitRep inputs" in m.text]
    assert len(digests) == 1
    text = plain(digests[0].text)
    assert text.startswith("Прострочено — ще не подали:")
    assert "термін ср, 2 груд. 2026 р., 12:00 за часом міста Київ: відповіли 0 з " in text
    assert "WASH (кластер): " in text and "Overdue" not in text


async def test_the_group_digest_speaks_both_languages_of_a_bilingual_group(
    bilingual: Simulator,  # noqa: F811 - the fixture
) -> None:
    sim = bilingual
    alice = sim.user("Alice", username="alice_im")
    await subscribe(sim, alice)
    await sim.feed(sim.telegram.block_bot(alice.id))
    await run_until(sim, SITREP - timedelta(days=2))
    (digest,) = [m for m in sim.telegram.sent(GROUP_ID) if "SitRep inputs" in m.text]
    ukrainian, english = plain(digest.text).split(SEPARATOR)
    assert ukrainian.startswith("⏰ SitRep inputs, термін ср, 2 груд. 2026 р., 12:00")
    assert "Я не можу написати вам в особисті" in ukrainian
    assert english.startswith("⏰ SitRep inputs is due Wed, 2 Dec 2026, 12:00")
    assert "I cannot write to you privately" in english
    assert digest.mentions.count(alice.id) == 2  # one mention per language, one notification


async def test_deadline_commands_in_a_bilingual_group_answer_in_both(
    bilingual: Simulator,  # noqa: F811 - the fixture
) -> None:
    sim = bilingual
    alice = sim.user("Alice", username="alice_im")
    mark = sim.mark()
    await sim.say(alice, "/deadlines")
    text = plain(sim.unique_reply(mark, GROUP_ID).text)
    ukrainian, english = text.split(SEPARATOR)
    assert ukrainian.startswith("Терміни (надішліть мені /subscribe")
    assert "наступний: ср, 2 груд. 2026 р., 12:00" in ukrainian
    assert english.startswith("Deadlines (send /subscribe")
    assert "every other Wednesday at 12:00 Kyiv time; next: Wed, 2 Dec 2026, 12:00" in english
    mark = sim.mark()
    await sim.say(alice, "/submitted nope")
    refused = sim.unique_reply(mark, GROUP_ID).text
    assert refused == SEPARATOR.join(
        [
            "Терміну nope немає. /deadlines показує ідентифікатори.",
            "There is no deadline nope. /deadlines lists the ids.",
        ]
    )


SITREP_RULE = Deadline(
    id="sitrep",
    title="SitRep inputs",
    rule="FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=12;BYMINUTE=0",
    starts=datetime(2026, 12, 2),
    timezone="Europe/Kyiv",
)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "every other Wednesday at 12:00 Kyiv time; next: Wed, 2 Dec 2026, 12:00"),
        ("uk", "через тиждень (середа) о 12:00 за часом міста Київ; наступний: ср, 2 груд."),
        ("fr", "toutes les deux semaines (mercredi) à 12:00 heure de Kiev ; prochaine : mer."),
        ("ar", "الأربعاء"),
    ],
)
def test_schedule_summaries_in_each_language(language: str, expected: str) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with use_locale(language):
        text = plain(rules.summary(SITREP_RULE, now))
    assert text.replace("\u2068", "").replace("\u2069", "").startswith(expected) or (
        language == "ar" and expected in text and "12:00 م" in text
    )


@pytest.mark.parametrize(
    ("typed", "language", "expected"),
    [
        ("every year on 15 April 12:00", "uk", "щороку 15 квітня о 12:00"),
        ("every year on 15 April 12:00", "fr", "chaque année le 15 avril à 12:00"),
        ("5th of each month 17:00", "fr", "le 5e de chaque mois à 17:00"),
        ("first Tuesday of each month 14:00", "fr", "le 1er mardi de chaque mois à 14:00"),
        ("every Monday and Thursday 10:00", "uk", "щотижня (понеділок і четвер) о 10:00"),
        ("2026-12-20 12:00", "fr", "une fois, le dim. 20 déc. 2026 à 12:00"),
    ],
)
def test_friendly_schedules_read_back_in_the_language(
    typed: str, language: str, expected: str
) -> None:
    schedule = parse_schedule(typed, datetime(2026, 11, 23).date())
    deadline = Deadline("x", "X", schedule.rule, schedule.starts, "Europe/Kyiv")
    with use_locale(language):
        assert plain(rules.describe_rule(deadline)).startswith(expected)


def test_a_month_without_the_day_is_named_in_the_language() -> None:
    with use_locale("fr"), pytest.raises(DeadlineError) as refused:
        parse_schedule("every year on 30 February 12:00", datetime(2026, 11, 23).date())
    assert str(refused.value) == "février n’a pas de jour 30 (il a 28 jours)"
