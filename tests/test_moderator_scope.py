"""Moderator scope through the real bot: a group's admins moderate that group only, and a
demotion counts at the next action. Every moderator-only command registered in the real
Application is refused, with nothing changed, to a plain member and to another group's admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from telegram.ext import BaseHandler, CommandHandler

from config.loader import LoadedConfig
from handlers.common import NOT_A_MODERATOR
from moderation.clock import FakeClock
from moderation.permissions import Role, admin_scope
from simulation.faketg import FakeMember, FakeUser
from simulation.simulator import Simulator
from storage.models import Base
from tests.conftest import GROUP_ID

GROUP_B = -1009990001111
# What a refused command may do: answer, and look people up. Anything else is an action.
READ_ONLY = {"sendMessage", "getChatMember", "getChatAdministrators", "answerCallbackQuery"}


@pytest.fixture
async def two_groups(config: LoadedConfig, clock: FakeClock) -> AsyncIterator[Simulator]:
    settings = config.settings
    settings.groups.append(
        settings.groups[0].model_copy(update={"chat_id": GROUP_B, "title": "Group B"})
    )
    simulator = Simulator(config, clock)
    await simulator.start()
    yield simulator
    await simulator.stop()
    assert not simulator.errors, f"the bot raised: {simulator.errors!r}"


def snapshot(sim: Simulator) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table except what any message updates (last seen, the journal)."""
    skip = {"users", "noted_messages", "replica_status", "message_journal"}
    with sim.services.db.transaction() as session:
        return {
            table.name: sorted(
                (tuple(map(str, row)) for row in session.execute(table.select())), key=str
            )
            for table in Base.metadata.sorted_tables
            if table.name not in skip
        }


async def in_group(sim: Simulator, name: str, chat_id: int, status: str = "member") -> FakeUser:
    user = sim.user(name, "Koval", name.lower())
    sim.telegram.groups[chat_id].members[user.id] = FakeMember(status)
    sim.telegram.started.add(user.id)
    await sim.say(user, f"Morning all, {name} here", chat_id=chat_id)
    return user


def moderator_commands(sim: Simulator) -> set[str]:
    """The registered commands whose spec says moderators only (introspected, not listed)."""
    registered: set[str] = set()

    def walk(handler: BaseHandler[Any, Any, Any]) -> None:
        if isinstance(handler, CommandHandler):
            registered.update(handler.commands)

    for handlers in sim.app.handlers.values():
        for handler in handlers:
            walk(handler)
    wanted = {s.name for s in sim.services.commands if s.role is Role.MODERATOR}
    assert wanted <= registered, f"declared but not registered: {wanted - registered}"
    return wanted


def test_admin_scope_rule() -> None:
    assert admin_scope(GROUP_ID, [GROUP_ID, GROUP_B]) == (GROUP_ID,)
    assert admin_scope(None, [GROUP_ID, GROUP_B]) == (GROUP_ID, GROUP_B)
    assert admin_scope(-100555, [GROUP_ID, GROUP_B]) == ()


async def test_an_admin_of_group_b_is_refused_warn_in_group_a(two_groups: Simulator) -> None:
    sim = two_groups
    ivan = await in_group(sim, "Ivan", GROUP_ID)
    bohdan = await in_group(sim, "Bohdan", GROUP_B, "administrator")
    sim.telegram.groups[GROUP_ID].members[bohdan.id] = FakeMember("member")
    await sim.say(bohdan, "hello", chat_id=GROUP_ID)
    before = snapshot(sim)
    mark = sim.mark()
    await sim.say(bohdan, "/warn @ivan off topic", chat_id=GROUP_ID)
    assert NOT_A_MODERATOR in sim.unique_reply(mark, GROUP_ID).text
    assert snapshot(sim) == before
    # In his own group he is a moderator.
    await sim.say(ivan, "hi", chat_id=GROUP_B)
    mark = sim.mark()
    await sim.say(bohdan, "/warn @ivan off topic", chat_id=GROUP_B)
    assert NOT_A_MODERATOR not in sim.unique_reply(mark, GROUP_B).text


async def test_a_demoted_admin_loses_deadline_rights_at_the_next_action(
    two_groups: Simulator,
) -> None:
    sim = two_groups
    olha = await in_group(sim, "Olha", GROUP_ID, "administrator")
    mark = sim.mark()
    await sim.dm(olha, "/deadline")
    assert NOT_A_MODERATOR not in sim.unique_reply(mark, olha.id).text
    await sim.dm(olha, "/cancel")
    sim.telegram.groups[GROUP_ID].members[olha.id] = FakeMember("member")  # no update seen
    mark = sim.mark()
    await sim.dm(olha, "/deadline")
    assert NOT_A_MODERATOR in sim.unique_reply(mark, olha.id).text


@pytest.mark.parametrize("who", ["plain member", "admin of group B"])
async def test_every_moderator_command_is_refused_in_group_a_with_nothing_changed(
    two_groups: Simulator, who: str
) -> None:
    sim = two_groups
    target = await in_group(sim, "Ivan", GROUP_ID)
    status = "administrator" if who == "admin of group B" else "member"
    actor = await in_group(sim, "Petro", GROUP_B, status)
    sim.telegram.groups[GROUP_ID].members[actor.id] = FakeMember("member")
    await sim.say(actor, "hello", chat_id=GROUP_ID)
    commands = moderator_commands(sim)
    assert {"warn", "mute", "ban", "remove", "purge", "deadline", "export"} <= commands
    for command in sorted(commands):
        sim.clock.advance(timedelta(minutes=5))  # never a flood: each command stands alone
        before, calls = snapshot(sim), len(sim.telegram.calls)
        # In private an admin of any configured group is an operation-wide moderator (README,
        # Permissions); a plain member is refused there too.
        chats = (GROUP_ID,) if status == "administrator" else (GROUP_ID, actor.id)
        for chat_id in chats:
            await sim.say(actor, f"/{command} @{target.username} 1d reason", chat_id=chat_id)
        made = {c.method for c in sim.telegram.calls[calls:]}
        assert made <= READ_ONLY, f"/{command} by a {who} made {made - READ_ONLY}"
        assert snapshot(sim) == before, f"/{command} by a {who} changed the database"


async def test_in_private_an_admin_of_group_b_cannot_press_group_a_buttons(
    two_groups: Simulator,
) -> None:
    """Buttons about one group's people check that group's moderators wherever they are
    pressed: Bohdan (admin of B only) forges, in his private chat, a held newcomer's "Remove"
    and a roster page of group A — refused, nothing changed. The same buttons about group B
    work for him (README, Permissions)."""
    sim = two_groups
    bohdan = await in_group(sim, "Bohdan", GROUP_B, "administrator")
    stranger_a, stranger_b = sim.user("Stranger"), sim.user("Outsider")
    await sim.join(stranger_a)
    await sim.join(stranger_b, chat_id=GROUP_B)
    with sim.services.db.transaction() as session:
        rows = session.execute(
            text("select id, chat_id from introductions where status = 'held'")
        ).all()
    held = {chat_id: intro_id for intro_id, chat_id in rows}
    assert set(held) == {GROUP_ID, GROUP_B}
    await sim.dm(bohdan, "/members")
    own = sim.last(bohdan.id)
    before, calls = snapshot(sim), len(sim.telegram.calls)
    for data in (f"held:{held[GROUP_ID]}:r", f"held:{held[GROUP_ID]}:s", f"mem:{GROUP_ID}:0"):
        await sim.feed(sim.telegram.forged_press(bohdan.id, bohdan.id, own.message_id, data))
    made = [c for c in sim.telegram.calls[calls:] if c.method not in READ_ONLY]
    assert made == [], f"a forged group A button made {[c.method for c in made]}"
    answers = [c for c in sim.telegram.calls[calls:] if c.method == "answerCallbackQuery"]
    assert len(answers) == 3
    assert all("only the group's moderators" in str(a.params.get("text")) for a in answers)
    assert snapshot(sim) == before
    # His own group's held newcomer: he decides.
    await sim.feed(
        sim.telegram.forged_press(bohdan.id, bohdan.id, own.message_id, f"held:{held[GROUP_B]}:r")
    )
    assert sim.telegram.calls_to("banChatMember")[-1]["user_id"] == stranger_b.id
