"""@all to a 1,000-member group: messages needed and time to reach everyone within the
per-group rate.

    .venv/bin/python -m bench.mentions_all [--db sqlite|postgresql|URL] [--members N]

Runs in SIMULATED time: the bot's clock and the fake Bot API's flood limits (20 messages a
minute in one group, 30/s overall, 429 beyond) both follow the simulator's FakeClock, which
moves 2 s between runs of the sweeps (the mention dispatcher's interval), so ten minutes of
pacing take seconds. A moderator posts "@all …" through ``Application.process_update``; the
mention feature (handlers/mentions/, settings ``groups[].mentions``) sends a notice and then
the batches. Reported: messages, time from the post until the last member was mentioned, each
member mentioned exactly once, and 429s (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import ColumnElement, func, insert, select

from bench.common import config_for, database, engine_name, summary
from moderation.clock import FakeClock
from moderation.roster import JoinMethod, MemberStatus
from simulation.faketg import FakeMember, FakeUser
from simulation.simulator import Simulator
from storage.models import Membership, MentionOutbox, User

GROUP_ID = -1001234567890
MODERATOR_ID = 111111111
MEMBER_BASE = 30_000_000


def seed_members(
    sim: Simulator, members: int, started_share: float = 0.0
) -> tuple[list[int], set[int]]:
    """``members`` people already in the group (fake Telegram and database) and, spread evenly,
    ``started_share`` of them who started the bot. Every third has no username: mentioned by a
    tg://user link instead."""
    now = sim.clock.now()
    ids: list[int] = []
    started: set[int] = set()
    for i in range(members):
        user = sim.telegram.add_user(
            f"Member{i}", "Koval", f"member_{i}" if i % 3 else None, user_id=MEMBER_BASE + i
        )
        sim.group.members[user.id] = FakeMember("member")
        ids.append(user.id)
        if math.floor((i + 1) * started_share) > math.floor(i * started_share):  # 7 in 10
            started.add(user.id)
            sim.telegram.started.add(user.id)
    with sim.services.db.transaction() as session:
        session.execute(
            insert(User),
            [
                dict(
                    id=uid,
                    first_name=sim.telegram.users[uid].first_name,
                    last_name="Koval",
                    username=sim.telegram.users[uid].username,
                    language_code="en",
                    is_bot=False,
                    started_bot=uid in started,
                    blocked_bot=False,
                    first_seen=now,
                    last_seen=now,
                )
                for uid in ids
            ],
        )
        session.execute(
            insert(Membership),
            [
                dict(
                    chat_id=GROUP_ID,
                    user_id=uid,
                    status=MemberStatus.MEMBER,
                    join_method=JoinMethod.UNKNOWN,
                    joined_at=now,
                    updated_at=now,
                )
                for uid in ids
            ],
        )
    return ids, started


async def post_all(sim: Simulator, moderator: FakeUser, waiting: ColumnElement[bool]) -> float:
    """The moderator's @all, then simulated time until no message of the outbox is ``waiting``;
    the wall-clock seconds it took."""
    wall = time.perf_counter()
    await sim.say(moderator, "@all the IM working group meets today at 14:00 in the WASH hub")
    for _ in range(5000):  # bounded: 10,000 simulated seconds
        with sim.services.db.transaction() as session:
            left = session.scalar(select(func.count()).select_from(MentionOutbox).where(waiting))
        if not left:
            break
        await sim.advance(timedelta(seconds=2))
    return time.perf_counter() - wall


async def run(url: str, members: int) -> None:
    sim = Simulator(config_for(url), FakeClock())
    moderator = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(moderator.id)
    await sim.start()
    policy = sim.services.settings.groups[0].mentions
    ids, _started = seed_members(sim, members)
    sim.group.members[moderator.id] = FakeMember("member")
    await sim.say(moderator, "Good morning")
    flood = sim.telegram.enforce_flood_limits(clock=lambda: sim.clock.now().timestamp())
    mark = sim.mark()
    posted = sim.clock.now()
    wall = await post_all(
        sim, moderator, MentionOutbox.status.not_in(["sent", "skipped", "failed"])
    )
    messages = sim.since(mark, GROUP_ID)
    reached: Counter[int] = Counter()
    by_username = {u.username.lower(): u.id for u in sim.telegram.users.values() if u.username}
    last_at = posted
    for message in messages:
        found = [*message.mentions, *(by_username.get(n.lower(), 0) for n in message.usernames)]
        if any(uid in found for uid in ids):
            last_at = max(last_at, sim.clock.now().fromtimestamp(message.date, posted.tzinfo))
        reached.update(uid for uid in found if uid in ids)
    errors = list(sim.errors)
    await sim.stop()
    if errors:
        raise RuntimeError(f"the bot raised: {errors[:3]!r}")
    missing = sum(1 for uid in ids if reached[uid] == 0)
    twice = sum(1 for uid in ids if reached[uid] > 1)
    seconds = (last_at - posted).total_seconds()
    ideal = max(0.0, (len(messages) - 1) / policy.per_minute * 60)
    print(
        f"{engine_name(url)}, {members} members, simulated time; batch_size "
        f"{policy.batch_size}, per_minute {policy.per_minute} (Telegram: 20/min per group)"
    )
    print(
        f"{len(messages)} group messages; last member mentioned {seconds:.0f}s after the post "
        f"(pacing alone: {ideal:.0f}s); missing {missing}, twice {twice}, 429s {flood.refused}; "
        f"{wall:.1f}s of wall time"
    )
    summary(
        "mentions_all",
        f"{engine_name(url)}: @all to {members} members = {len(messages)} messages, everyone "
        f"reached after {seconds / 60:.1f} min (simulated) at {policy.per_minute}/min; "
        f"missing {missing}, duplicates {twice}, 429s {flood.refused}",
        ok=missing == 0 and twice == 0 and flood.refused == 0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgresql or a URL")
    parser.add_argument("--members", type=int, default=1_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with database(args.db) as url:
        asyncio.run(run(url, args.members))


if __name__ == "__main__":
    main()
