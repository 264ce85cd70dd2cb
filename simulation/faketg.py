"""An in-process fake of the Telegram Bot API, for tests, the console and benchmarks.

It fakes the transport, not the bot: PTB's real ``Application`` and ``ExtBot`` talk to it
through :class:`FakeRequest` (a ``BaseRequest``), and it answers with valid Bot API JSON.
It keeps a small model of the world (users, groups, members, invite links, messages) so
that what the bot does has the consequences Telegram would give it: restricting a member
produces a ``chat_member`` update, a single-use link stops working, a user who never
started the bot cannot be written to, malformed HTML is refused.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

from moderation.clock import Clock

JSON = dict[str, Any]

PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
    "can_react_to_messages",
)
ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)
TELEGRAM_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "span",
    "blockquote",
    "tg-emoji",
}
MAX_TEXT = 4096
MAX_ENTITIES = 100
# Telegram notifies only the first five mentions of a message (widely reported by the authors
# of mention bots; not in the Bot API documentation). The fake counts notifications that way.
NOTIFYING_MENTIONS = 5


# Telegram's one refusal for an unknown query, a second answer, or one after the answer window.
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
ANSWER_WINDOW = 15  # seconds after the press (Telegram's is about that, undocumented)


def start_payload(url: str, bot_username: str | None) -> str | None:
    """The /start payload of a link to this bot (https://t.me/<bot>?start=<payload>), else None."""
    parsed = urlsplit(url)
    if parsed.netloc.lower() not in ("t.me", "telegram.me") or not bot_username:
        return None
    if parsed.path.strip("/").lower() != bot_username.lower():
        return None
    values = parse_qs(parsed.query).get("start")
    return values[0] if values else None


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


# --------------------------------------------------------------------------- world model
@dataclass
class FakeUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def to_json(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class FakeMember:
    status: str  # creator, administrator, member, restricted, left, kicked
    permissions: dict[str, bool] = field(default_factory=dict)
    rights: dict[str, bool] = field(default_factory=dict)
    until_date: int = 0

    @property
    def present(self) -> bool:
        return self.status in ("creator", "administrator", "member", "restricted")


@dataclass
class FakeGroup:
    id: int
    title: str
    members: dict[int, FakeMember] = field(default_factory=dict)
    join_requests: set[int] = field(default_factory=set)
    # A forum supergroup has topics: thread id (the id of its creation message) → name.
    is_forum: bool = False
    topics: dict[int, str] = field(default_factory=dict)
    # Channels banned from posting (banChatSenderChat), and the linked discussion channel.
    banned_senders: set[int] = field(default_factory=set)
    linked_chat_id: int | None = None

    def to_json(self) -> JSON:
        data: JSON = {"id": self.id, "type": "supergroup", "title": self.title}
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class FakeChannel:
    id: int
    title: str
    username: str | None = None

    def to_json(self) -> JSON:
        data: JSON = {"id": self.id, "type": "channel", "title": self.title}
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class FakeLink:
    url: str
    chat_id: int
    creator_id: int
    name: str | None = None
    member_limit: int | None = None
    expire_date: int | None = None
    creates_join_request: bool = False
    revoked: bool = False
    uses: int = 0

    def to_json(self, creator: JSON) -> JSON:
        data: JSON = {
            "invite_link": self.url,
            "creator": creator,
            "is_primary": False,
            "is_revoked": self.revoked,
            "creates_join_request": self.creates_join_request,
        }
        for key in ("name", "member_limit", "expire_date"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


# Invisible characters a reader does not see: the isolates the bot puts around values.
_READER = {ord(c): None for c in "\u2066\u2067\u2068\u2069"}


@dataclass
class SentMessage:
    chat_id: int
    message_id: int
    from_id: int
    raw_text: str  # plain text as Telegram holds it, direction isolates included
    html: str = ""
    reply_markup: JSON | None = None
    reply_to: int | None = None
    date: int = 0
    mentions: list[int] = field(default_factory=list)  # user ids mentioned by tg://user links
    usernames: list[str] = field(default_factory=list)  # @usernames Telegram made mentions of
    entities: int = 0  # entities Telegram kept (at most 100)
    mention_entities: int = 0  # of those, mentions (@username or a tg://user link)
    # Whom Telegram notified: the first NOTIFYING_MENTIONS mentions of a group message (the
    # rest show as mentions and notify nobody), or the person a private message is sent to.
    notified: list[int] = field(default_factory=list)
    document: tuple[str, bytes] | None = None
    deleted: bool = False
    edited: bool = False
    thread_id: int | None = None  # the forum topic it is in (None: General or no topics)
    sender_chat_id: int | None = None  # sent as a channel, or as the group (anonymous admin)
    service: bool = False  # a service message (someone joined or left, a topic was renamed)
    topic_created: str | None = None  # a topic's creation service message: the topic's name

    @property
    def text(self) -> str:
        """The text as a person reads it: the invisible direction isolates left out."""
        return self.raw_text.translate(_READER)

    @text.setter
    def text(self, value: str) -> None:
        self.raw_text = value

    def buttons(self) -> list[JSON]:
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup.get("inline_keyboard", []) for b in row]


def _typed_entities(text: str) -> list[JSON]:
    """The entities Telegram adds to what a user types: a leading command, @mentions, links."""
    entities: list[JSON] = []
    if text.startswith("/"):
        entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
    for found in re.finditer(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}", text):
        entities.append(
            {
                "type": "mention",
                "offset": _utf16_len(text[: found.start()]),
                "length": _utf16_len(found.group()),
            }
        )
    for found in re.finditer(r"\b(?:https?://|www\.|t\.me/)\S+", text):
        entities.append(
            {
                "type": "url",
                "offset": _utf16_len(text[: found.start()]),
                "length": _utf16_len(found.group()),
            }
        )
    return entities


@dataclass(frozen=True)
class ApiCall:
    method: str
    params: JSON


# Telegram turns "@username" in a message's text into a mention entity by itself.
_USERNAME = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{4,31})(?![\w])")


@dataclass(frozen=True)
class Entity:
    offset: int  # in characters of the plain text
    kind: str  # the HTML tag, or "mention" for an @username Telegram detected
    user_id: int | None = None  # tg://user?id= links
    username: str | None = None


@dataclass(frozen=True)
class Parsed:
    """A message as Telegram would store it: its plain text and its entities (at most 100)."""

    text: str
    entities: list[Entity]
    ignored: int  # entities past the hundredth, which Telegram drops

    @property
    def mentions(self) -> list[int]:
        return [e.user_id for e in self.entities if e.user_id is not None]

    @property
    def usernames(self) -> list[str]:
        return [e.username for e in self.entities if e.username is not None]


class _TelegramHTML(HTMLParser):
    """Checks HTML the way Telegram does (only its tags, balanced) and extracts plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.length = 0
        self.found: list[Entity] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            raise ApiError(400, f"Bad Request: can't parse entities: unsupported start tag {tag!r}")
        self.stack.append(tag)
        user_id = None
        if tag == "a":
            href = dict(attrs).get("href") or ""
            found = re.fullmatch(r"tg://user\?id=(\d+)", href)
            if found:
                user_id = int(found.group(1))
        self.found.append(Entity(self.length, tag, user_id=user_id))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise ApiError(400, f"Bad Request: can't parse entities: unexpected end tag {tag!r}")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not {"a", "code", "pre"} & set(self.stack):
            self.found += _usernames(data, self.length)
        self.text.append(data)
        self.length += len(data)


def _usernames(text: str, base: int = 0) -> list[Entity]:
    return [
        Entity(base + m.start(), "mention", username=m.group(1)) for m in _USERNAME.finditer(text)
    ]


def _capped(text: str, found: list[Entity]) -> Parsed:
    # Telegram ignores entities past the hundredth (in the order they appear).
    ordered = sorted(found, key=lambda e: e.offset)
    return Parsed(text, ordered[:MAX_ENTITIES], max(0, len(ordered) - MAX_ENTITIES))


_RAW_LT = re.compile(
    r"<(?!/?(?:" + "|".join(sorted(TELEGRAM_TAGS, key=len, reverse=True)) + r")[\s>/])"
)
_RAW_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


def parse_message(text: str, parse_mode: object = None) -> Parsed:
    """What Telegram makes of a message: plain text and entities, or ApiError(400)."""
    if parse_mode != "HTML":
        return _capped(text, _usernames(text))
    if _RAW_LT.search(text) or _RAW_AMP.search(text):
        raise ApiError(400, "Bad Request: can't parse entities: unescaped '<' or '&'")
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise ApiError(400, f"Bad Request: can't parse entities: unclosed tag {parser.stack[-1]!r}")
    return _capped("".join(parser.text), parser.found)


def parse_html(text: str) -> tuple[str, list[int]]:
    """Plain text and mentioned user ids of a Telegram-HTML message, or ApiError(400)."""
    parsed = parse_message(text, "HTML")
    return parsed.text, parsed.mentions


# --------------------------------------------------------------------------- the fake API
class FakeTelegram:
    def __init__(self, clock: Clock, bot_username: str = "imbot") -> None:
        self.clock = clock
        self.bot = FakeUser(id=777000111, first_name="IM bot", username=bot_username, is_bot=True)
        # The placeholder senders Telegram puts in ``from`` of posts sent as a chat.
        self.channel_bot = FakeUser(136817688, "Channel", username="Channel_Bot", is_bot=True)
        self.anonymous_bot = FakeUser(
            1087968824, "Group", username="GroupAnonymousBot", is_bot=True
        )
        self.users: dict[int, FakeUser] = {
            u.id: u for u in (self.bot, self.channel_bot, self.anonymous_bot)
        }
        self.channels: dict[int, FakeChannel] = {}
        self._channel_ids = itertools.count(-1002000000001, -1)
        self.groups: dict[int, FakeGroup] = {}
        self.started: set[int] = set()  # users with a private chat with the bot
        self.blocked: set[int] = set()
        # (user id, chat id, message id) for every notification Telegram would have shown.
        self.notifications: list[tuple[int, int, int]] = []
        self.links: dict[str, FakeLink] = {}
        self.messages: dict[tuple[int, int], SentMessage] = {}
        self.calls: list[ApiCall] = []
        self.pending: deque[JSON] = deque()  # updates Telegram would send because of bot calls
        # Callback queries: id → when it was pressed (Unix seconds), and those already answered.
        # Telegram accepts one answer per query, within ANSWER_WINDOW seconds of the press.
        self.queries: dict[str, int] = {}
        self.query_users: dict[str, int] = {}  # query id → who pressed
        # Links the bot opened by answering a press with ``url`` (presser, url), in order.
        self.opened_links: list[tuple[int, str]] = []
        self.answered_queries: set[str] = set()
        self.commands: dict[str, list[JSON]] = {}
        # setChatMenuButton: chat id (0: the default for every chat) → the button as sent.
        self.menu_buttons: dict[int, JSON] = {}
        self._failures: dict[str, list[ApiError]] = {}
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._user_ids = itertools.count(100001)
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id → (file_path, content)
        # A self-hosted Bot API server started with --local: getFile writes the file into this
        # folder and answers its absolute path (the bot reads it from disk, no download).
        self.local_files: Path | None = None
        self.local_files_shared = True  # False: the folder is on another machine's disk
        self.flood: FloodLimits | None = None  # Telegram's flood limits, when enforced
        # Simulated network round trip per Bot API call (seconds of real time, half on the
        # way there, half on the way back; 0: answered at once). With it, calls overlap.
        self.latency = 0.0
        # Jittered, lopsided latency instead: each call waits a uniform draw from ``jitter[0]``
        # (seconds, on its way) and from ``jitter[1]`` (the answer on its way back).
        self.jitter: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.jitter_rng = random.Random(7)
        self.in_flight: Counter[str] = Counter()  # calls under way now, per method
        self.most_in_flight: Counter[str] = Counter()  # the most ever under way at once

    # ---- world set-up ------------------------------------------------------------------
    def add_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        user_id: int | None = None,
    ) -> FakeUser:
        user = FakeUser(
            user_id or next(self._user_ids), first_name, last_name, username, language_code
        )
        self.users[user.id] = user
        return user

    def add_group(
        self, chat_id: int, title: str, bot_admin: bool = True, forum: bool = False
    ) -> FakeGroup:
        group = FakeGroup(chat_id, title, is_forum=forum)
        group.members[self.bot.id] = (
            FakeMember("administrator", rights=dict.fromkeys(ADMIN_RIGHTS, True))
            if bot_admin
            else FakeMember("member")
        )
        self.groups[chat_id] = group
        return group

    def fail_next(
        self, method: str, code: int, description: str, retry_after: int | None = None
    ) -> None:
        """Make the next call of ``method`` fail as Telegram would."""
        self._failures.setdefault(method, []).append(ApiError(code, description, retry_after))

    def enforce_flood_limits(
        self,
        per_second: int = 30,
        per_group_minute: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> FloodLimits:
        """Answer 429 with ``retry_after`` beyond Telegram's limits (messages sent by the bot:
        ``per_second`` overall, ``per_group_minute`` in one group), as Telegram does."""
        self.flood = FloodLimits(per_second, per_group_minute, clock)
        return self.flood

    def request(self) -> FakeRequest:
        return FakeRequest(self)

    # ---- JSON helpers ------------------------------------------------------------------
    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def chat_json(self, chat_id: int) -> JSON:
        if chat_id in self.groups:
            return self.groups[chat_id].to_json()
        user = self.users[chat_id]
        data: JSON = {"id": chat_id, "type": "private", "first_name": user.first_name}
        if user.username:
            data["username"] = user.username
        return data

    def _lift_expired(self, group: FakeGroup, user_id: int) -> None:
        """Telegram ends a restriction or ban by itself at its ``until_date`` (no update sent)."""
        member = group.members.get(user_id)
        if member is None or not member.until_date or member.until_date > self._now():
            return
        if member.status == "restricted":
            group.members[user_id] = FakeMember("member")
        elif member.status == "kicked":
            group.members[user_id] = FakeMember("left")

    def member_json(self, chat_id: int, user_id: int) -> JSON:
        group = self.groups[chat_id]
        self._lift_expired(group, user_id)
        member = group.members.get(user_id, FakeMember("left"))
        data: JSON = {"status": member.status, "user": self.users[user_id].to_json()}
        if member.status == "restricted":
            data.update({p: member.permissions.get(p, False) for p in PERMISSIONS})
            data["is_member"] = True
            data["until_date"] = member.until_date
        elif member.status == "administrator":
            data.update({r: member.rights.get(r, False) for r in ADMIN_RIGHTS})
            data.update(can_be_edited=False, is_anonymous=False)
        elif member.status == "creator":
            data["is_anonymous"] = False
        elif member.status == "kicked":
            data["until_date"] = member.until_date
        return data

    def _update(self, **payload: Any) -> JSON:
        return {"update_id": next(self._update_ids), **payload}

    def _set_member(
        self,
        chat_id: int,
        user_id: int,
        member: FakeMember,
        actor_id: int,
        link: FakeLink | None = None,
        via_request: bool = False,
    ) -> JSON:
        """Change a member's status; returns the chat_member update Telegram would send."""
        group = self.groups[chat_id]
        old = self.member_json(chat_id, user_id)
        group.members[user_id] = member
        change: JSON = {
            "chat": group.to_json(),
            "from": self.users[actor_id].to_json(),
            "date": self._now(),
            "old_chat_member": old,
            "new_chat_member": self.member_json(chat_id, user_id),
        }
        if link is not None:
            change["invite_link"] = link.to_json(self.users[link.creator_id].to_json())
        if via_request:
            change["via_join_request"] = True
        kind = "my_chat_member" if user_id == self.bot.id else "chat_member"
        return self._update(**{kind: change})

    def bot_is_admin(self, chat_id: int) -> bool:
        member = self.groups[chat_id].members.get(self.bot.id)
        return member is not None and member.status in ("administrator", "creator")

    def _bot_can(self, chat_id: int, right: str) -> bool:
        member = self.groups[chat_id].members.get(self.bot.id)
        return member is not None and (
            member.status == "creator"
            or (member.status == "administrator" and member.rights.get(right, False))
        )

    def _chat_member_visible(self, update: JSON, chat_id: int) -> list[JSON]:
        # chat_member updates reach only bots that are admins of the chat.
        return [update] if "my_chat_member" in update or self.bot_is_admin(chat_id) else []

    # ---- what users do (these return the updates Telegram would send the bot) ---------
    def create_topic(self, user_id: int, chat_id: int, name: str) -> tuple[int, JSON]:
        """A member creates a topic in a forum group: its id, and the service message update."""
        group = self.groups[chat_id]
        if not group.is_forum:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        thread = self._next_message_id(chat_id)
        group.topics[thread] = name
        created = SentMessage(
            chat_id, thread, user_id, "", date=self._now(), thread_id=thread, topic_created=name
        )
        self.messages[(chat_id, thread)] = created
        return thread, self._update(message=self._message_json(created))

    def rename_topic(self, user_id: int, chat_id: int, thread: int, name: str) -> JSON:
        """A topic is renamed: Telegram posts a forum_topic_edited service message in it."""
        group = self.groups[chat_id]
        if thread not in group.topics:
            raise ApiError(400, "Bad Request: message thread not found")
        group.topics[thread] = name
        return self._service_message(
            chat_id,
            user_id,
            message_thread_id=thread,
            is_topic_message=True,
            forum_topic_edited={"name": name},
        )

    def add_channel(self, title: str, username: str | None = None) -> FakeChannel:
        channel = FakeChannel(next(self._channel_ids), title, username)
        self.channels[channel.id] = channel
        return channel

    def channel_post(
        self,
        channel_id: int,
        chat_id: int,
        text: str,
        thread: int | None = None,
        automatic_forward: bool = False,
        reply_to: int | None = None,
    ) -> JSON:
        """A post sent as a channel in a group (``sender_chat``; ``from`` is Channel_Bot), or
        the linked channel's post forwarded automatically to its discussion group."""
        group = self.groups[chat_id]
        if channel_id in group.banned_senders:
            raise ApiError(403, "CHAT_WRITE_FORBIDDEN: you can't write in this chat")
        extra: JSON = {"sender_chat": self.channels[channel_id].to_json()}
        if automatic_forward:
            extra["is_automatic_forward"] = True
        return self._sender_chat_message(
            self.channel_bot.id, channel_id, chat_id, text, thread, reply_to, extra
        )

    def anonymous_admin_post(self, chat_id: int, text: str, thread: int | None = None) -> JSON:
        """An admin posting anonymously: ``sender_chat`` is the group itself."""
        extra: JSON = {"sender_chat": self.groups[chat_id].to_json()}
        return self._sender_chat_message(
            self.anonymous_bot.id, chat_id, chat_id, text, thread, None, extra
        )

    def _sender_chat_message(
        self,
        from_id: int,
        sender_id: int,
        chat_id: int,
        text: str,
        thread: int | None,
        reply_to: int | None,
        extra: JSON,
    ) -> JSON:
        update = self.message(from_id, chat_id, text, reply_to, thread, **extra)
        message_id = int(update["message"]["message_id"])
        self.messages[(chat_id, message_id)].sender_chat_id = sender_id
        return update

    def _check_thread(self, chat_id: int, thread: object) -> int | None:
        """What Telegram checks of a ``message_thread_id``: a topic of a forum that exists."""
        if thread is None:
            return None
        group = self.groups.get(chat_id)
        if group is None or not group.is_forum or int(str(thread)) not in group.topics:
            raise ApiError(400, "Bad Request: message thread not found")
        return int(str(thread))

    def message(
        self,
        user_id: int,
        chat_id: int,
        text: str,
        reply_to: int | None = None,
        thread: int | None = None,
        **extra: Any,
    ) -> JSON:
        """``thread``: the forum topic it is written in (None: General or a plain group)."""
        if chat_id == user_id:
            self.started.add(user_id)
        self._check_can_write(user_id, chat_id)
        self._check_thread(chat_id, thread)
        message_id = self._next_message_id(chat_id)
        msg: JSON = {
            "message_id": message_id,
            "date": self._now(),
            "chat": self.chat_json(chat_id),
            "from": self.users[user_id].to_json(),
            "text": text,
            **extra,
        }
        entities = _typed_entities(text)
        if entities:
            msg["entities"] = entities
        if thread is not None:
            msg.update(message_thread_id=thread, is_topic_message=True)
            # A message in a topic that answers nothing else "replies" to the topic's creation.
            if reply_to is None:
                msg["reply_to_message"] = self._message_json(self.messages[(chat_id, thread)])
        if reply_to is not None:
            original = self.messages.get((chat_id, reply_to))
            if original is not None:
                msg["reply_to_message"] = self._message_json(original)
        self.messages[(chat_id, message_id)] = SentMessage(
            chat_id,
            message_id,
            user_id,
            text,
            html=text,
            reply_to=reply_to,
            date=self._now(),
            thread_id=thread,
        )
        return self._update(message=msg)

    def edit(self, sent: JSON, text: str) -> JSON:
        """The author edits a message they sent: Telegram sends ``edited_message``, same id."""
        original = sent.get("message") or sent["edited_message"]
        key = (int(original["chat"]["id"]), int(original["message_id"]))
        stored = self.messages.get(key)
        if stored is None or stored.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        msg: JSON = {k: v for k, v in original.items() if k != "entities"}
        msg.update(text=text, edit_date=self._now())
        entities = _typed_entities(text)
        if entities:
            msg["entities"] = entities
        stored.text, stored.html, stored.edited = text, text, True
        return self._update(edited_message=msg)

    def _check_can_write(self, user_id: int, chat_id: int) -> None:
        """A muted or banned member's app does not let them post (Telegram refuses it)."""
        group = self.groups.get(chat_id)
        if group is None:
            return
        self._lift_expired(group, user_id)
        member = group.members.get(user_id)
        if member is None:
            return
        if member.status == "kicked" or (
            member.status == "restricted" and not member.permissions.get("can_send_messages")
        ):
            raise ApiError(403, "CHAT_WRITE_FORBIDDEN: you can't write in this chat")

    def photo(
        self, user_id: int, chat_id: int, caption: str = "", album: str | None = None
    ) -> JSON:
        """A user sends a photo (optionally part of an album: ``media_group_id``)."""
        file_id = secrets.token_hex(8)
        extra: JSON = {
            "photo": [
                {"file_id": file_id, "file_unique_id": file_id[:8], "width": 90, "height": 90}
            ]
        }
        if caption:
            extra["caption"] = caption
        if album:
            extra["media_group_id"] = album
        update = self.message(user_id, chat_id, caption, **extra)
        del update["message"]["text"]
        update["message"].pop("entities", None)
        return update

    def document(self, user_id: int, chat_id: int, filename: str, content: bytes) -> JSON:
        """A user sends a file; the bot can fetch it with getFile and a download."""
        file_id = secrets.token_hex(8)
        self.files[file_id] = (f"documents/{file_id}_{filename}", content)
        document = {
            "file_id": file_id,
            "file_unique_id": file_id[:8],
            "file_name": filename,
            "mime_type": "text/csv",
            "file_size": len(content),
        }
        update = self.message(user_id, chat_id, "", document=document)
        del update["message"]["text"]
        return update

    def join(
        self, user_id: int, chat_id: int, link_url: str | None = None, added_by: int | None = None
    ) -> list[JSON]:
        group = self.groups[chat_id]
        link = None
        if link_url is not None:
            link = self.links.get(link_url)
            if link is None or link.chat_id != chat_id or link.revoked:
                raise ApiError(400, "INVITE_HASH_INVALID: the link is not valid")
            if link.expire_date is not None and link.expire_date <= self._now():
                raise ApiError(400, "INVITE_HASH_EXPIRED: the link has expired")
            if link.member_limit is not None and link.uses >= link.member_limit:
                raise ApiError(400, "USERS_TOO_MUCH: the link was already used")
            if link.creates_join_request:
                return self.request_join(user_id, chat_id, link_url)
        current = group.members.get(user_id)
        if current is not None and current.present:
            raise ApiError(400, "USER_ALREADY_PARTICIPANT")
        if added_by is not None and not group.members.get(added_by, FakeMember("left")).present:
            raise ApiError(400, "only members of the group can add people to it")
        if current is not None and current.status == "kicked":
            raise ApiError(403, "USER_BANNED_IN_CHANNEL")
        if link is not None:
            link.uses += 1
        actor = added_by or user_id
        update = self._set_member(chat_id, user_id, FakeMember("member"), actor, link)
        service = self._service_message(
            chat_id, actor, new_chat_members=[self.users[user_id].to_json()]
        )
        return [*self._chat_member_visible(update, chat_id), service]

    def leave(self, user_id: int, chat_id: int) -> list[JSON]:
        update = self._set_member(chat_id, user_id, FakeMember("left"), user_id)
        service = self._service_message(
            chat_id, user_id, left_chat_member=self.users[user_id].to_json()
        )
        return [*self._chat_member_visible(update, chat_id), service]

    def request_join(self, user_id: int, chat_id: int, link_url: str | None = None) -> list[JSON]:
        group = self.groups[chat_id]
        group.join_requests.add(user_id)
        request: JSON = {
            "chat": group.to_json(),
            "from": self.users[user_id].to_json(),
            "user_chat_id": user_id,
            "date": self._now(),
        }
        link = self.links.get(link_url or "")
        if link is not None:
            request["invite_link"] = link.to_json(self.users[link.creator_id].to_json())
        return [self._update(chat_join_request=request)]

    def press(self, user_id: int, chat_id: int, message_id: int, data: str) -> JSON:
        message = self.messages[(chat_id, message_id)]
        if data not in [b.get("callback_data") for b in message.buttons()]:
            raise ApiError(400, f"no button with data {data!r} on that message")
        return self._callback(user_id, chat_id, message, data)

    def _callback(self, user_id: int, chat_id: int, message: SentMessage, data: str) -> JSON:
        return self._update(
            callback_query={
                "id": self._query_id(user_id),
                "from": self.users[user_id].to_json(),
                "chat_instance": str(chat_id),
                "data": data,
                "message": self._message_json(message),
            }
        )

    def _query_id(self, user_id: int) -> str:
        query_id = secrets.token_hex(8)
        self.queries[query_id] = self._now()
        self.query_users[query_id] = user_id
        return query_id

    def forged_press(self, user_id: int, chat_id: int, message_id: int, data: str) -> JSON:
        """A callback with data that was never on the message (a hostile client)."""
        return self._callback(user_id, chat_id, self.messages[(chat_id, message_id)], data)

    def block_bot(self, user_id: int) -> JSON:
        self.blocked.add(user_id)
        return self._private_status(user_id, "member", "kicked")

    def set_bot_status(self, chat_id: int, status: str) -> JSON:
        rights = dict.fromkeys(ADMIN_RIGHTS, True) if status == "administrator" else {}
        return self._set_member(
            chat_id, self.bot.id, FakeMember(status, rights=rights), next(iter(self.users))
        )

    def _private_status(self, user_id: int, old: str, new: str) -> JSON:
        user = self.users[user_id]
        return self._update(
            my_chat_member={
                "chat": self.chat_json(user_id),
                "from": user.to_json(),
                "date": self._now(),
                "old_chat_member": {"status": old, "user": self.bot.to_json()},
                "new_chat_member": {"status": new, "user": self.bot.to_json(), "until_date": 0}
                if new == "kicked"
                else {"status": new, "user": self.bot.to_json()},
            }
        )

    def _service_message(self, chat_id: int, actor_id: int, **payload: Any) -> JSON:
        message_id = self._next_message_id(chat_id)
        # Kept, so that it can be deleted (a service message has no text).
        self.messages[(chat_id, message_id)] = SentMessage(
            chat_id,
            message_id,
            actor_id,
            "",
            date=self._now(),
            thread_id=payload.get("message_thread_id"),
            service=True,
        )
        return self._update(
            message={
                "message_id": message_id,
                "date": self._now(),
                "chat": self.chat_json(chat_id),
                "from": self.users[actor_id].to_json(),
                **payload,
            }
        )

    def _message_json(self, message: SentMessage) -> JSON:
        data: JSON = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self.chat_json(message.chat_id),
            "from": self.users[message.from_id].to_json(),
        }
        if message.topic_created is not None:
            data["forum_topic_created"] = {"name": message.topic_created, "icon_color": 7322096}
        elif not message.service:
            data["text"] = message.raw_text
        if message.thread_id is not None:
            data.update(message_thread_id=message.thread_id, is_topic_message=True)
        if message.sender_chat_id is not None:
            sender = self.channels.get(message.sender_chat_id)
            data["sender_chat"] = (
                sender.to_json() if sender else self.chat_json(message.sender_chat_id)
            )
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    # ---- queries for tests and the console ----------------------------------------------
    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages the bot sent (optionally in one chat), oldest first."""
        return [
            m
            for m in self.messages.values()
            if m.from_id == self.bot.id
            and not m.service
            and (chat_id is None or m.chat_id == chat_id)
        ]

    def calls_to(self, method: str) -> list[JSON]:
        return [c.params for c in self.calls if c.method == method]

    # ---- the Bot API ------------------------------------------------------------------
    def handle(self, method: str, params: JSON, files: dict[str, tuple[str, bytes]]) -> Any:
        self.calls.append(ApiCall(method, params))
        queued = self._failures.get(method)
        if queued:
            raise queued.pop(0)
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            raise ApiError(400, f"Bad Request: method {method} is not implemented by the fake")
        sending = self.flood is not None and method in FloodLimits.METHODS
        if sending:
            assert self.flood is not None
            self.flood.check(int(params["chat_id"]), self.groups)
        result = handler(params, files) if method == "sendDocument" else handler(params)
        if sending:
            assert self.flood is not None
            self.flood.record(int(params["chat_id"]), self.groups)
        return result

    def _group(self, params: JSON) -> FakeGroup:
        chat_id = int(params["chat_id"])
        if chat_id not in self.groups:
            raise ApiError(400, "Bad Request: chat not found")
        return self.groups[chat_id]

    def _target_chat(self, chat_id: int) -> None:
        if chat_id in self.groups:
            if not self.groups[chat_id].members.get(self.bot.id, FakeMember("left")).present:
                raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
            return
        if chat_id not in self.users:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id not in self.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")

    def api_getMe(self, params: JSON) -> JSON:
        return {
            **self.bot.to_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
        }

    def api_setMyCommands(self, params: JSON) -> bool:
        scope = json.dumps(params.get("scope", {"type": "default"}), sort_keys=True)
        language = params.get("language_code")
        self.commands[f"{scope}|{language}" if language else scope] = list(params["commands"])
        return True

    def api_setChatMenuButton(self, params: JSON) -> bool:
        button = params.get("menu_button", {"type": "default"})
        if isinstance(button, str):
            button = json.loads(button)
        self.menu_buttons[int(params.get("chat_id", 0))] = button
        return True

    def api_deleteWebhook(self, params: JSON) -> bool:
        return True

    def api_setWebhook(self, params: JSON) -> bool:
        if not str(params.get("url", "")).startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        return True

    def api_getUpdates(self, params: JSON) -> list[JSON]:
        return []

    def api_sendMessage(self, params: JSON) -> JSON:
        chat_id = int(params["chat_id"])
        self._target_chat(chat_id)
        raw = str(params.get("text", ""))
        parsed = parse_message(raw, params.get("parse_mode"))
        text = parsed.text
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        _check_markup(markup)
        reply = params.get("reply_parameters") or {}
        thread = self._thread_of_send(chat_id, params, reply)
        message = SentMessage(
            chat_id,
            self._next_message_id(chat_id),
            self.bot.id,
            text,
            html=raw,
            reply_markup=markup,
            reply_to=reply.get("message_id"),
            date=self._now(),
            mentions=parsed.mentions,
            usernames=parsed.usernames,
            entities=len(parsed.entities),
            thread_id=thread,
        )
        message.mention_entities, message.notified = self._notified(chat_id, parsed)
        self.notifications.extend((uid, chat_id, message.message_id) for uid in message.notified)
        self.messages[(chat_id, message.message_id)] = message
        return self._message_json(message)

    def _notified(self, chat_id: int, parsed: Parsed) -> tuple[int, list[int]]:
        """How many mentions a message carries, and whom Telegram notifies by it: in a private
        chat its person; in a group the members among the first NOTIFYING_MENTIONS mentions."""
        if chat_id > 0:
            return 0, [chat_id]
        by_name = {u.username.lower(): u.id for u in self.users.values() if u.username}
        mentioned: list[int | None] = []
        for entity in parsed.entities:
            if entity.user_id is not None:
                mentioned.append(entity.user_id)
            elif entity.username is not None:
                mentioned.append(by_name.get(entity.username.lower()))
        group = self.groups.get(chat_id)
        notified = [
            uid
            for uid in mentioned[:NOTIFYING_MENTIONS]
            if uid is not None
            and (group is None or group.members.get(uid, FakeMember("left")).present)
        ]
        return len(mentioned), list(dict.fromkeys(notified))

    def notified_users(self, chat_id: int | None = None) -> Counter[int]:
        """How many times each person was notified (in ``chat_id`` only, when given)."""
        return Counter(u for u, c, _m in self.notifications if chat_id is None or c == chat_id)

    def _thread_of_send(self, chat_id: int, params: JSON, reply: JSON) -> int | None:
        """The topic a sent message lands in: ``message_thread_id`` (checked), else the topic
        of the message it replies to, else General."""
        thread = self._check_thread(chat_id, params.get("message_thread_id"))
        if thread is None and reply.get("message_id") is not None:
            original = self.messages.get((chat_id, int(reply["message_id"])))
            if original is not None and not original.deleted:
                thread = original.thread_id
        return thread

    def api_getChat(self, params: JSON) -> JSON:
        chat_id = int(params["chat_id"])
        self._target_chat(chat_id)
        data = self.chat_json(chat_id)
        data["accent_color_id"] = 0
        data["max_reaction_count"] = 11
        return data

    def api_sendDocument(self, params: JSON, files: dict[str, tuple[str, bytes]]) -> JSON:
        chat_id = int(params["chat_id"])
        self._target_chat(chat_id)
        document = files.get("document")
        if document is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption = str(params.get("caption", ""))
        text = parse_html(caption)[0] if params.get("parse_mode") == "HTML" else caption
        thread = self._thread_of_send(chat_id, params, params.get("reply_parameters") or {})
        message = SentMessage(
            chat_id,
            self._next_message_id(chat_id),
            self.bot.id,
            text,
            html=caption,
            date=self._now(),
            document=document,
            thread_id=thread,
        )
        self.messages[(chat_id, message.message_id)] = message
        data = self._message_json(message)
        data["document"] = {
            "file_id": secrets.token_hex(8),
            "file_unique_id": secrets.token_hex(4),
            "file_name": document[0],
        }
        return data

    def _existing_message(self, params: JSON) -> SentMessage:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def api_editMessageText(self, params: JSON) -> JSON:
        message = self._existing_message(params)
        raw = str(params["text"])
        parsed = parse_message(raw, params.get("parse_mode"))
        if len(parsed.text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        _check_markup(params.get("reply_markup"))
        message.text, message.html, message.mentions = parsed.text, raw, parsed.mentions
        message.usernames, message.entities = parsed.usernames, len(parsed.entities)
        message.reply_markup = params.get("reply_markup")
        message.edited = True
        return self._message_json(message)

    def api_editMessageReplyMarkup(self, params: JSON) -> JSON:
        message = self._existing_message(params)
        _check_markup(params.get("reply_markup"))
        message.reply_markup = params.get("reply_markup")
        return self._message_json(message)

    def api_deleteMessage(self, params: JSON) -> bool:
        message = self.messages.get((int(params["chat_id"]), int(params["message_id"])))
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        if (
            message.from_id != self.bot.id
            and message.chat_id in self.groups
            and not self._bot_can(message.chat_id, "can_delete_messages")
        ):
            raise ApiError(400, "Bad Request: message can't be deleted")
        if message.chat_id in self.groups and self._now() - message.date >= 48 * 3600:
            # Bots may delete messages (their own too) only while they are under 48 h old.
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        message.deleted = True
        return True

    def api_getFile(self, params: JSON) -> JSON:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        if self.local_files is not None:
            local = self.local_files.resolve() / path
            if self.local_files_shared:
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(content)
            path = str(local)
        return {
            "file_id": file_id,
            "file_unique_id": file_id[:8],
            "file_size": len(content),
            "file_path": path,
        }

    def download(self, url: str) -> bytes:
        for path, content in self.files.values():
            if url.endswith("/" + path):
                return content
        raise ApiError(404, "Not Found")

    def api_answerCallbackQuery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id"))
        pressed = self.queries.get(query_id)
        if (
            pressed is None
            or query_id in self.answered_queries
            or self._now() - pressed > ANSWER_WINDOW
        ):
            raise ApiError(400, QUERY_TOO_OLD)
        url = params.get("url")
        payload = None if url is None else start_payload(str(url), self.bot.username)
        if url is not None and payload is None:
            # Outside games, Telegram opens only links to the bot itself: t.me/<bot>?start=…
            raise ApiError(400, "Bad Request: URL_INVALID")
        self.answered_queries.add(query_id)
        if payload is not None:
            user_id = self.query_users[query_id]
            self.opened_links.append((user_id, str(url)))
            # The client opens the private chat with the bot, which sends /start <payload>.
            self.pending.append(self.message(user_id, user_id, f"/start {payload}"))
        return True

    def api_getChatMember(self, params: JSON) -> JSON:
        group = self._group(params)
        user_id = int(params["user_id"])
        if user_id not in self.users:
            raise ApiError(400, "Bad Request: user not found")
        return self.member_json(group.id, user_id)

    def api_getChatAdministrators(self, params: JSON) -> list[JSON]:
        group = self._group(params)
        return [
            self.member_json(group.id, uid)
            for uid, m in group.members.items()
            if m.status in ("creator", "administrator")
        ]

    def api_createChatInviteLink(self, params: JSON) -> JSON:
        group = self._group(params)
        if not self._bot_can(group.id, "can_invite_users"):
            raise ApiError(400, "Bad Request: not enough rights to manage chat invite link")
        if params.get("member_limit") and params.get("creates_join_request"):
            raise ApiError(400, "Bad Request: can't combine member_limit with join requests")
        name = params.get("name")
        if name is not None and len(str(name)) > 32:
            raise ApiError(400, "Bad Request: invite link name is too long")
        link = FakeLink(
            url=f"https://t.me/+{secrets.token_urlsafe(12)}",
            chat_id=group.id,
            creator_id=self.bot.id,
            name=name,
            member_limit=params.get("member_limit"),
            expire_date=params.get("expire_date"),
            creates_join_request=bool(params.get("creates_join_request")),
        )
        self.links[link.url] = link
        return link.to_json(self.bot.to_json())

    def api_revokeChatInviteLink(self, params: JSON) -> JSON:
        link = self.links.get(str(params["invite_link"]))
        if link is None:
            raise ApiError(400, "Bad Request: INVITE_HASH_INVALID")
        link.revoked = True
        return link.to_json(self.users[link.creator_id].to_json())

    def _target_member(self, params: JSON, right: str) -> tuple[FakeGroup, int, FakeMember]:
        group = self._group(params)
        user_id = int(params["user_id"])
        if not self._bot_can(group.id, right):
            raise ApiError(400, "Bad Request: not enough rights to restrict/unrestrict chat member")
        member = group.members.get(user_id, FakeMember("left"))
        if member.status == "creator":
            raise ApiError(400, "Bad Request: can't remove chat owner")
        if member.status == "administrator":
            raise ApiError(400, "Bad Request: user is an administrator of the chat")
        if user_id == self.bot.id:
            raise ApiError(400, "Bad Request: can't restrict self")
        return group, user_id, member

    def api_restrictChatMember(self, params: JSON) -> bool:
        group, user_id, member = self._target_member(params, "can_restrict_members")
        permissions = params.get("permissions") or {}
        if not member.present:
            raise ApiError(400, "Bad Request: user is not a member of the chat")
        if all(
            permissions.get(p, False)
            for p in PERMISSIONS
            if p not in ("can_edit_tag", "can_react_to_messages")
        ):
            new = FakeMember("member")  # Telegram turns a full restore back into 'member'
        else:
            new = FakeMember(
                "restricted",
                permissions=dict(permissions),
                until_date=int(params.get("until_date") or 0),
            )
        self._queue(self._set_member(group.id, user_id, new, self.bot.id), group.id)
        return True

    def api_banChatMember(self, params: JSON) -> bool:
        group, user_id, _member = self._target_member(params, "can_restrict_members")
        new = FakeMember("kicked", until_date=int(params.get("until_date") or 0))
        self._queue(self._set_member(group.id, user_id, new, self.bot.id), group.id)
        return True

    def api_unbanChatMember(self, params: JSON) -> bool:
        group, user_id, member = self._target_member(params, "can_restrict_members")
        if member.status == "kicked" or (member.present and not params.get("only_if_banned")):
            # Unbanning a present member removes them: Telegram's documented behaviour.
            self._queue(
                self._set_member(group.id, user_id, FakeMember("left"), self.bot.id), group.id
            )
        return True

    def _sender_chat(self, params: JSON) -> tuple[FakeGroup, int]:
        group = self._group(params)
        sender_id = int(params["sender_chat_id"])
        if not self._bot_can(group.id, "can_restrict_members"):
            raise ApiError(400, "Bad Request: not enough rights to restrict/unrestrict chat member")
        if sender_id not in self.channels:  # only channels can be banned as a sender
            raise ApiError(400, "Bad Request: sender_chat_id is not a channel")
        return group, sender_id

    def api_banChatSenderChat(self, params: JSON) -> bool:
        group, sender_id = self._sender_chat(params)
        group.banned_senders.add(sender_id)
        return True

    def api_unbanChatSenderChat(self, params: JSON) -> bool:
        group, sender_id = self._sender_chat(params)
        group.banned_senders.discard(sender_id)
        return True

    def api_approveChatJoinRequest(self, params: JSON) -> bool:
        group = self._group(params)
        user_id = int(params["user_id"])
        if user_id not in group.join_requests:
            raise ApiError(400, "Bad Request: HIDE_REQUESTER_MISSING")
        group.join_requests.discard(user_id)
        update = self._set_member(
            group.id, user_id, FakeMember("member"), user_id, via_request=True
        )
        self._queue(update, group.id)
        self.pending.append(
            self._service_message(
                group.id, user_id, new_chat_members=[self.users[user_id].to_json()]
            )
        )
        return True

    def api_declineChatJoinRequest(self, params: JSON) -> bool:
        group = self._group(params)
        user_id = int(params["user_id"])
        if user_id not in group.join_requests:
            raise ApiError(400, "Bad Request: HIDE_REQUESTER_MISSING")
        group.join_requests.discard(user_id)
        return True

    def api_leaveChat(self, params: JSON) -> bool:
        chat_id = int(params["chat_id"])
        if chat_id in self.groups:
            self.pending.append(
                self._set_member(chat_id, self.bot.id, FakeMember("left"), self.bot.id)
            )
        return True

    def _queue(self, update: JSON, chat_id: int) -> None:
        self.pending.extend(self._chat_member_visible(update, chat_id))


class FloodLimits:
    """Telegram's flood limits over sliding windows of real time: beyond them a send is
    refused with 429 and the seconds to wait, and nothing is delivered."""

    METHODS = frozenset({"sendMessage", "sendDocument"})

    def __init__(self, per_second: int, per_group_minute: int, clock: Callable[[], float]) -> None:
        self.per_second, self.per_group_minute, self.clock = per_second, per_group_minute, clock
        self.recent: deque[float] = deque()  # accepted sends in the last second
        self.group_recent: dict[int, deque[float]] = {}  # per group, the last minute
        self.accepted: list[tuple[float, int]] = []  # (time, chat id) of every accepted send
        self.refused = 0

    def check(self, chat_id: int, groups: dict[int, FakeGroup]) -> None:
        now = self.clock()
        while self.recent and self.recent[0] <= now - 1.0:
            self.recent.popleft()
        wait = 0.0
        if len(self.recent) >= self.per_second:
            wait = self.recent[0] + 1.0 - now
        if chat_id in groups:
            window = self.group_recent.setdefault(chat_id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= self.per_group_minute:
                wait = max(wait, window[0] + 60.0 - now)
        if wait > 0:
            self.refused += 1
            seconds = max(1, math.ceil(wait))  # Telegram says whole seconds
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)

    def record(self, chat_id: int, groups: dict[int, FakeGroup]) -> None:
        now = self.clock()
        self.recent.append(now)
        if chat_id in groups:
            self.group_recent.setdefault(chat_id, deque()).append(now)
        self.accepted.append((now, chat_id))


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check_markup(markup: JSON | None) -> None:
    if not markup:
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if not button.get("text"):
                raise ApiError(400, "Bad Request: BUTTON_TEXT_EMPTY")


class FakeRequest(BaseRequest):
    """PTB's transport, answered by :class:`FakeTelegram` instead of the network."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self.telegram = telegram

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if method == "GET" and "/file/" in url:  # a file download (getFile's file_path)
            try:
                return 200, self.telegram.download(url)
            except ApiError as error:
                return error.code, error.description.encode()
        api_method = url.rsplit("/", 1)[-1]
        params: JSON = {}
        files: dict[str, tuple[str, bytes]] = {}
        if request_data is not None:
            # Round-trip through JSON so the fake sees exactly what Telegram would receive.
            params = json.loads(json.dumps(request_data.parameters))
            for name, part in request_data.multipart_data.items():
                content = part[1]
                data = content if isinstance(content, bytes) else content.read()
                files[name] = (str(part[0]), data)
        telegram = self.telegram
        telegram.in_flight[api_method] += 1
        telegram.most_in_flight[api_method] = max(
            telegram.most_in_flight[api_method], telegram.in_flight[api_method]
        )
        out, back = (telegram.latency / 2,) * 2
        if telegram.jitter is not None:
            rng = telegram.jitter_rng
            out, back = (rng.uniform(*telegram.jitter[0]), rng.uniform(*telegram.jitter[1]))
        try:
            if out > 0:
                await asyncio.sleep(out)  # the request on its way
            answer = self._answer(api_method, params, files)
            if back > 0:
                await asyncio.sleep(back)  # the answer on its way back
            return answer
        finally:
            telegram.in_flight[api_method] -= 1

    def _answer(
        self, api_method: str, params: JSON, files: dict[str, tuple[str, bytes]]
    ) -> tuple[int, bytes]:
        try:
            result = self.telegram.handle(api_method, params, files)
        except ApiError as error:
            body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
            return error.code, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()
