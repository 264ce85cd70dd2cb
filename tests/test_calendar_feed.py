"""The calendar feed end to end: links made and stopped in chat through the fake Bot API, the
route answering from a real database, the .ics read back with icalendar.

Oracles: the reporting rhythm of the seed document (SitRep inputs every two weeks on a
Wednesday; displacement figures once a week) as config/example.yaml encodes it, the README's
"Calendar feed" section (404 for anything stopped or unknown, ETag / Last-Modified, 304).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import icalendar
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import select

from config.loader import LoadedConfig
from moderation.clock import FakeClock
from simulation.faketg import FakeMember, FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.models import CalendarFeed
from tests.conftest import GROUP_ID, MODERATOR_ID
from web.calendar_feed import FEED
from web.http import WebRequest, WebResponse

PUBLIC = "https://bot.example.org"
LINK = re.compile(r"https://bot\.example\.org(/calendar/[^\s]+\.ics)")


@pytest.fixture
def config(config: LoadedConfig) -> LoadedConfig:
    http = config.settings.http.model_copy(update={"public_url": PUBLIC})
    return dataclasses.replace(config, settings=config.settings.model_copy(update={"http": http}))


async def member(sim: Simulator, first: str) -> FakeUser:
    person = sim.user(first, "Member")
    # In the group before the bot: the bot learns them on sight, no introduction to complete.
    sim.group.members[person.id] = FakeMember("member")
    await sim.say(person, "hello")
    sim.telegram.started.add(person.id)
    await sim.dm(person, "/start")
    return person


async def calendar(sim: Simulator, user: FakeUser) -> tuple[SentMessage, SentMessage]:
    """/calendar privately: the file, then the message about the subscription link."""
    mark = sim.mark()
    await sim.dm(user, "/calendar")
    replies = sim.since(mark, user.id)
    assert len(replies) == 2, [m.text for m in replies]
    assert replies[0].document is not None and replies[0].document[0] == "deadlines.ics"
    return replies[0], replies[1]


def path_in(message: SentMessage) -> str:
    found = LINK.findall(message.text)
    assert len(found) == 1, message.text
    return str(found[0])


async def get(
    sim: Simulator, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> WebResponse:
    """What the server does: match the route's pattern against the whole path, then call it."""
    matched = re.fullmatch(FEED.pattern, path)
    if matched is None:
        return WebResponse(404)
    request = WebRequest(method, path, headers or {}, matched.groupdict())
    return await FEED.route(sim.services, request)


def header(response: WebResponse, name: str) -> str:
    values = [v for k, v in response.headers if k.lower() == name.lower()]
    assert len(values) == 1, response.headers
    return values[0]


def events(body: bytes) -> dict[str, Any]:
    """Each event by its title (icalendar's property values are a wide union: read as Any)."""
    parsed = icalendar.Calendar.from_ical(body)
    return {str(e["SUMMARY"]): e for e in parsed.walk("VEVENT")}


async def test_member_subscribes_and_gets_the_deadlines_with_cache_headers(sim: Simulator) -> None:
    olena = await member(sim, "Olena")
    document, offer = await calendar(sim, olena)
    path = path_in(offer)
    assert "Outlook" in offer.text and "New link" in str(offer.reply_markup)

    response = await get(sim, path)
    assert response.status == 200
    assert header(response, "Content-Type") == "text/calendar; charset=utf-8"
    assert re.fullmatch(r"private, max-age=[1-9][0-9]*", header(response, "Cache-Control"))
    etag = header(response, "ETag")
    assert re.fullmatch(r'"[^"]+"', etag)  # strong: no W/
    # The same calendar as the file in chat, byte for byte.
    assert document.document is not None and response.body == document.document[1]
    found = events(response.body)
    # The seed's rhythm: SitRep inputs every two weeks, on a Wednesday (for Friday's SitRep).
    sitrep = found["SitRep inputs"]
    assert sitrep["RRULE"]["FREQ"] == ["WEEKLY"] and sitrep["RRULE"]["INTERVAL"] == [2]
    assert sitrep["RRULE"]["BYDAY"] == ["WE"]
    assert sitrep["DTSTART"].dt.weekday() == 2
    displacement = found["Weekly displacement figures"]
    assert displacement["RRULE"]["FREQ"] == ["WEEKLY"]
    assert displacement["RRULE"].get("INTERVAL", [1]) == [1]

    # The ETag round trip, a list of tags, and "*": 304 without a body, same validators.
    for tags in (etag, f'"other", {etag}', "*", f"W/{etag}"):
        again = await get(sim, path, {"if-none-match": tags})
        assert (again.status, again.body) == (304, b""), tags
        assert header(again, "ETag") == etag
    assert (await get(sim, path, {"if-none-match": '"other"'})).status == 200
    # If-Modified-Since: the Last-Modified itself or later is 304; a second earlier is 200.
    modified = header(response, "Last-Modified")
    when = datetime.strptime(modified, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert (await get(sim, path, {"if-modified-since": modified})).status == 304
    later = format_datetime(when + timedelta(days=1), usegmt=True)
    assert (await get(sim, path, {"if-modified-since": later})).status == 304
    earlier = format_datetime(when - timedelta(seconds=1), usegmt=True)
    assert (await get(sim, path, {"if-modified-since": earlier})).status == 200
    for garbage in ("", "yesterday", "Mon, 99 Foo 2026 25:61:61 GMT", "\x00" * 50):
        assert (await get(sim, path, {"if-modified-since": garbage})).status == 200
    # If-None-Match decides when both are sent (RFC 9110 13.2.2).
    both = {"if-none-match": '"other"', "if-modified-since": later}
    assert (await get(sim, path, both)).status == 200
    head = await get(sim, path, method="HEAD")
    assert (head.status, head.body, header(head, "ETag")) == (200, b"", etag)


async def test_stop_and_new_link_end_the_old_address(sim: Simulator) -> None:
    olena = await member(sim, "Olena")
    _document, offer = await calendar(sim, olena)
    first = path_in(offer)
    assert (await get(sim, first)).status == 200

    await sim.press(olena, offer, "Stop the link")
    stopped = await get(sim, first)
    unknown = await get(sim, "/calendar/" + "A" * 43 + ".ics")
    assert stopped == unknown  # nothing tells a stopped link from one that never was
    assert stopped.status == 404 and stopped.body == b"Not found\n"
    # /calendar does not make a link behind the person's back after they stopped it.
    _document, offer = await calendar(sim, olena)
    assert not LINK.findall(offer.text) and "Stop the link" not in str(offer.reply_markup)

    await sim.press(olena, offer, "New link")  # the message is edited in place
    second = path_in(sim.last(olena.id))
    assert second != first
    assert (await get(sim, second)).status == 200
    assert (await get(sim, first)).status == 404

    # A link shown once is not shown again; "New link" replaces it.
    _document, offer = await calendar(sim, olena)
    assert not LINK.findall(offer.text)
    await sim.press(olena, offer, "New link")
    third = path_in(sim.last(olena.id))
    assert (await get(sim, third)).status == 200
    assert (await get(sim, second)).status == 404


async def test_an_edited_deadline_changes_the_feed(sim: Simulator) -> None:
    olena = await member(sim, "Olena")
    _document, offer = await calendar(sim, olena)
    path = path_in(offer)
    before = await get(sim, path)
    etag, modified = header(before, "ETag"), header(before, "Last-Modified")

    sim.clock.advance(timedelta(hours=2))
    moderator = sim.telegram.users[MODERATOR_ID]
    await sim.dm(moderator, "/deadline edit sitrep")
    await sim.press(moderator, sim.last(MODERATOR_ID), "Title")
    await sim.dm(moderator, "SitRep inputs for the bulletin")
    await sim.press(moderator, sim.last(MODERATOR_ID), "Save")

    after = await get(sim, path, {"if-none-match": etag})
    assert after.status == 200
    assert header(after, "ETag") != etag
    assert "SitRep inputs for the bulletin" in events(after.body)
    assert "SitRep inputs" not in events(after.body)
    # Two hours later, to the second.
    changed = datetime.strptime(header(after, "Last-Modified"), "%a, %d %b %Y %H:%M:%S GMT")
    previous = datetime.strptime(modified, "%a, %d %b %Y %H:%M:%S GMT")
    assert changed - previous >= timedelta(hours=2)
    assert (await get(sim, path, {"if-modified-since": modified})).status == 200


async def test_secrets_are_not_kept_nor_derivable_and_buttons_are_the_owners(
    sim: Simulator,
) -> None:
    olena, petro = await member(sim, "Olena"), await member(sim, "Petro")
    olena_path = path_in((await calendar(sim, olena))[1])
    petro_offer = (await calendar(sim, petro))[1]
    petro_path = path_in(petro_offer)
    secrets = {p.removeprefix("/calendar/").removesuffix(".ics") for p in (olena_path, petro_path)}
    assert len(secrets) == 2 and all(re.fullmatch(r"[A-Za-z0-9_-]{43}", s) for s in secrets)
    with sim.services.db.transaction() as session:
        rows = session.scalars(select(CalendarFeed)).all()
        stored = {(r.user_id, r.secret_sha256) for r in rows}
    assert stored == {
        (olena.id, hashlib.sha256(olena_path[10:-4].encode()).hexdigest()),
        (petro.id, hashlib.sha256(petro_path[10:-4].encode()).hexdigest()),
    }
    assert not any(s in repr(stored) for s in secrets)
    # Guesses from what is known about a person, and the digest itself, find nothing.
    for guess in (
        str(olena.id) * 3,
        f"user-{olena.id}-calendar",
        hashlib.sha256(str(olena.id).encode()).hexdigest(),
        hashlib.sha256(olena_path[10:-4].encode()).hexdigest(),
        olena_path[10:-5] + ("A" if olena_path[-5] != "A" else "B"),
    ):
        assert (await get(sim, f"/calendar/{guess}.ics")).status == 404, guess
    # Not shapes the route accepts at all (the server answers 404 without calling it).
    for path in ("/calendar/short.ics", "/calendar/" + "a" * 101 + ".ics", olena_path + "x"):
        assert re.fullmatch(FEED.pattern, path) is None

    # Petro's buttons, forged with Olena's id or pressed in another chat, change nothing.
    for data in (f"cfeed:new:{olena.id}", f"cfeed:stop:{olena.id}", "cfeed:new:x", "cfeed:"):
        await sim.feed(sim.telegram.forged_press(petro.id, petro.id, petro_offer.message_id, data))
    assert (await get(sim, olena_path)).status == 200
    assert (await get(sim, petro_path)).status == 200
    await sim.feed(
        sim.telegram.forged_press(
            olena.id, petro.id, petro_offer.message_id, f"cfeed:stop:{olena.id}"
        )
    )
    assert (await get(sim, olena_path)).status == 200


async def test_forgetme_deletes_the_feed(sim: Simulator) -> None:
    olena = await member(sim, "Olena")
    path = path_in((await calendar(sim, olena))[1])
    await sim.dm(olena, "/forgetme")
    assert "calendar subscription link" in sim.last(olena.id).text
    await sim.press(olena, sim.last(olena.id), "Erase my contact data")
    assert (await get(sim, path)).status == 404
    with sim.services.db.transaction() as session:
        assert session.scalars(select(CalendarFeed)).all() == []


async def test_a_former_member_has_no_feed(sim: Simulator) -> None:
    olena = await member(sim, "Olena")
    path = path_in((await calendar(sim, olena))[1])
    await sim.leave(olena)
    assert (await get(sim, path)).status == 404
    _document, offer = await calendar(sim, olena)
    assert not LINK.findall(offer.text) and offer.reply_markup is None
    assert "members of the group" in offer.text
    # A stranger gets the file, not a link.
    stranger = sim.user("Sam", "Stranger")
    sim.telegram.started.add(stranger.id)
    _document, offer = await calendar(sim, stranger)
    assert not LINK.findall(offer.text)
    # A moderator needs no membership.
    moderator = sim.telegram.users[MODERATOR_ID]
    assert (await get(sim, path_in((await calendar(sim, moderator))[1]))).status == 200


async def test_erasure_after_the_retention_period_deletes_the_feed(sim: Simulator) -> None:
    olena = await member(sim, "Olena")
    path = path_in((await calendar(sim, olena))[1])
    await sim.leave(olena)
    await sim.advance(timedelta(days=366))  # example.yaml: retention 365d
    with sim.services.db.transaction() as session:
        assert session.scalars(select(CalendarFeed)).all() == []
    assert (await get(sim, path)).status == 404


async def test_in_the_group_only_the_file(sim: Simulator) -> None:
    olena = await member(sim, "Olena")
    mark = sim.mark()
    await sim.say(olena, "/calendar")
    reply = sim.unique_reply(mark, GROUP_ID)
    assert reply.document is not None
    assert not LINK.findall(" ".join(m.text for m in sim.since(mark)))


async def test_without_a_public_address_only_the_file(
    config: LoadedConfig, clock: FakeClock
) -> None:
    http = config.settings.http.model_copy(update={"public_url": None})
    bare = dataclasses.replace(config, settings=config.settings.model_copy(update={"http": http}))
    async with Simulator(bare, clock) as sim:
        olena = await member(sim, "Olena")
        _document, offer = await calendar(sim, olena)
        assert "public address" in offer.text and offer.reply_markup is None
        with sim.services.db.transaction() as session:
            assert session.scalars(select(CalendarFeed)).all() == []
        assert not sim.errors


def test_address_under_the_public_base() -> None:
    from moderation.calendar_feed import feed_url

    secret = "s" * 43
    for base in ("https://bot.example.org", "https://bot.example.org/"):
        assert feed_url(base, secret) == f"https://bot.example.org/calendar/{secret}.ics"
    assert feed_url("https://example.org/im/", secret) == (
        f"https://example.org/im/calendar/{secret}.ics"
    )


@given(header=st.text(max_size=80), tag=st.text(max_size=80))
def test_any_conditional_header_is_answered_never_raises(header: str, tag: str) -> None:
    from moderation.calendar_feed import etag_of, not_modified

    etag = etag_of(b"BEGIN:VCALENDAR")
    moment = datetime(2026, 11, 23, 9, 0, 0, 500_000, tzinfo=UTC)
    assert not_modified(None, header, etag, moment) in (True, False)
    # A header that neither names the current tag nor is "*" never gives a 304.
    assume("*" not in tag and etag.strip('"') not in tag)
    assert not_modified(tag, None, etag, moment) is False
