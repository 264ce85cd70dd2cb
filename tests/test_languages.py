"""Languages end to end: each person reads their own language, groups read theirs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from config.loader import LoadedConfig
from i18n import FSI, PDI, SEPARATOR
from moderation.clock import FakeClock
from moderation.roster import MemberStatus
from simulation.faketg import FakeMember, FakeUser
from simulation.simulator import Simulator
from storage.roster import RosterRepository
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import status
from tests.test_i18n import paragraph_directions
from tests.test_joins import veteran


def stored_language(sim: Simulator, user_id: int) -> str | None:
    with sim.services.db.transaction() as session:
        user = RosterRepository(session).user(user_id)
        return user.language if user else None


def last_alert(sim: Simulator) -> str:
    return str(sim.telegram.calls_to("answerCallbackQuery")[-1].get("text", ""))


async def choose(sim: Simulator, user: FakeUser, native_name: str) -> None:
    await sim.dm(user, "/language")
    await sim.press(user, sim.last(user.id), native_name)


def with_group_languages(config: LoadedConfig, languages: list[str]) -> LoadedConfig:
    group = config.settings.groups[0].model_copy(update={"languages": languages})
    settings = config.settings.model_copy(update={"groups": [group]})
    return dataclasses.replace(config, settings=settings)


@pytest.fixture
async def bilingual(config: LoadedConfig, clock: FakeClock) -> AsyncIterator[Simulator]:
    """The example group, configured to speak Ukrainian and English side by side."""
    simulator = Simulator(with_group_languages(config, ["uk", "en"]), clock)
    moderator = simulator.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    simulator.telegram.started.add(moderator.id)
    await simulator.start()
    yield simulator
    await simulator.stop()
    assert not simulator.errors, f"the bot raised: {simulator.errors!r}"


# --------------------------------------------------------------------------- private chats
async def test_a_ukrainian_user_gets_ukrainian_replies(sim: Simulator) -> None:
    olena = sim.user("Olena", "Koval", language_code="uk")
    mark = sim.mark()
    await sim.dm(olena, "/start")
    text = sim.unique_reply(mark, olena.id).text
    assert text.startswith("Вітаю, Olena!")
    assert "/language — Обрати мову, якою я вам пишу" in text
    assert "Hello" not in text
    await sim.dm(olena, "/nonsense")
    assert sim.last(olena.id).text.startswith("Я не знаю команди /nonsense.")
    await sim.dm(olena, "hello?")
    assert "Надішліть /help" in sim.last(olena.id).text
    # Answers to typed input are Ukrainian too: a name without a last name in /invite.
    await veteran(sim, "Ostap")  # someone else; Olena herself is not a member
    await sim.dm(olena, "/invite")
    assert sim.last(olena.id).text.startswith("Поручатися за новачків можуть лише учасники")


async def test_a_regional_telegram_language_counts(sim: Simulator) -> None:
    claire = sim.user("Claire", language_code="fr-CA")
    await sim.dm(claire, "/help")
    assert sim.last(claire.id).text.startswith("Les commandes que vous pouvez utiliser ici")


async def test_language_command_switches_and_is_remembered(sim: Simulator) -> None:
    ivan = sim.user("Ivan", "Koval", "ivan_k")  # Telegram in English
    await sim.dm(ivan, "/start")
    assert sim.last(ivan.id).text.startswith("Hello Ivan!")
    await sim.dm(ivan, "/language")
    menu = sim.last(ivan.id)
    assert [b["text"] for b in menu.buttons()] == ["✓ English", "Українська", "Français", "العربية"]
    await sim.press(ivan, menu, "Français")
    assert sim.last(ivan.id).text.startswith("Désormais, je vous écris en Français.")
    assert stored_language(sim, ivan.id) == "fr"
    mark = sim.mark()
    await sim.dm(ivan, "/help")
    assert sim.unique_reply(mark, ivan.id).text.startswith(
        "Les commandes que vous pouvez utiliser ici"
    )
    # His own command menu is French now.
    scope = json.dumps({"chat_id": ivan.id, "type": "chat"}, sort_keys=True)
    descriptions = {c["command"]: c["description"] for c in sim.telegram.commands[scope]}
    assert descriptions["start"] == "Ce que fait ce bot"
    assert "members" not in descriptions  # a member's menu, not a moderator's
    # The choice beats Telegram's setting, and it can be changed back.
    await choose(sim, ivan, "English")
    assert stored_language(sim, ivan.id) == "en"
    assert sim.last(ivan.id).text.startswith("From now on I write to you in English.")


async def test_a_forged_language_button_changes_nothing(sim: Simulator) -> None:
    ivan = sim.user("Ivan")
    await sim.dm(ivan, "/language")
    menu = sim.last(ivan.id)
    await sim.feed(sim.telegram.forged_press(ivan.id, ivan.id, menu.message_id, "lang:de"))
    assert last_alert(sim) == "This button is not valid."
    await sim.feed(sim.telegram.forged_press(ivan.id, ivan.id, menu.message_id, "lang:<b>"))
    assert stored_language(sim, ivan.id) is None


async def test_language_in_the_group_points_to_the_private_chat(sim: Simulator) -> None:
    ivan = await veteran(sim)
    mark = sim.mark()
    await sim.say(ivan, "/language")
    assert "Send me /language privately" in sim.unique_reply(mark, GROUP_ID).text
    assert stored_language(sim, ivan.id) is None


# --------------------------------------------------------------------------- other recipients
async def test_a_french_moderator_gets_french_notes_while_the_group_reads_english(
    sim: Simulator,
) -> None:
    mira = sim.telegram.users[MODERATOR_ID]
    await choose(sim, mira, "Français")
    stranger = sim.user("Stranger", "Danger")  # speaks English
    mark = sim.mark()
    await sim.join(stranger)
    ask = sim.unique_reply(mark, MODERATOR_ID)
    assert f"a rejoint <b>{FSI}Ukraine IM community{PDI}</b> sans parrain connu" in ask.html
    assert "arrivé sans parrain" in ask.text  # the stored reason, translated for her
    assert [b["text"] for b in ask.buttons()] == ["Je le/la parraine", "Retirer"]
    card = sim.unique_reply(mark, GROUP_ID)
    assert card.text.startswith("Welcome, Stranger Danger! Every member here is sponsored")
    # She decides in French; the group is told in English.
    mark = sim.mark()
    await sim.press(mira, ask, "Retirer")
    assert sim.last(MODERATOR_ID).text.startswith("Retiré.")
    announcement = sim.unique_reply(mark, GROUP_ID)
    assert "was removed: a moderator decided to remove them" in announcement.text
    assert status(sim, stranger.id) is MemberStatus.REMOVED


async def test_each_moderator_in_their_own_language(config: LoadedConfig, clock: FakeClock) -> None:
    second = 222222222
    settings = config.settings.model_copy(update={"moderators": [MODERATOR_ID, second]})
    async with Simulator(dataclasses.replace(config, settings=settings), clock) as sim:
        sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
        sim.telegram.add_user("Yusuf", None, "yusuf", "ar", user_id=second)
        sim.telegram.started.update({MODERATOR_ID, second})
        await sim.dm(sim.telegram.users[second], "/start")
        mark = sim.mark()
        await sim.join(sim.user("Stranger"))
        english = sim.unique_reply(mark, MODERATOR_ID).text
        arabic = sim.unique_reply(mark, second)
        assert "joined Ukraine IM community without a known sponsor" in english
        assert "انضم" in arabic.text and f"{FSI}<b>Ukraine IM community</b>" not in arabic.html
        assert f"<b>{FSI}Ukraine IM community{PDI}</b>" in arabic.html
        assert [b["text"] for b in arabic.buttons()] == ["أنا أكفله", "إزالة"]


# --------------------------------------------------------------------------- bilingual group
async def test_a_bilingual_group_reads_both_languages_side_by_side(bilingual: Simulator) -> None:
    sim = bilingual
    ivan = await veteran(sim)
    mark = sim.mark()
    await sim.say(ivan, "/help")
    ukrainian, english = sim.unique_reply(mark, GROUP_ID).text.split(SEPARATOR.strip("\n"))
    assert ukrainian.startswith("Команди, доступні тут")
    assert english.strip().startswith("Commands you can use here")
    # A newcomer's card: the whole message in Ukrainian, then in English; buttons in both.
    stranger = sim.user("Stranger")
    mark = sim.mark()
    await sim.join(stranger)
    card = sim.unique_reply(mark, GROUP_ID)
    first, second = card.text.split(SEPARATOR.strip("\n"))
    assert first.startswith("Вітаємо, Stranger!") and second.strip().startswith(
        "Welcome, Stranger!"
    )
    assert (
        card.buttons()[0]["text"] == "Новачок: підтвердити мої дані / Newcomer: confirm my details"
    )
    assert card.mentions.count(stranger.id) == 2
    # Private chats still follow the person: English Telegram → English.
    await sim.dm(stranger, "/start confirm_" + card.buttons()[0]["url"].rsplit("_", 1)[1])
    assert sim.last(stranger.id).text.startswith("Welcome!")


async def test_private_fallback_is_the_group_language(bilingual: Simulator) -> None:
    hans = bilingual.user("Hans", language_code="de")  # a language the bot does not speak
    await bilingual.dm(hans, "/start")
    assert bilingual.last(hans.id).text.startswith("Вітаю, Hans!")


async def test_removal_is_announced_in_both_languages(bilingual: Simulator) -> None:
    sim = bilingual
    stranger = sim.user("Stranger")
    mark = sim.mark()
    await sim.join(stranger)
    ask = sim.unique_reply(mark, MODERATOR_ID)
    # Mira never wrote to the bot, so it does not know her Telegram language: group default.
    assert "без відомого поручителя" in ask.text
    mark = sim.mark()
    await sim.press(sim.telegram.users[MODERATOR_ID], ask, "Видалити")
    text = sim.unique_reply(mark, GROUP_ID).text
    assert "Stranger видалено: модератор вирішив видалити цю людину." in text
    assert "Stranger was removed: a moderator decided to remove them." in text


# --------------------------------------------------------------------------- right to left
async def test_arabic_reads_right_to_left_with_latin_names_isolated(sim: Simulator) -> None:
    john = sim.user("John", "Smith", "jsmith", language_code="ar")
    await sim.dm(john, "/start")
    reply = sim.last(john.id)
    assert reply.raw_text.startswith(f"مرحبًا {FSI}John{PDI}!")
    assert all(d in ("R", "none") for d in paragraph_directions(reply.raw_text))
    # /whois about a Latin-named member: name, date and organisation isolated; Arabic months.
    await veteran(sim)
    sim.group.members[john.id] = FakeMember("member")
    await sim.say(john, "hi")
    mark = sim.mark()
    await sim.dm(john, "/whois @ivan")
    card = sim.unique_reply(mark, john.id).raw_text
    assert "الكفيل: — (" in card and "عضو منذ" in card
    assert "نوفمبر" in card  # the month in Arabic
    assert f"{FSI}عضو منذ ما قبل البوت{PDI}" in card  # nested sentence, isolated as a whole


async def test_command_menus_exist_in_every_language(sim: Simulator) -> None:
    private = json.dumps({"type": "all_private_chats"}, sort_keys=True)
    menus = sim.telegram.commands
    for code, start in [
        ("uk", "Що робить цей бот"),
        ("fr", "Ce que fait ce bot"),
        ("ar", "ما يفعله هذا البوت"),
    ]:
        described = {c["command"]: c["description"] for c in menus[f"{private}|{code}"]}
        assert described["start"] == start
    english = {c["command"]: c["description"] for c in menus[private]}
    assert english["start"] == "What this bot does"


async def test_dates_follow_the_locale_and_the_group_time_zone(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await choose(sim, ivan, "Українська")
    await sim.dm(ivan, "/invite")
    for answer in ["Olena Petrenko", "UNICEF", "WASH cluster IMO"]:
        await sim.dm(ivan, answer)
    await sim.press(ivan, sim.last(ivan.id), "Пропустити (без кластера)")
    await sim.press(ivan, sim.last(ivan.id), "Пропустити")
    await sim.press(ivan, sim.last(ivan.id), "Тимчасова місія")
    await sim.dm(ivan, "через 3 тижні")
    summary = sim.last(ivan.id).text
    # Clock: Mon 23 Nov 2026; three weeks later, written the Ukrainian way.
    assert "Зрозуміло: до понеділок, 14 грудня 2026" in summary
    assert "тимчасова місія / сурдж до 14 груд. 2026" in summary
    await sim.press(ivan, sim.last(ivan.id), "Створити запрошувальне посилання")
    link_text = sim.last(ivan.id).text
    # Valid 7 days from 09:00 UTC, shown in Kyiv time (UTC+2 in winter).
    assert "діє до 30 лист. 2026\u202fр., 11:00 за часом міста Київ;" in link_text


async def test_language_with_an_argument_switches_at_once(sim: Simulator) -> None:
    ivan = sim.user("Ivan", "Koval", "ivan_k")
    await sim.dm(ivan, "/start")
    for asked, code, says in [
        ("ar", "ar", "من الآن"),
        ("Français", "fr", "Désormais, je vous écris en Français."),
        ("ukrainian", "uk", "Відтепер я пишу вам"),
        ("EN", "en", "From now on I write to you in English."),
    ]:
        mark = sim.mark()
        await sim.dm(ivan, f"/language {asked}")
        reply = sim.unique_reply(mark, ivan.id)
        assert reply.buttons() == []  # no second question
        assert says in reply.text
        assert stored_language(sim, ivan.id) == code


async def test_language_with_an_unknown_argument_says_what_it_speaks(sim: Simulator) -> None:
    ivan = sim.user("Ivan", "Koval", "ivan_k")
    await sim.dm(ivan, "/start")
    mark = sim.mark()
    await sim.dm(ivan, "/language <b>klingon</b>")
    reply = sim.unique_reply(mark, ivan.id)
    assert reply.text.startswith("I do not write in that language. I can write in: English (en)")
    assert "klingon" not in reply.text and len(reply.buttons()) == 4
    assert stored_language(sim, ivan.id) is None
