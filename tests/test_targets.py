"""Whom a command is about: one resolver for replies, @usernames, ids and roster names."""

from __future__ import annotations

import pytest

from handlers.targets import TargetError, resolve_target
from simulation.faketg import FakeMember, FakeUser
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID


async def member(sim: Simulator, first: str, last: str, username: str | None) -> FakeUser:
    person = sim.user(first, last, username)
    sim.group.members[person.id] = FakeMember("member")
    await sim.say(person, "Morning all")
    return person


async def test_every_form_names_the_same_person_and_keeps_the_rest(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Petrenko", None)
    await member(sim, "Ivan", "Koval", "ivan_k")
    forms = [
        ["Olena", "Petrenko", "spam", "again"],
        ["olena", "spam", "again"],  # a first name alone, when only one member has it
        [str(olena.id), "spam", "again"],
    ]
    for args in forms:
        target = resolve_target(sim.services, GROUP_ID, None, args)
        assert (target.user_id, target.rest) == (olena.id, ["spam", "again"]), args
        assert target.name == "Olena Petrenko"
    by_username = resolve_target(sim.services, GROUP_ID, None, ["@IVAN_K", "30d"])
    assert by_username.username == "ivan_k" and by_username.rest == ["30d"]
    assert resolve_target(sim.services, GROUP_ID, None, ["ivan_k"]).name == "Ivan Koval"


async def test_ambiguous_unknown_and_missing_targets_explain_themselves(sim: Simulator) -> None:
    await member(sim, "Olena", "Petrenko", None)
    await member(sim, "Olena", "Shevchenko", None)
    cases = {
        ("olena", "rude"): "Several members are called olena",
        ("Zenobia", "<b>Quux</b>"): "No current member is called Zenobia &lt;b&gt;Quux&lt;/b&gt;",
        ("@nobody_here",): "I don't know @nobody_here",
        ("123456789012",): "never seen a user with id 123456789012",
        (): "Whom do you mean?",
    }
    for args, expected in cases.items():
        with pytest.raises(TargetError) as refused:
            resolve_target(sim.services, GROUP_ID, None, list(args))
        # As the person reads it: the isolates around what they typed are invisible.
        read = str(refused.value).replace("\u2068", "").replace("\u2069", "")
        assert expected in read, args
    target = resolve_target(sim.services, GROUP_ID, None, ["Olena", "Shevchenko", "late"])
    assert target.rest == ["late"]
