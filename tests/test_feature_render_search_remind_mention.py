"""The render functions for /contact's results page, the introduction reminder and a mention
broadcast's messages, on typed results and without a bot (README "Architecture": texts live in
the feature's render module). Every expected text below is written out from the wording; what a
person typed arrives escaped and isolated (FSI … PDI), while a button's label is plain text."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from handlers.contacts.render import Found, Results, results_keyboard, results_text
from handlers.joins.render import (
    Reminder,
    confirm_keyboard,
    group_reminder_text,
    held_reminder_text,
    introduce_keyboard,
    reminder_text,
)
from handlers.mentions.render import Batch, Notice, batch_text, private_notice_text
from i18n import use_locale
from storage.models import User

FSI, PDI = "\u2068", "\u2069"
HOSTILE = "<b>x</b>"
HOSTILE_ESCAPED = f"{FSI}&lt;b&gt;x&lt;/b&gt;{PDI}"


def rows(markup: Any) -> list[list[tuple[str, str | None]]]:
    """A keyboard as (label, callback data or url) per button, row by row."""
    return [
        [(b.text, b.callback_data if b.callback_data is not None else b.url) for b in row]
        for row in markup.inline_keyboard
    ]


# ===================================================================== /contact's results
def olena(askable: bool = True) -> Found:
    return Found(
        12, {"name": "Olena Petrenko", "organisation": "UNICEF", "role": "WASH IMO"}, askable
    )


def hostile(askable: bool = True) -> Found:
    # Someone who typed markup into their name and organisation; their role is not shared.
    return Found(7, {"name": HOSTILE, "organisation": "R&D <i>"}, askable)


def a_page(
    cards: list[Found], total: int, page: int = 0, pages: int = 1, query: str = "wash"
) -> Results:
    return Results(lookup_id=77, query=query, total=total, page=page, pages=pages, cards=cards)


def test_a_page_in_the_middle_shows_its_cards_escaped_with_asks_and_both_directions() -> None:
    results = a_page([hostile(), olena(askable=False)], total=7, page=1, pages=3, query="<i>wash")
    assert results_text(results) == (
        f"<b>7 found</b> for “{FSI}&lt;i&gt;wash{PDI}” (page 2/3)\n"
        "\n"
        f"<b>{HOSTILE_ESCAPED}</b> · #7\n"
        f"Organisation: {FSI}R&amp;D &lt;i&gt;{PDI}\n"
        "\n"
        f"<b>{FSI}Olena Petrenko{PDI}</b> · #12\n"
        f"Organisation: {FSI}UNICEF{PDI}\n"
        f"Role: {FSI}WASH IMO{PDI}"
    )
    # Only the card that may be asked for has a button; its label is plain text, unescaped.
    assert rows(results_keyboard(results)) == [
        [("Ask to be put in touch: #7 <b>x</b>", "ct:ask:7")],
        [("◂ Previous", "ct:pg:77:0"), ("Next ▸", "ct:pg:77:2")],
    ]


def test_one_result_says_one_found_on_page_one_of_one() -> None:
    results = a_page([olena(askable=False)], total=1)
    assert results_text(results) == (
        f"<b>1 found</b> for “{FSI}wash{PDI}” (page 1/1)\n"
        "\n"
        f"<b>{FSI}Olena Petrenko{PDI}</b> · #12\n"
        f"Organisation: {FSI}UNICEF{PDI}\n"
        f"Role: {FSI}WASH IMO{PDI}"
    )
    # Nothing to ask for and no other page: no keyboard at all.
    assert results_keyboard(results) is None
    asked = a_page([olena()], total=1)
    assert rows(results_keyboard(asked)) == [
        [("Ask to be put in touch: #12 Olena Petrenko", "ct:ask:12")]
    ]


def test_nobody_found_names_the_query_escaped_and_offers_no_buttons() -> None:
    results = a_page([], total=0, query=HOSTILE)
    assert results_text(results) == (
        f"Nobody found for “{HOSTILE_ESCAPED}”. Try another spelling, an organisation or a place."
    )
    assert results_keyboard(results) is None


def test_the_first_and_last_pages_point_one_way_and_long_or_hidden_names_are_cut() -> None:
    long_name = Found(3, {"name": "Oleksandra Kostiantynivna Shevchenko"}, True)
    unnamed = Found(4, {"organisation": "WFP"}, True)  # the name is not shared
    first = a_page([long_name, unnamed], total=25, page=0, pages=3)
    assert rows(results_keyboard(first)) == [
        [("Ask to be put in touch: #3 Oleksandra Kostiantyniv…", "ct:ask:3")],  # 23 + "…"
        [("Ask to be put in touch: #4", "ct:ask:4")],  # the trailing space trimmed
        [("Next ▸", "ct:pg:77:1")],
    ]
    assert results_text(first).endswith(
        f"\n\n<b><i>name not shared</i></b> · #4\nOrganisation: {FSI}WFP{PDI}"
    )
    last = replace(first, page=2, cards=[])
    assert rows(results_keyboard(last)) == [[("◂ Previous", "ct:pg:77:1")]]
    assert results_text(last) == f"<b>25 found</b> for “{FSI}wash{PDI}” (page 3/3)\n\n"


def test_a_focal_point_reads_yes_and_the_fields_keep_the_directorys_order() -> None:
    card = Found(
        9,
        {"focal_point": "1", "phone": "+380 <1>", "location": "Kyiv", "name": "Ivan"},
        False,
    )
    assert results_text(a_page([card], total=1)).split("\n")[2:] == [
        f"<b>{FSI}Ivan{PDI}</b> · #9",
        f"Location: {FSI}Kyiv{PDI}",
        f"Phone: {FSI}+380 &lt;1&gt;{PDI}",
        "Organisation focal point: yes",
    ]


def test_results_in_french_with_the_plural_and_the_buttons_translated() -> None:
    with use_locale("fr"):
        one = results_text(a_page([olena(askable=False)], total=1))
        many = a_page([hostile()], total=7, page=1, pages=3)
        text, keyboard = results_text(many), rows(results_keyboard(many))
        nobody = results_text(a_page([], total=0))
    assert one.split("\n")[0] == f"<b>1 résultat</b> pour « {FSI}wash{PDI} » (page 1/1)"
    assert one.split("\n")[3:] == [
        f"Organisation : {FSI}UNICEF{PDI}",
        f"Rôle : {FSI}WASH IMO{PDI}",
    ]
    assert text.split("\n")[0] == f"<b>7 résultats</b> pour « {FSI}wash{PDI} » (page 2/3)"
    assert keyboard == [
        [("Demander une mise en relation : n° 7 <b>x</b>", "ct:ask:7")],
        [("◂ Précédent", "ct:pg:77:0"), ("Suivant ▸", "ct:pg:77:2")],
    ]
    assert nobody == (
        f"Personne n’a été trouvé pour « {FSI}wash{PDI} ». Essayez une autre orthographe, "
        "une organisation ou un lieu."
    )


# ================================================================ the introduction reminder
THREE_DAYS = timedelta(hours=72)


def test_the_reminder_names_the_newcomer_and_the_group_escaped() -> None:
    reminder = Reminder(newcomer=HOSTILE, group="IM <Kyiv> & co", deadline=THREE_DAYS)
    assert reminder_text(reminder) == (
        f"Reminder: the introduction for {HOSTILE_ESCAPED} in "
        f"<b>{FSI}IM &lt;Kyiv&gt; &amp; co{PDI}</b> is not complete. Newcomers who are not "
        "introduced within 3 days of joining are removed."
    )
    assert held_reminder_text(reminder) == (
        f"Still waiting for your decision: {HOSTILE_ESCAPED} in "
        f"<b>{FSI}IM &lt;Kyiv&gt; &amp; co{PDI}</b> has no sponsor."
    )


def test_a_newcomer_the_roster_does_not_name_is_a_newcomer() -> None:
    # Unknown to the roster, or a name of nothing but direction controls (nothing left to show).
    for unnamed in (None, "", "\u202e"):
        reminder = Reminder(newcomer=unnamed, group="Odesa", deadline=timedelta(days=1, hours=6))
        assert reminder_text(reminder) == (
            f"Reminder: the introduction for a newcomer in <b>{FSI}Odesa{PDI}</b> is not "
            "complete. Newcomers who are not introduced within 1 day 6 hours of joining are "
            "removed."
        )
        assert held_reminder_text(reminder) == (
            f"Still waiting for your decision: a newcomer in <b>{FSI}Odesa{PDI}</b> has no sponsor."
        )


def test_the_group_reminder_mentions_each_person_not_reached_privately() -> None:
    reminder = Reminder(
        newcomer="Olena",
        group="Odesa",
        deadline=timedelta(minutes=90),
        unreached=((100, HOSTILE), (200, "Ivan Franko")),
    )
    assert group_reminder_text(reminder) == (
        f'<a href="tg://user?id=100">{HOSTILE_ESCAPED}</a>, '
        f'<a href="tg://user?id=200">{FSI}Ivan Franko{PDI}</a>: '
        f"Reminder: the introduction for {FSI}Olena{PDI} in <b>{FSI}Odesa{PDI}</b> is not "
        "complete. Newcomers who are not introduced within 1 hour 30 minutes of joining are "
        "removed."
    )
    # A channel (negative id) cannot be mentioned: its name in bold.
    one = replace(reminder, unreached=((-100555, "Channel <c>"),))
    assert group_reminder_text(one).startswith(
        f"<b>{FSI}Channel &lt;c&gt;{PDI}</b>: Reminder: the introduction for"
    )


def test_the_reminder_buttons_open_the_private_chat() -> None:
    link = "https://t.me/imbot?start=confirm_5"
    assert rows(confirm_keyboard(link)) == [[("Confirm my details", link)]]
    assert rows(introduce_keyboard("https://t.me/imbot?start=intro_5")) == [
        [("Introduce", "https://t.me/imbot?start=intro_5")]
    ]


def test_the_reminder_in_french() -> None:
    reminder = Reminder(newcomer=None, group="IM <Kyiv>", deadline=THREE_DAYS)
    with use_locale("fr"):
        text = reminder_text(reminder)
        held = held_reminder_text(reminder)
        buttons = rows(confirm_keyboard("https://t.me/b")) + rows(introduce_keyboard("u"))
    assert text == (
        f"Rappel : la présentation de un nouveau membre dans <b>{FSI}IM &lt;Kyiv&gt;{PDI}</b> "
        "n’est pas terminée. Les nouveaux membres qui ne sont pas présentés dans les "
        "3\u00a0jours suivant leur arrivée sont retirés."  # Babel: a no-break space
    )
    assert held == (
        "Votre décision est toujours attendue : un nouveau membre dans "
        f"<b>{FSI}IM &lt;Kyiv&gt;{PDI}</b> n’a pas de parrain."
    )
    assert buttons == [[("Confirmer mes informations", "https://t.me/b")], [("Présenter", "u")]]


# ================================================================ a mention broadcast
def person(user_id: int, first: str, username: str | None = None, last: str | None = None) -> User:
    return User(id=user_id, first_name=first, last_name=last, username=username)


NOTICE = Notice(
    author="<b>Olena</b>",
    label="@wash <x>",
    quote="Meeting at 10 & <i>bring data</i>",
    recipients=5,
    group="IM <Kyiv>",
    link="https://t.me/c/1234567890/45",
)
WASH = f"{FSI}@wash &lt;x&gt;{PDI}"
QUOTE = f"{FSI}Meeting at 10 &amp; &lt;i&gt;bring data&lt;/i&gt;{PDI}"
AUTHOR = f"{FSI}&lt;b&gt;Olena&lt;/b&gt;{PDI}"
OPEN = '<a href="https://t.me/c/1234567890/45">Open the message</a>'


def test_the_notice_quotes_links_and_mentions_the_first_batch() -> None:
    people = [
        person(1, "Ivan", username="ivan_k"),
        person(2, HOSTILE, last="Petrenko"),
        person(3, "Oleksandra", last="Kostiantynivna-Shevchenko-Bondarenko"),
    ]
    assert batch_text(Batch(NOTICE, seq=0, part=1, parts=3, people=people)) == "\n".join(
        [
            f"📣 {AUTHOR} → {WASH} (5 people): “{QUOTE}”",
            OPEN,
            # A username is mentioned as such; a name is a tg:// link, cut to 40 characters.
            "@ivan_k, "
            f'<a href="tg://user?id=2">{FSI}&lt;b&gt;x&lt;/b&gt; Petrenko{PDI}</a>, '
            f'<a href="tg://user?id=3">{FSI}Oleksandra Kostiantynivna-Shevchenko-Bo…{PDI}</a>',
        ]
    )


def test_a_notice_for_one_person_without_a_link_or_anyone_left_to_mention() -> None:
    alone = replace(NOTICE, recipients=1, link=None, author=None)
    assert batch_text(Batch(alone, seq=0, part=1, parts=1, people=[])) == (
        f"📣 {FSI}someone{PDI} → {WASH} (1 person): “{QUOTE}”"
    )
    nobody = replace(alone, recipients=0)
    assert batch_text(Batch(nobody, seq=0, part=1, parts=1, people=[])) == (
        f"📣 {FSI}someone{PDI} → {WASH} (0 people): “{QUOTE}”"
    )


def test_a_later_batch_names_its_part_and_is_dropped_when_nobody_is_left() -> None:
    people = [person(4, "Mira", username="mira"), person(5, "Petro")]
    assert batch_text(Batch(NOTICE, seq=1, part=2, parts=3, people=people)) == (
        f'📣 {WASH} from {AUTHOR} (2/3): @mira, <a href="tg://user?id=5">{FSI}Petro{PDI}</a>'
    )
    assert batch_text(Batch(NOTICE, seq=2, part=3, parts=3, people=[])) is None


def test_the_private_note_names_the_group_and_how_to_be_mentioned_there_instead() -> None:
    assert private_notice_text(NOTICE) == "\n".join(
        [
            f"🔔 {AUTHOR} → {WASH} in {FSI}IM &lt;Kyiv&gt;{PDI}: “{QUOTE}”",
            OPEN,
            "You chose to be told privately; /tags group mentions you in the group.",
        ]
    )
    assert private_notice_text(replace(NOTICE, link=None, author=None)) == "\n".join(
        [
            f"🔔 {FSI}someone{PDI} → {WASH} in {FSI}IM &lt;Kyiv&gt;{PDI}: “{QUOTE}”",
            "You chose to be told privately; /tags group mentions you in the group.",
        ]
    )


def test_the_mention_messages_in_french_with_the_plural() -> None:
    with use_locale("fr"):
        one = batch_text(Batch(replace(NOTICE, recipients=1), 0, 1, 2, []))
        zero = batch_text(Batch(replace(NOTICE, recipients=0, link=None), 0, 1, 1, []))
        many = batch_text(Batch(NOTICE, 0, 1, 2, [person(1, "Ivan", username="ivan")]))
        later = batch_text(Batch(replace(NOTICE, author=None), 1, 2, 2, [person(4, "Mira")]))
        private = private_notice_text(NOTICE)
    assert one == (
        f"📣 {AUTHOR} → {WASH} (1 personne) : « {QUOTE} »\n"
        '<a href="https://t.me/c/1234567890/45">Ouvrir le message</a>'
    )
    assert zero == f"📣 {AUTHOR} → {WASH} (0 personne) : « {QUOTE} »"  # French: 0 is singular
    assert many == (
        f"📣 {AUTHOR} → {WASH} (5 personnes) : « {QUOTE} »\n"
        '<a href="https://t.me/c/1234567890/45">Ouvrir le message</a>\n'
        "@ivan"
    )
    assert later == (
        f'📣 {WASH} de {FSI}quelqu’un{PDI} (2/2) : <a href="tg://user?id=4">{FSI}Mira{PDI}</a>'
    )
    assert private == "\n".join(
        [
            f"🔔 {AUTHOR} → {WASH} dans {FSI}IM &lt;Kyiv&gt;{PDI} : « {QUOTE} »",
            '<a href="https://t.me/c/1234567890/45">Ouvrir le message</a>',
            "Vous avez choisi d’être prévenu en privé ; /tags group vous mentionne dans le groupe.",
        ]
    )
