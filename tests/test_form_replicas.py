"""A form answered across two webhook replicas: two real `imbot run --webhook-url` processes on
one PostgreSQL behind no load balancer but the test, which posts each answer of /profile to the
other replica in turn (as a balancer may). The form continues on whichever replica gets the
answer and completes once; the same final press delivered to both replicas at the same moment
saves once (the form's row is locked for the answer's unit of work) and the other says the form
is no longer open."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from simulation.faketg import JSON
from simulation.http import FakeTelegramServer
from storage.db import Database
from storage.models import Contact, FormRow
from tests.processes import BotProcess, needs_postgresql, wait_for, write_config

SECRET = "form_Secret-3"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
OLENA = 7_200_001
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
        self.hook = f"http://127.0.0.1:{bot.http_port()}/tg-hook"
        wait_for(lambda: "receiving updates by webhook" in bot.output(), 30, "the webhook")

    def post(self, client: httpx.Client, update: JSON) -> None:
        sent = client.post(self.hook, content=json.dumps(update), headers={HEADER: SECRET})
        assert sent.status_code == 200, sent.text


def answered(server: FakeTelegramServer) -> list[tuple[str, str, str]]:
    """(replica, method, text) of what the replicas did for Olena, in order."""
    with server.lock:
        calls = list(server.calls)
    return [
        (c.client, c.method, str(c.params.get("text", "")))
        for c in calls
        if c.ok
        and c.method in SEEN
        and (c.method == "answerCallbackQuery" or int(c.params.get("chat_id", 0)) == OLENA)
    ]


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
            replicas[turn % 2].post(client, update)
            turn += 1
            wait_for(lambda: len(answered(server)) > before, 30, f"an answer to {update}")
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
    for process in processes:
        assert process.terminate() == 0, process.output()[-3000:]
        assert "Traceback" not in process.output()
