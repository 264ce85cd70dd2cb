"""Display spoofing (issue 15, defect 9): a name carrying a direction override (U+202E) or a
right-to-left name must not turn the rest of the bot's line around, and the invisible joiners
that Persian and emoji need (U+200C, U+200D) survive what people type.

Oracles: Unicode's rules, not the code under test. A line is safe when every isolate opened on
it is closed on it and no embedding or override (U+202A–U+202E) reaches Telegram; a line of an
English message is read left to right when its first strong character outside isolates is a
left-to-right one (rules P2/P3, as ``tests.test_i18n.paragraph_directions`` applies them).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from handlers.render import esc
from i18n import _
from simulation.faketg import FakeMember, SentMessage, parse_html
from simulation.simulator import Simulator
from storage.models import Contact
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.test_contacts import add_contact, member, rows
from tests.test_i18n import paragraph_directions

FSI, PDI = "\u2068", "\u2069"
OPENERS = "\u2066\u2067\u2068"
OVERRIDES = "\u202a\u202b\u202c\u202d\u202e"
EVIL = "\u202eevil"  # shown as "live" and reverses what follows, if not contained
ARABIC = "محمد"


def line_is_contained(line: str) -> bool:
    depth = 0
    for char in line:
        if char in OVERRIDES:
            return False
        if char in OPENERS:
            depth += 1
        elif char == PDI:
            if depth == 0:
                return False
            depth -= 1
    return depth == 0


def assert_safe(message: SentMessage) -> None:
    """Every line contained; no English line laid out right to left."""
    for line in message.raw_text.split("\n"):
        assert line_is_contained(line), repr(line)
        assert paragraph_directions(line) != ["R"], repr(line)


def assert_isolated(message: SentMessage, name: str) -> None:
    assert f"{FSI}{name}" in message.raw_text, message.raw_text


@given(st.text(max_size=200))
def test_every_escaped_line_is_one_contained_isolate(text: str) -> None:
    escaped = esc(text)
    for line in escaped.split("\n"):
        assert line == "" or (line.startswith(FSI) and line.endswith(PDI))
        assert line_is_contained(line)
        assert not set(line) & set("\u200e\u200f\u061c")
    plain, _mentions = parse_html(escaped)  # valid Telegram HTML, whatever was typed
    assert "\u202e" not in plain


async def test_contact_cards_contain_an_override_and_an_arabic_name(sim: Simulator) -> None:
    evil = await member(sim, "Evil", "Person")
    arab = await member(sim, "Mohammed", "Ali")
    ivan = await member(sim, "Ivan", "Petrenko")
    # As an old import could have stored them: the override inside the name itself.
    add_contact(sim, evil.id, name=f"{EVIL} Koval", organisation="UNICEF")
    add_contact(sim, arab.id, name=f"{ARABIC} Ali", organisation="UNICEF")
    mark = sim.mark()
    await sim.dm(ivan, "/contact unicef")
    [card] = sim.since(mark, ivan.id)
    assert "\u202e" not in card.raw_text
    assert_isolated(card, "evil Koval")
    assert_isolated(card, f"{ARABIC} Ali")
    assert_safe(card)
    # The person reads the names as written, the bot's words around them unchanged.
    assert "evil Koval" in card.text and f"{ARABIC} Ali" in card.text and "UNICEF" in card.text


async def test_members_list_and_introduction_cards_contain_hostile_names(sim: Simulator) -> None:
    mira = sim.telegram.users[MODERATOR_ID]
    evil = sim.user(EVIL, "Koval", "evil_k")
    arab = sim.user(ARABIC, "Ali", "m_ali")
    # The welcome card of someone who arrives without a sponsor, and the moderators' notice.
    mark = sim.mark()
    await sim.join(evil)
    card = sim.unique_reply(mark, GROUP_ID)
    assert "evil Koval" in card.text
    assert_safe(card)
    for notice in sim.since(mark, MODERATOR_ID):
        assert_safe(notice)
    mark = sim.mark()
    await sim.join(arab)
    card = sim.unique_reply(mark, GROUP_ID)
    assert_isolated(card, ARABIC)
    assert_safe(card)
    # /members lists both, each contained.
    mark = sim.mark()
    await sim.dm(mira, "/members")
    listing = sim.unique_reply(mark, MODERATOR_ID)
    assert "evil Koval" in listing.text and ARABIC in listing.text
    assert "\u202e" not in listing.raw_text
    assert_safe(listing)


async def test_a_sponsors_hostile_name_stays_inside_the_introduction_card(
    sim: Simulator,
) -> None:
    sponsor = sim.user(EVIL, "Sponsor", "evil_sponsor")
    sim.group.members[sponsor.id] = FakeMember("member")
    await sim.say(sponsor, "Morning all")
    await sim.dm(sponsor, "/invite")
    for answer in ["Olena Petrenko", "UNICEF", "IMO"]:
        await sim.dm(sponsor, answer)
    await sim.press(sponsor, sim.last(sponsor.id), "Skip (no cluster)")
    await sim.press(sponsor, sim.last(sponsor.id), "Skip")
    await sim.press(sponsor, sim.last(sponsor.id), "In the country")
    await sim.press(sponsor, sim.last(sponsor.id), "Create the invite link")
    invite = sim.last(sponsor.id)
    assert_safe(invite)
    link = next(w for w in invite.text.split() if w.startswith("https://t.me/+"))
    assert FSI not in link  # a link is never isolated: it has to work when tapped
    mark = sim.mark()
    await sim.join(sim.user("Olena"), link=link)
    card = sim.unique_reply(mark, GROUP_ID)
    assert "evil Sponsor" in card.text and "introduces Olena Petrenko" in card.text
    assert "\u202e" not in card.raw_text
    assert_safe(card)


async def test_the_audit_contains_a_hostile_target_name(sim: Simulator) -> None:
    mira = sim.telegram.users[MODERATOR_ID]
    evil = sim.user(EVIL, "Koval", "evil_k")
    sim.group.members[evil.id] = FakeMember("member")
    await sim.say(evil, "hello")
    sim.group.members[mira.id] = FakeMember("administrator")
    await sim.say(mira, "/warn @evil_k please stay on topic")
    mark = sim.mark()
    await sim.dm(mira, "/audit")
    audit = sim.unique_reply(mark, MODERATOR_ID)
    assert "evil Koval" in audit.text and "please stay on topic" in audit.text
    assert "\u202e" not in audit.raw_text
    assert_safe(audit)


async def test_persian_joiners_and_emoji_sequences_survive_a_profile(sim: Simulator) -> None:
    persian = "می\u200cخواهم"  # ZWNJ: "mi" and "khaham" must not join
    coder = "👩\u200d💻"  # woman technologist: one emoji through ZWJ
    olena = await member(sim, "Olena", "Koval")
    await sim.dm(olena, "/profile")
    answers = ["Olena Koval", f"UNICEF {coder}", persian, "WASH", "\u200bKharkiv\ufeff"]
    for answer in answers:
        await sim.dm(olena, answer)
    await sim.dm(olena, "+380 44 123 4567")
    await sim.dm(olena, "olena@example.org")
    await sim.dm(olena, "/skip")
    await sim.dm(olena, "yes")
    await sim.press(olena, sim.last(olena.id), "Save")
    [contact] = rows(sim, Contact)
    assert contact.role == persian and contact.organisation == f"UNICEF {coder}"
    assert contact.location == "Kharkiv"  # zero-width space and byte-order mark removed
    mark = sim.mark()
    await sim.dm(olena, "/mydata")
    shown = sim.unique_reply(mark, olena.id)
    assert persian in shown.text and coder in shown.text
    assert_safe(shown)


def test_an_isolated_value_ending_with_a_full_stop_keeps_one_stop() -> None:
    text = _("No current member is called {name}.", name=esc("Ivan Jr."))
    assert text == f"No current member is called {FSI}Ivan Jr{PDI}."
