"""Sponsored joins and mandatory introductions, end to end through the fake Bot API."""

from __future__ import annotations

from datetime import timedelta

from moderation.introductions import Category, IntroStatus
from moderation.roster import MemberStatus
from simulation.faketg import FakeMember, FakeUser
from simulation.simulator import Simulator
from storage.contacts import ContactRepository
from storage.introductions import IntroductionRepository
from storage.models import Introduction
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import status


async def veteran(sim: Simulator, name: str = "Ivan") -> FakeUser:
    """A member who was in the group before the bot (learned when they speak)."""
    user = sim.user(name, "Koval", name.lower())
    sim.group.members[user.id] = FakeMember("member")
    await sim.say(user, "Morning all")
    return user


def intro_of(sim: Simulator, user_id: int) -> Introduction | None:
    with sim.services.db.transaction() as session:
        return IntroductionRepository(session).introduction(GROUP_ID, user_id)


async def skip_optional(sim: Simulator, sponsor: FakeUser) -> None:
    """Skip the optional cluster and location questions."""
    await sim.press(sponsor, sim.last(sponsor.id), "Skip (no cluster)")
    await sim.press(sponsor, sim.last(sponsor.id), "Skip")


async def invite(
    sim: Simulator, sponsor: FakeUser, answers: list[str], category: str = "In the country"
) -> str:
    """Run /invite as ``sponsor``; returns the link the bot gave."""
    await sim.dm(sponsor, "/invite")
    for answer in answers[:3]:
        await sim.dm(sponsor, answer)
    await skip_optional(sim, sponsor)
    await sim.press(sponsor, sim.last(sponsor.id), category)
    for answer in answers[3:]:
        await sim.dm(sponsor, answer)
    await sim.press(sponsor, sim.last(sponsor.id), "Create the invite link")
    text = sim.last(sponsor.id).text
    return next(word for word in text.split() if word.startswith("https://t.me/+"))


async def test_invite_link_join_confirm_and_release(sim: Simulator) -> None:
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH cluster IMO"])
    created = sim.telegram.calls_to("createChatInviteLink")[-1]
    assert created["member_limit"] == 1 and created["name"].startswith("sp")
    assert "expire_date" in created
    olena = sim.user("Olena", "P.")
    mark = sim.mark()
    await sim.join(olena, link=link)
    # Held read-only, one card in the group mentioning both people.
    assert status(sim, olena.id) is MemberStatus.RESTRICTED
    card = sim.unique_reply(mark, GROUP_ID)
    assert card.text.startswith(
        "👋 Ivan Koval introduces Olena Petrenko — UNICEF, WASH cluster IMO"
    )
    assert set(card.mentions) == {ivan.id, olena.id}
    intro = intro_of(sim, olena.id)
    assert (
        intro is not None and intro.sponsor_id == ivan.id and intro.category is Category.IN_COUNTRY
    )
    assert intro.status is IntroStatus.PENDING
    # The newcomer confirms through the deep link on the card.
    confirm_url = card.buttons()[0]["url"]
    await sim.dm(olena, "/start " + confirm_url.split("start=")[1])
    await sim.press(olena, sim.last(olena.id), "Yes")
    assert status(sim, olena.id) is MemberStatus.MEMBER
    intro = intro_of(sim, olena.id)
    assert intro is not None and intro.status is IntroStatus.COMPLETE
    assert "✅ Introduction complete." in sim.telegram.messages[(GROUP_ID, card.message_id)].text
    # The directory entry is pre-filled, but stays unlisted until Olena consents.
    with sim.services.db.transaction() as session:
        contact = ContactRepository(session).by_user(olena.id)
        assert contact is not None and contact.organisation == "UNICEF"
        assert contact.name == "Olena Petrenko" and contact.consent != "given"


async def test_single_use_link_cannot_be_reused(sim: Simulator) -> None:
    import pytest

    from simulation.faketg import ApiError

    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "IMO"])
    await sim.join(sim.user("Olena"), link=link)
    with pytest.raises(ApiError, match="already used"):
        await sim.join(sim.user("Stranger"), link=link)


async def test_expired_link_is_refused(sim: Simulator) -> None:
    import pytest

    from simulation.faketg import ApiError

    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "IMO"])
    await sim.advance(timedelta(days=8))
    with pytest.raises(ApiError, match="expired"):
        await sim.join(sim.user("Olena"), link=link)


async def test_form_validation_and_did_you_mean(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/invite")
    await sim.dm(ivan, "Olena")
    assert "both the first and the last name" in sim.last(ivan.id).text
    await sim.dm(ivan, "x" * 5000)
    assert "please shorten it" in sim.last(ivan.id).text
    await sim.dm(ivan, "<b>Olena</b> Petrenko-<i>ش</i>")
    await sim.dm(ivan, "unicf")
    suggestion = sim.last(ivan.id)
    assert suggestion.text == "Did you mean UNICEF?"
    await sim.press(ivan, suggestion, "Yes, UNICEF")
    await sim.dm(ivan, "IMO")
    await sim.press(ivan, sim.last(ivan.id), "WASH")
    await sim.dm(ivan, "Lviv <i>oblast</i>")
    await sim.press(ivan, sim.last(ivan.id), "Outside the country")
    await sim.dm(ivan, "31 February")
    assert sim.last(ivan.id).text == "February has no day 31 (it has 28 days)."
    await sim.dm(ivan, "in 20 weeks")
    assert "at most 90 days" in sim.last(ivan.id).text
    await sim.dm(ivan, "in 3 weeks")
    await sim.dm(ivan, "Supports the WASH cluster remotely")
    summary = sim.last(ivan.id)
    assert summary.text.startswith(
        "<b>Olena</b> Petrenko-<i>ش</i> — UNICEF, WASH cluster, IMO, Lviv <i>oblast</i>; supports"
    )
    await sim.press(ivan, summary, "Cancel")
    assert sim.telegram.calls_to("createChatInviteLink") == []


async def test_cancel_stops_and_stores_nothing(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/invite")
    await sim.dm(ivan, "Olena Petrenko")
    await sim.dm(ivan, "/cancel")
    assert sim.last(ivan.id).text == "Cancelled; nothing was saved."
    await sim.dm(ivan, "UNICEF")
    assert "Send /help" in sim.last(ivan.id).text


async def test_non_members_cannot_sponsor(sim: Simulator) -> None:
    outsider = sim.user("Out")
    await sim.dm(outsider, "/invite")
    assert "Only members of the group can sponsor" in sim.last(outsider.id).text


async def test_surge_member_cannot_sponsor_out_of_country(sim: Simulator) -> None:
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Sam Surge", "OCHA", "IMO", "in 3 weeks"], category="Surge")
    sam = sim.user("Sam")
    await sim.join(sam, link=link)
    intro = intro_of(sim, sam.id)
    assert intro is not None and intro.category is Category.SURGE
    assert intro.end_date is not None
    await sim.dm(sam, f"/start confirm_{intro.id}")
    await sim.press(sam, sim.last(sam.id), "Yes")
    await sim.dm(sam, "/invite")
    for answer in ["Otto Remote", "OCHA", "GIS support"]:
        await sim.dm(sam, answer)
    await skip_optional(sim, sam)
    await sim.press(sam, sim.last(sam.id), "Outside the country")
    assert "only a member working in the country can sponsor" in sim.last(sam.id).text


async def test_added_directly_asks_the_adder(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    pavlo = sim.user("Pavlo")
    mark = sim.mark()
    await sim.join(pavlo, added_by=ivan)
    intro = intro_of(sim, pavlo.id)
    assert intro is not None and intro.sponsor_id == ivan.id and intro.sponsor_done_at is None
    ask = sim.unique_reply(mark, ivan.id)
    assert "Please introduce them" in ask.text
    payload = ask.buttons()[0]["url"].split("start=")[1]
    await sim.dm(ivan, f"/start {payload}")
    for answer in ["Pavlo Shevchenko", "NRC", "Shelter IMO"]:
        await sim.dm(ivan, answer)
    await skip_optional(sim, ivan)
    await sim.press(ivan, sim.last(ivan.id), "In the country")
    await sim.press(ivan, sim.last(ivan.id), "Post the introduction")
    intro = intro_of(sim, pavlo.id)
    assert intro is not None and intro.sponsor_done_at is not None and intro.organisation == "NRC"
    assert status(sim, pavlo.id) is MemberStatus.RESTRICTED  # still needs Pavlo's own confirmation


async def test_someone_else_cannot_use_the_sponsor_or_confirm_links(sim: Simulator) -> None:
    ivan = await veteran(sim)
    pavlo = sim.user("Pavlo")
    await sim.join(pavlo, added_by=ivan)
    intro = intro_of(sim, pavlo.id)
    assert intro is not None
    intruder = sim.user("Mallory")
    await sim.dm(intruder, f"/start intro_{intro.id}")
    assert "not you" in sim.last(intruder.id).text
    await sim.dm(intruder, f"/start confirm_{intro.id}")
    assert "belongs to someone else" in sim.last(intruder.id).text


async def test_unattributed_join_is_held_for_moderators(sim: Simulator) -> None:
    stranger = sim.user("Stranger")
    mark = sim.mark()
    await sim.join(stranger)
    assert status(sim, stranger.id) is MemberStatus.RESTRICTED
    intro = intro_of(sim, stranger.id)
    assert intro is not None and intro.status is IntroStatus.HELD and intro.sponsor_id is None
    ask = sim.unique_reply(mark, MODERATOR_ID)
    assert "without a known sponsor" in ask.text
    # A member who is not a moderator cannot decide (forged press on the moderator's message).
    ivan = await veteran(sim)
    await sim.feed(
        sim.telegram.forged_press(ivan.id, MODERATOR_ID, ask.message_id, f"held:{intro.id}:r")
    )
    assert status(sim, stranger.id) is MemberStatus.RESTRICTED
    mira = sim.telegram.users[MODERATOR_ID]
    await sim.press(mira, ask, "Remove")
    assert status(sim, stranger.id) is MemberStatus.REMOVED  # removed, may come back later
    assert intro_of(sim, stranger.id).status is IntroStatus.REMOVED  # type: ignore[union-attr]


async def test_moderator_sponsors_a_held_newcomer(sim: Simulator) -> None:
    stranger = sim.user("Stranger")
    mark = sim.mark()
    await sim.join(stranger)
    ask = sim.unique_reply(mark, MODERATOR_ID)
    mark = sim.mark()
    await sim.press(sim.telegram.users[MODERATOR_ID], ask, "I sponsor them")
    intro = intro_of(sim, stranger.id)
    assert intro is not None and intro.status is IntroStatus.PENDING
    assert intro.sponsor_id == MODERATOR_ID
    # The same tap opened the introduction (no second "Introduce" button to press first).
    bot = sim.telegram.bot.username
    assert sim.telegram.opened_links == [
        (MODERATOR_ID, f"https://t.me/{bot}?start=intro_{intro.id}")
    ]
    assert any("first and last name" in m.text for m in sim.since(mark, MODERATOR_ID))


async def test_join_request_vouched_by_a_member(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    anna, bohdan = sim.user("Anna"), await veteran(sim, "Bohdan")
    mark = sim.mark()
    await sim.request_join(anna)
    notice = sim.unique_reply(mark, GROUP_ID)
    assert "Anna asks to join. Who sponsors them?" in notice.text
    sponsor_data = notice.buttons()[0]["callback_data"]
    await sim.press(ivan, notice, "I sponsor them")
    # A second member is too late (pressing the button on a stale copy of the message).
    await sim.feed(sim.telegram.forged_press(bohdan.id, GROUP_ID, notice.message_id, sponsor_data))
    assert "Someone else already sponsors them" in str(
        sim.telegram.calls_to("answerCallbackQuery")[-1]
    )
    with sim.services.db.transaction() as session:
        request = IntroductionRepository(session).open_join_request(GROUP_ID, anna.id)
        assert request is not None and request.sponsor_id == ivan.id
        request_id = request.id
    # One tap: the press itself took Ivan to the private chat, where the introduction began
    # (no second "introduce" button to find, no extra "thank you" message before it).
    bot = sim.telegram.bot.username
    assert sim.telegram.opened_links == [(ivan.id, f"https://t.me/{bot}?start=jr_{request_id}")]
    [first_question] = sim.since(mark, ivan.id)
    assert "What are their first and last name?" in first_question.text
    for answer in ["Anna Bondar", "IOM", "CCCM IMO"]:
        await sim.dm(ivan, answer)
    await skip_optional(sim, ivan)
    await sim.press(ivan, sim.last(ivan.id), "In the country")
    await sim.press(ivan, sim.last(ivan.id), "Post the introduction")
    assert sim.telegram.calls_to("approveChatJoinRequest")[-1]["user_id"] == anna.id
    intro = intro_of(sim, anna.id)
    assert intro is not None and intro.sponsor_id == ivan.id and intro.organisation == "IOM"
    assert intro.sponsor_done_at is not None


async def test_unsponsored_join_request_is_declined_politely(sim: Simulator) -> None:
    anna = sim.user("Anna")
    await sim.request_join(anna)
    sim.telegram.started.add(anna.id)
    await sim.advance(timedelta(hours=25))
    assert sim.telegram.calls_to("declineChatJoinRequest")[-1]["user_id"] == anna.id
    assert "no member sponsored it in time" in sim.last(anna.id).text


async def test_only_moderators_approve_join_requests(sim: Simulator) -> None:
    ivan = await veteran(sim)
    anna = sim.user("Anna")
    mark = sim.mark()
    await sim.request_join(anna)
    notice = sim.unique_reply(mark, GROUP_ID)
    await sim.press(ivan, notice, "Approve")
    assert sim.telegram.calls_to("approveChatJoinRequest") == []
    await sim.press(sim.telegram.users[MODERATOR_ID], notice, "Approve")
    assert status(sim, anna.id) is MemberStatus.RESTRICTED
    intro = intro_of(sim, anna.id)
    assert intro is not None and intro.sponsor_id == MODERATOR_ID


async def test_reminders_then_removal_after_deadline(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    pavlo = sim.user("Pavlo")
    await sim.join(pavlo, added_by=ivan)
    mark = sim.mark()
    await sim.advance(timedelta(hours=24, minutes=5))
    reminders = sim.since(mark)
    assert any("Reminder" in m.text and m.chat_id == ivan.id for m in reminders)
    # Pavlo never started the bot: one mention in the group instead.
    assert any(m.chat_id == GROUP_ID and pavlo.id in m.mentions for m in reminders)
    mark = sim.mark()
    await sim.advance(timedelta(minutes=5))
    assert sim.since(mark) == []  # not twice
    await sim.advance(timedelta(hours=48))
    assert status(sim, pavlo.id) is MemberStatus.REMOVED
    assert any("was removed" in m.text for m in sim.since(mark, GROUP_ID))
    assert any("whom you sponsored" in m.text for m in sim.since(mark, ivan.id))
    await sim.advance(timedelta(hours=1))  # nothing more happens
    assert len(sim.telegram.calls_to("banChatMember")) == 1


async def test_leaving_and_rejoining_starts_a_new_admission(sim: Simulator) -> None:
    ivan = await veteran(sim)
    pavlo = sim.user("Pavlo")
    await sim.join(pavlo, added_by=ivan)
    await sim.leave(pavlo)
    assert intro_of(sim, pavlo.id).status is IntroStatus.LEFT  # type: ignore[union-attr]
    await sim.join(pavlo)
    assert intro_of(sim, pavlo.id).status is IntroStatus.HELD  # type: ignore[union-attr]


async def test_sponsor_left_before_newcomer_joined(sim: Simulator) -> None:
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "IMO"])
    await sim.leave(ivan)
    olena = sim.user("Olena")
    await sim.join(olena, link=link)
    intro = intro_of(sim, olena.id)
    assert intro is not None and intro.status is IntroStatus.HELD
    assert "sponsor left" in intro.sponsor_note


async def test_whois_members_pending(sim: Simulator) -> None:
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH IMO"])
    olena = sim.user("Olena", username="olena_p")
    await sim.join(olena, link=link)
    mark = sim.mark()
    await sim.say(ivan, "/whois @olena_p")
    reply = sim.unique_reply(mark, GROUP_ID)
    assert "Olena Petrenko" in reply.text and "Sponsor: Ivan Koval" in reply.text
    await sim.say(ivan, "/whois petrenko")
    assert "Olena Petrenko" in sim.last(GROUP_ID).text
    await sim.say(ivan, "/whois <script>")
    assert sim.last(GROUP_ID).text == "No current member matches <script>."
    mark = sim.mark()
    await sim.dm(ivan, "/members")
    assert (
        sim.unique_reply(mark, ivan.id).text
        == "Sorry, only the group's moderators can use this command."
    )
    mira = sim.telegram.users[MODERATOR_ID]
    await sim.dm(mira, "/members csv")
    document = sim.last(MODERATOR_ID).document
    assert document is not None and document[0] == f"members-{GROUP_ID}.csv"
    assert "Olena Petrenko,UNICEF,WASH IMO,in_country" in document[1].decode("utf-8-sig")
    await sim.dm(mira, "/pending")
    assert "Olena Petrenko" not in sim.last(MODERATOR_ID).text  # roster names, not intro names
    assert "the newcomer's confirmation" in sim.last(MODERATOR_ID).text


async def test_moderator_declines_a_join_request(sim: Simulator) -> None:
    anna = sim.user("Anna")
    mark = sim.mark()
    await sim.request_join(anna)
    notice = sim.unique_reply(mark, GROUP_ID)
    await sim.press(sim.telegram.users[MODERATOR_ID], notice, "Decline")
    assert sim.telegram.calls_to("declineChatJoinRequest")[-1]["user_id"] == anna.id
    assert sim.telegram.messages[(GROUP_ID, notice.message_id)].text.startswith(
        "Request declined by Mira Moderator"
    )
    with sim.services.db.transaction() as session:
        assert IntroductionRepository(session).open_join_request(GROUP_ID, anna.id) is None


async def test_same_person_invited_twice_gets_the_same_link(sim: Simulator) -> None:
    ivan = await veteran(sim)
    first = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "IMO"])
    await sim.dm(ivan, "/invite")
    for answer in ["olena  PETRENKO", "UNICEF", "IMO"]:
        await sim.dm(ivan, answer)
    await skip_optional(sim, ivan)
    await sim.press(ivan, sim.last(ivan.id), "In the country")
    await sim.press(ivan, sim.last(ivan.id), "Create the invite link")
    assert f"You already have an open link for Olena Petrenko: {first}" in sim.last(ivan.id).text
    assert len(sim.telegram.calls_to("createChatInviteLink")) == 1


async def test_cluster_and_location_reach_the_card(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/invite")
    for answer in ["Olena Petrenko", "UNICEF", "IMO"]:
        await sim.dm(ivan, answer)
    await sim.press(ivan, sim.last(ivan.id), "WASH")
    await sim.dm(ivan, "x" * 500)
    assert "Too long (500/64 characters)" in sim.last(ivan.id).text
    await sim.dm(ivan, "Kyiv")
    await sim.press(ivan, sim.last(ivan.id), "In the country")
    await sim.press(ivan, sim.last(ivan.id), "Create the invite link")
    link = next(w for w in sim.last(ivan.id).text.split() if w.startswith("https://t.me/+"))
    mark = sim.mark()
    olena = sim.user("Olena")
    await sim.join(olena, link=link)
    card = sim.unique_reply(mark, GROUP_ID)
    assert "introduces Olena Petrenko — UNICEF, WASH cluster, IMO, Kyiv." in card.text
    intro = intro_of(sim, olena.id)
    assert intro is not None and intro.cluster == "WASH" and intro.location == "Kyiv"


async def test_deadline_survives_a_restart(sim: Simulator) -> None:
    ivan = await veteran(sim)
    pavlo = sim.user("Pavlo")
    await sim.join(pavlo, added_by=ivan)
    await sim.stop()
    # A new bot process on the same database and the same Telegram, two days later.
    sim.clock.advance(timedelta(hours=80))
    restarted = Simulator(sim.services.config, sim.clock, telegram=sim.telegram)
    await restarted.start()  # the sweeps run at start, as the job queue does ~1 s after start
    try:
        assert status(restarted, pavlo.id) is MemberStatus.REMOVED
        assert len(sim.telegram.calls_to("banChatMember")) == 1
        await restarted.advance(timedelta(minutes=5))
        assert len(sim.telegram.calls_to("banChatMember")) == 1  # once, not again
    finally:
        await restarted.stop()
        await sim.start(migrate=False)  # the fixture stops it again


async def test_a_newcomer_is_asked_to_be_listed_when_the_introduction_completes(
    sim: Simulator,
) -> None:
    # Issue "trust at the boundary": opt-in at arrival, asked there, once.
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH cluster IMO"])
    olena = sim.user("Olena", "P.")
    mark = sim.mark()
    await sim.join(olena, link=link)
    card = sim.unique_reply(mark, GROUP_ID)
    await sim.dm(olena, "/start " + card.buttons()[0]["url"].split("start=")[1])
    await sim.press(olena, sim.last(olena.id), "Yes")
    asked = [
        m for m in sim.telegram.sent(olena.id) if any("list me" in b["text"] for b in m.buttons())
    ]
    assert len(asked) == 1
    await sim.dm(olena, "/start")  # a later /start does not ask again
    again = [
        m for m in sim.telegram.sent(olena.id) if any("list me" in b["text"] for b in m.buttons())
    ]
    assert len(again) == 1
    await sim.press(olena, asked[0], "list me")
    with sim.services.db.transaction() as session:
        contact = ContactRepository(session).by_user(olena.id)
        assert contact is not None and contact.consent == "given"
