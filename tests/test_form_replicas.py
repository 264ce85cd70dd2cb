"""A form answered across two webhook replicas: two real `imbot run --webhook-url` processes on
one PostgreSQL behind no load balancer but the test, which posts each answer of /profile,
/invite and /deadline add to the other replica in turn (as a balancer may). The form continues
on whichever replica gets the answer and completes once; the same final press delivered to both
replicas at the same moment saves once (the form's row is locked for the answer's unit of work)
and the other says the form is no longer open."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from simulation.faketg import JSON, FakeMember
from simulation.http import FakeTelegramServer
from storage.db import Database
from storage.models import Contact, DeadlineRow, FormRow, Invitation, Membership
from tests.processes import GROUP_ID, BotProcess, needs_postgresql, wait_for, write_config

SECRET = "form_Secret-3"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
OLENA = 7_200_001
IVAN = 7_200_002
MIRA = 7_200_003
SEEN = {"sendMessage", "editMessageText", "answerCallbackQuery"}


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.stop_quietly()


class Replica:
    def __init__(self, bot: BotProcess) -> None:
        self.bot = bot
        port = bot.http_port()
        self.hook = f"http://127.0.0.1:{port}/tg-hook"
        self.metrics = f"http://127.0.0.1:{port}/metrics"
        self.posted = 0
        wait_for(lambda: "receiving updates by webhook" in bot.output(), 30, "the webhook")

    def post(self, client: httpx.Client, update: JSON) -> None:
        sent = client.post(self.hook, content=json.dumps(update), headers={HEADER: SECRET})
        assert sent.status_code == 200, sent.text
        self.posted += 1

    def handled(self, client: httpx.Client) -> int:
        """How many updates this replica has finished handling (its own /metrics)."""
        body = client.get(self.metrics).text
        found = re.search(r"^imbot_update_handling_seconds_count (\S+)$", body, re.MULTILINE)
        return int(float(found.group(1))) if found else 0

    def settle(self, client: httpx.Client) -> None:
        """Wait until every update posted here is handled: a press is answered first, and its
        edits and the next question follow, so the next update must not overtake them."""
        wait_for(lambda: self.handled(client) >= self.posted, 30, f"{self.bot.name} to settle")


def answered(server: FakeTelegramServer, person: int = OLENA) -> list[tuple[str, str, str]]:
    """(replica, method, text) of what the replicas did for ``person``, in order."""
    with server.lock:
        calls = list(server.calls)
    return [
        (c.client, c.method, str(c.params.get("text", "")))
        for c in calls
        if c.ok
        and c.method in SEEN
        and (c.method == "answerCallbackQuery" or int(c.params.get("chat_id", 0)) == person)
    ]


def two_replicas(
    database_url: str,
    tmp_path: Path,
    server: FakeTelegramServer,
    processes: list[BotProcess],
    extra: dict[str, object] | None = None,
) -> list[Replica]:
    config = write_config(tmp_path, lease="30s", extra=extra)
    Database(database_url).upgrade()  # once, before two processes start on it
    for name in ("a", "b"):
        processes.append(
            BotProcess(
                name,
                config,
                database_url,
                server.url(name),
                tmp_path,
                args=("--webhook-url", "https://bot.example.org/tg-hook"),
                env={"WEBHOOK_SECRET": SECRET},
            )
        )
    return [Replica(p) for p in processes]


class Alternating:
    """A load balancer that sends each update to the other replica than the last one."""

    def __init__(
        self, replicas: list[Replica], server: FakeTelegramServer, client: httpx.Client
    ) -> None:
        self.replicas, self.server, self.client, self.turn = replicas, server, client, 0

    def deliver(self, person: int, update: JSON) -> list[tuple[str, str, str]]:
        """Post to the next replica; what it did in answer for ``person``."""
        before = len(answered(self.server, person))
        replica = self.replicas[self.turn % 2]
        replica.post(self.client, update)
        self.turn += 1
        wait_for(lambda: len(answered(self.server, person)) > before, 30, f"an answer to {update}")
        replica.settle(self.client)
        return answered(self.server, person)[before:]

    def say(self, person: int, text: str) -> list[tuple[str, str, str]]:
        return self.deliver(person, self.server.telegram.message(person, person, text))

    def press(self, person: int, label: str) -> list[tuple[str, str, str]]:
        """Press the button labelled ``label`` on the newest message that has buttons."""
        telegram = self.server.telegram
        message = [m for m in telegram.sent(person) if m.buttons()][-1]
        [data] = [b["callback_data"] for b in message.buttons() if label in b["text"]]
        return self.deliver(person, telegram.press(person, person, message.message_id, data))


def stop_cleanly(processes: list[BotProcess]) -> None:
    for process in processes:
        assert process.terminate() == 0, process.output()[-3000:]
        assert "Traceback" not in process.output(), process.output()


def both_replicas_answered(server: FakeTelegramServer, person: int) -> bool:
    return {c for c, method, _t in answered(server, person) if method == "sendMessage"} == {
        "a",
        "b",
    }


@pytest.mark.postgresql
@needs_postgresql
def test_invite_answers_alternating_between_two_replicas_give_one_link(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    telegram = server.telegram
    telegram.add_group(GROUP_ID, "Process test group")
    ivan = telegram.add_user("Ivan", "Koval", "ivan_k", user_id=IVAN)
    telegram.groups[GROUP_ID].members[ivan.id] = FakeMember("member")
    replicas = two_replicas(database_url, tmp_path, server, processes)
    with httpx.Client(timeout=10) as client:
        balancer = Alternating(replicas, server, client)
        # The bot learns Ivan is a member when he speaks (the group's messages get no reply).
        replicas[1].post(client, telegram.message(ivan.id, GROUP_ID, "Morning all"))
        roster = Database(database_url)

        def known() -> bool:
            with roster.transaction() as session:
                return (
                    session.scalars(select(Membership).where(Membership.user_id == IVAN)).first()
                    is not None
                )

        wait_for(known, 30, "the bot learning Ivan is a member")
        roster.dispose()
        balancer.say(IVAN, "/invite")
        for text in ["Olena Petrenko", "UNICEF", "IMO"]:
            balancer.say(IVAN, text)
        balancer.press(IVAN, "WASH")
        refused = balancer.say(IVAN, "x" * 500)
        assert "Too long (500/64 characters)" in refused[-1][2], refused
        balancer.say(IVAN, "Kyiv")
        balancer.press(IVAN, "In the country")
        balancer.press(IVAN, "Create the invite link")

        def links() -> list[str]:
            said = answered(server, IVAN)
            return [
                w for _c, _m, text in said for w in text.split() if w.startswith("https://t.me/+")
            ]

        wait_for(lambda: bool(links()), 30, "the invite link")
    assert len(links()) == 1, answered(server, IVAN)
    assert both_replicas_answered(server, IVAN)  # the form really went back and forth
    database = Database(database_url)
    with database.transaction() as session:
        [invitation] = session.scalars(select(Invitation)).all()
        assert (invitation.sponsor_id, invitation.first_name, invitation.last_name) == (
            IVAN,
            "Olena",
            "Petrenko",
        )
        assert (invitation.organisation, invitation.role, invitation.cluster) == (
            "UNICEF",
            "IMO",
            "WASH",
        )
        assert (invitation.location, invitation.link_url) == ("Kyiv", links()[0])
        assert session.scalars(select(FormRow)).all() == []
    database.dispose()
    stop_cleanly(processes)


@pytest.mark.postgresql
@needs_postgresql
def test_deadline_add_answers_alternating_between_two_replicas_save_once(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    telegram = server.telegram
    telegram.add_user("Mira", "Shevchenko", "mira_s", user_id=MIRA)
    replicas = two_replicas(database_url, tmp_path, server, processes, {"moderators": [MIRA]})
    with httpx.Client(timeout=10) as client:
        balancer = Alternating(replicas, server, client)
        balancer.say(MIRA, "/deadline add")
        assert "Sorry" in balancer.say(MIRA, "WASH 3W!")[-1][2]
        for answer in [
            "wash-3w",
            "WASH 3W inputs",
            "https://example.org/3w",
            "clusters: WASH",
            "every Friday 12:00",
            "Europe/Kyiv",
            "1d, 2h, overdue 1h",
        ]:
            balancer.say(MIRA, answer)
        balancer.press(MIRA, "Save")
    database = Database(database_url)

    def saved() -> DeadlineRow | None:
        with database.transaction() as session:
            return session.get(DeadlineRow, "wash-3w")

    wait_for(lambda: saved() is not None, 30, "the deadline saved")
    assert both_replicas_answered(server, MIRA)
    with database.transaction() as session:
        row = session.get(DeadlineRow, "wash-3w")
        assert row is not None
        assert (row.title, row.timezone, row.source) == ("WASH 3W inputs", "Europe/Kyiv", "command")
        assert (row.rule, row.remind) == ("FREQ=WEEKLY;BYDAY=FR;BYHOUR=12;BYMINUTE=0", "86400,7200")
        assert session.scalars(select(FormRow)).all() == []
    database.dispose()
    stop_cleanly(processes)


@pytest.mark.postgresql
@needs_postgresql
def test_profile_answers_alternating_between_two_replicas_complete_once(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    telegram = server.telegram
    olena = telegram.add_user("Olena", "Koval", "olena_k", user_id=OLENA)
    config = write_config(tmp_path, lease="30s")
    Database(database_url).upgrade()  # once, before two processes start on it
    for name in ("a", "b"):
        processes.append(
            BotProcess(
                name,
                config,
                database_url,
                server.url(name),
                tmp_path,
                args=("--webhook-url", "https://bot.example.org/tg-hook"),
                env={"WEBHOOK_SECRET": SECRET},
            )
        )
    replicas = [Replica(p) for p in processes]
    answers = [
        "/profile",
        "Olena Koval",
        "UNICEF",
        "WASH IMO",
        "WASH, Health",
        "Kharkiv",
        "12345",  # not a phone number: asked again, on the other replica
        "+380 44 123 4567",
        "Olena@Example.org",
        "/skip",
        "yes",
    ]
    turn = 0
    with httpx.Client(timeout=10) as client:

        def deliver(update: JSON) -> list[tuple[str, str, str]]:
            """Post to the next replica; what it did in answer."""
            nonlocal turn
            before = len(answered(server))
            replica = replicas[turn % 2]
            replica.post(client, update)
            turn += 1
            wait_for(lambda: len(answered(server)) > before, 30, f"an answer to {update}")
            replica.settle(client)
            return answered(server)[before:]

        for text in answers:
            reply = deliver(telegram.message(olena.id, olena.id, text))
            if text == "12345":
                assert "phone" in reply[-1][2].lower(), reply
        levels = telegram.sent(olena.id)[-1]
        assert "Who may see each detail?" in levels.text

        def press(label: str) -> JSON:
            message = [m for m in telegram.sent(olena.id) if m.buttons()][-1]
            [data] = [b["callback_data"] for b in message.buttons() if label in b["text"]]
            return telegram.press(olena.id, olena.id, message.message_id, data)

        deliver(press("Phone: private"))  # → public
        deliver(press("Phone: public"))  # → cluster
        # The Save press reaches both replicas at once (a redelivery racing the first).
        save = press("Save")
        both = [threading.Thread(target=replica.post, args=(client, save)) for replica in replicas]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join(30)
        query_id = save["callback_query"]["id"]

        def tries() -> list[str]:
            """What each replica answered the Save press with (Telegram keeps the first)."""
            with server.lock:
                calls = list(server.calls)
            return [
                str(c.params.get("text", ""))
                for c in calls
                if c.method == "answerCallbackQuery"
                and c.params.get("callback_query_id") == query_id
            ]

        wait_for(lambda: len(tries()) == 2, 30, "both replicas answering the Save press")
        wait_for(
            lambda: any(
                m == "editMessageText" and t.startswith("Saved.") for _c, m, t in answered(server)
            ),
            30,
            "the entry saved",
        )

    done = answered(server)
    clients = {client for client, method, _text in done if method == "sendMessage"}
    assert clients == {"a", "b"}  # the form really went back and forth
    assert sorted(tries()) == ["Saved", "This form is no longer open."]
    assert sum(1 for _c, m, t in done if m == "editMessageText" and t.startswith("Saved.")) == 1
    database = Database(database_url)
    with database.transaction() as session:
        [contact] = session.scalars(select(Contact)).all()
        assert (contact.user_id, contact.consent, contact.phone) == (
            OLENA,
            "given",
            "+380441234567",
        )
        assert contact.clusters == "WASH|Health" and contact.focal_point
        assert "phone=cluster" in contact.levels
        assert session.scalars(select(FormRow)).all() == []
    database.dispose()
    stop_cleanly(processes)
