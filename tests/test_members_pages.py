"""/members arrives as one message with Previous/Next buttons, not five messages."""

from __future__ import annotations

import re

from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID


async def crowd(sim: Simulator, count: int) -> None:
    for index in range(count):
        person = sim.user(f"P{index:03d}", "Crowd")
        sim.group.members[person.id] = FakeMember("member")
        await sim.say(person, "hello")


def listed(text: str) -> list[str]:
    return re.findall(r"• (P\d{3} Crowd|\w+ \w+) —", text)


async def test_members_is_one_message_paged_with_buttons(sim: Simulator) -> None:
    await crowd(sim, 60)
    mira = sim.telegram.users[MODERATOR_ID]
    mark = sim.mark()
    await sim.dm(mira, "/members")
    page = sim.unique_reply(mark, MODERATOR_ID)  # one message, not several
    assert "60 members" in page.text or "61 members" in page.text
    assert "Page 1 of 3" in page.text
    first = listed(page.text)
    assert len(first) == 25 and first == sorted(first)
    assert [b["text"] for b in page.buttons()] == ["Next ▶"]
    seen = list(first)
    await sim.press(mira, page, "Next")
    for expected_page in (2, 3):
        shown = sim.telegram.messages[(MODERATOR_ID, page.message_id)]
        assert f"Page {expected_page} of 3" in shown.text
        seen += listed(shown.text)
        if expected_page < 3:
            await sim.press(mira, shown, "Next")
    last = sim.telegram.messages[(MODERATOR_ID, page.message_id)]
    assert [b["text"] for b in last.buttons()] == ["◀ Previous"]
    assert len(seen) == len(set(seen)) and len(seen) >= 60  # everyone, once
    await sim.press(mira, last, "Previous")
    assert "Page 2 of 3" in sim.telegram.messages[(MODERATOR_ID, page.message_id)].text


async def test_a_page_press_by_a_member_or_forged_changes_nothing(sim: Simulator) -> None:
    await crowd(sim, 30)
    mira = sim.telegram.users[MODERATOR_ID]
    await sim.dm(mira, "/members")
    page = sim.last(MODERATOR_ID)
    ivan = sim.user("Ivan", "Koval")
    sim.group.members[ivan.id] = FakeMember("member")
    await sim.say(ivan, "hi")
    before = len(sim.telegram.calls)
    data = page.buttons()[0]["callback_data"]
    await sim.feed(sim.telegram.forged_press(ivan.id, MODERATOR_ID, page.message_id, data))
    calls = [c for c in sim.telegram.calls[before:] if not c.method.startswith("get")]
    assert [c.method for c in calls] == ["answerCallbackQuery"]
    assert "only the group's moderators" in str(calls[0].params.get("text"))
    before = len(sim.telegram.calls)
    await sim.feed(sim.telegram.forged_press(mira.id, MODERATOR_ID, page.message_id, "mem:-42:1"))
    calls = [c for c in sim.telegram.calls[before:] if not c.method.startswith("get")]
    assert [c.method for c in calls] == ["answerCallbackQuery"]
    assert "Page 1 of 2" in sim.telegram.messages[(MODERATOR_ID, page.message_id)].text
    # A page past the end shows the last page.
    await sim.feed(
        sim.telegram.forged_press(mira.id, MODERATOR_ID, page.message_id, f"mem:{GROUP_ID}:99")
    )
    assert "Page 2 of 2" in sim.telegram.messages[(MODERATOR_ID, page.message_id)].text
