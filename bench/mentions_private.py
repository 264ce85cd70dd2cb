"""@all to 500 members of whom 70 % started the bot and chose private delivery (issue 20):
every member notified by Telegram's rule, and how many group messages that takes — paired
with a baseline in the same run (the same group, nobody private).

    .venv/bin/python -m bench.mentions_private [--db sqlite|postgresql|URL] [--members N]
                                               [--private 0.7]

Runs in SIMULATED time, as ``bench.mentions_all``: the bot's clock and the fake Bot API's flood
limits (20 messages a minute in one group, 30/s overall, 429 beyond) follow the simulator's
FakeClock, which moves 2 s between runs of the sweeps. Who was notified is counted by the
fake Bot API the way Telegram notifies: of a group message's mentions only the first five,
and a private message its person. Target: every member notified exactly once, the group
carries at most 1 + ⌈members reached in the group / 5⌉ messages, no 429.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os

from sqlalchemy import insert

from bench.common import config_for, database, engine_name, summary
from bench.mentions_all import GROUP_ID, post_all, seed_members
from moderation.clock import FakeClock
from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from storage.models import MentionDelivery, MentionOutbox

MODERATOR_ID = 111111111
FIVE = 5  # Telegram notifies the first five mentions of a message


async def run(url: str, members: int, share: float) -> dict[str, float]:
    sim = Simulator(config_for(url), FakeClock())
    moderator = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(moderator.id)
    await sim.start()
    policy = sim.services.settings.groups[0].mentions
    now = sim.clock.now()
    ids, private = seed_members(sim, members, share)
    with sim.services.db.transaction() as session:
        if private:  # as /tags private would have stored it
            session.execute(
                insert(MentionDelivery),
                [dict(user_id=uid, private=True, updated_at=now) for uid in sorted(private)],
            )
    sim.group.members[moderator.id] = FakeMember("member")
    await sim.say(moderator, "Good morning")
    flood = sim.telegram.enforce_flood_limits(clock=lambda: sim.clock.now().timestamp())
    mark = sim.mark()
    first_notification = len(sim.telegram.notifications)
    posted = sim.clock.now()
    wall = await post_all(sim, moderator, MentionOutbox.status.in_(["pending", "sending"]))
    done = sim.clock.now()
    group_messages = len(sim.since(mark, GROUP_ID))
    private_messages = sum(1 for m in sim.since(mark) if m.chat_id in private)
    counts = sim.telegram.notified_users()
    for uid, _chat, _mid in sim.telegram.notifications[:first_notification]:
        counts[uid] -= 1  # only what the @all caused
    errors = list(sim.errors)
    await sim.stop()
    if errors:
        raise RuntimeError(f"the bot raised: {errors[:3]!r}")
    in_group = members - len(private)
    return {
        "members": members,
        "private": len(private),
        "group_messages": group_messages,
        "private_messages": private_messages,
        "bound": 1 + math.ceil(in_group / min(FIVE, policy.batch_size)),
        "missing": sum(1 for uid in ids if counts[uid] == 0),
        "twice": sum(1 for uid in ids if counts[uid] > 1),
        "refused": flood.refused,
        "minutes": (done - posted).total_seconds() / 60,
        "wall": wall,
        "per_minute": policy.per_minute,
    }


def line(name: str, r: dict[str, float]) -> str:
    return (
        f"{name}: {r['members']:.0f} members, {r['private']:.0f} private → "
        f"{r['group_messages']:.0f} group messages (bound {r['bound']:.0f}) + "
        f"{r['private_messages']:.0f} private; missing {r['missing']:.0f}, twice "
        f"{r['twice']:.0f}, 429s {r['refused']:.0f}; all done {r['minutes']:.1f} min "
        f"(simulated) at {r['per_minute']:.0f}/min; {r['wall']:.1f}s wall"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgresql or a URL")
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--private", type=float, default=0.7, help="share who chose private")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    load = os.getloadavg()
    with database(args.db) as url:
        baseline = asyncio.run(run(url, args.members, 0.0))
    with database(args.db) as url:
        chosen = asyncio.run(run(url, args.members, args.private))
    print(f"{engine_name(url)}; machine load average {load[0]:.1f} / {load[1]:.1f} (1 / 5 min)")
    print(line("baseline (nobody private)", baseline))
    print(line(f"{args.private:.0%} private", chosen))
    ok = all(
        r["missing"] == 0
        and r["twice"] == 0
        and r["refused"] == 0
        and r["group_messages"] <= r["bound"]
        for r in (baseline, chosen)
    )
    summary(
        "mentions_private",
        f"{engine_name(url)}: @all to {args.members} members, {chosen['private']:.0f} private: "
        f"{chosen['group_messages']:.0f} group messages (≤ {chosen['bound']:.0f}) + "
        f"{chosen['private_messages']:.0f} private, done in {chosen['minutes']:.1f} min; "
        f"baseline {baseline['group_messages']:.0f} group messages, {baseline['minutes']:.1f} min; "
        f"missing {chosen['missing']:.0f}/{baseline['missing']:.0f}, 429s "
        f"{chosen['refused']:.0f}/{baseline['refused']:.0f}",
        ok=ok,
    )


if __name__ == "__main__":
    main()
