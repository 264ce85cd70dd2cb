"""/subscribe pre-selects what the person's introduction already names: the organisation (and
the cluster) is marked ✓ and offered first, and the question says why; driven through the
whole bot. The helper's sponsor introduces newcomers as working for UNICEF."""

from __future__ import annotations

from simulation.simulator import Simulator
from tests.lifecycle import member
from tests.test_joins import veteran


async def test_the_introductions_organisation_is_marked_and_first(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/subscribe")
    question = sim.last(olena.id)
    assert "✓" not in question.text  # the introduction names no cluster
    await sim.press(olena, question, "WASH")
    question = sim.last(olena.id)
    assert "And which <b>organisation</b>?" in question.html
    assert "Your introduction names UNICEF: it is marked ✓." in question.text, question.text
    labels = [b["text"] for b in question.buttons()]
    assert labels[0] == "✓ UNICEF" and labels.count("✓ UNICEF") == 1, labels
    assert "OCHA" in labels and "No organisation" in labels
    await sim.press(olena, question, "UNICEF")
    assert "You are now a partner for WASH and UNICEF." in sim.last(olena.id).text
    # Someone without an introduction sees the plain list.
    await sim.dm(ivan, "/subscribe")
    await sim.press(ivan, sim.last(ivan.id), "WASH")
    plain = sim.last(ivan.id)
    assert "✓" not in plain.text and all("✓" not in b["text"] for b in plain.buttons())


async def test_the_preselection_is_explained_in_ukrainian(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/language uk")
    await sim.dm(olena, "/subscribe")
    await sim.press(olena, sim.last(olena.id), "WASH")
    question = sim.last(olena.id)
    assert "У вашому представленні зазначено UNICEF: цей варіант позначено ✓." in question.text
    assert question.buttons()[0]["text"] == "✓ UNICEF"
