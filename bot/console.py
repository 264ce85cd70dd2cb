"""``imbot console``: chat with the real bot (same handlers, database and PTB Application)
over the in-process fake Telegram. Type ``:help`` for the commands."""

from __future__ import annotations

import asyncio
import shlex
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from config.loader import LoadedConfig
from moderation.durations import DurationError, parse_duration
from simulation.faketg import ApiError, FakeMember, FakeUser, SentMessage, start_payload
from simulation.simulator import Simulator
from storage.roster import RosterRepository

HELP = """\
Type a line to send it as the current user in the current chat (e.g. /help, hello @all).
Console commands:
  :as NAME                 become NAME (a user is created if NAME is new)
  :group | :dm             talk in the group / in a private chat with the bot
  :user NAME [Last] [@username]  create a user (usernames are optional, as in Telegram)
  :users                   list the people in this console
  :lang CODE               the current user's Telegram app language (en, uk, fr, ar, de…)
  :join NAME [LINK#|URL]   NAME joins the group (optionally through an invite link)
  :add NAME                the current user adds NAME to the group directly
  :request NAME [LINK#]    NAME asks to join through a join-request link
  :leave NAME              NAME leaves the group
  :crowd N                 N people (1-500) who were in the group before the bot say hello
  :press N                 press button N of the bot's last message in the current chat
                           (a t.me link to the bot opens the private chat with its /start)
  :reply N TEXT            reply to message number N in the current chat with TEXT
  :photo [CAPTION]         the current user sends a photo to the group
  :admin NAME | :unadmin NAME   make NAME a Telegram admin of the group, or not (silently)
  :right RIGHT on|off      give or take a bot right, e.g. :right delete off (delete, restrict)
  :links                   list invite links the bot created (numbered)
  :clock [+DURATION]       show the clock, or move it forward (e.g. :clock +3d), running every
                           sweep at its own times along the way
  :roster                  the bot's roster of the group, from the database
  :calls [N]               the last N Bot API calls the bot made (default 10)
  :file                    show the last document the bot sent in this chat (.ics, CSV) as text
  :help | :quit"""


# Bot API calls that change a message the person already sees (its buttons are printed again).
EDITS = ("editMessageText", "editMessageReplyMarkup", "editMessageCaption")
FILE_LINES = 400  # :file prints this many lines of a document at most


class Console:
    def __init__(self, sim: Simulator, out: TextIO) -> None:
        self.sim = sim
        self.out = out
        self.people: dict[str, FakeUser] = {}
        self.current: FakeUser | None = None
        self.in_group = True
        self.mark = 0
        self.call_mark = 0

    # ---- output ------------------------------------------------------------------------
    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def chat_label(self, chat_id: int) -> str:
        if chat_id in self.sim.telegram.groups:
            return "group"
        user = self.sim.telegram.users.get(chat_id)
        return f"dm {user.first_name}" if user else str(chat_id)

    def show_new(self) -> None:
        """Print what the bot did since the last line: messages, buttons, member actions."""
        for call in self.sim.telegram.calls[self.call_mark :]:
            note = describe_call(self.sim, call.method, call.params)
            if note:
                self.say(f"  · {note}")
            if call.method in EDITS:
                edited = self.sim.telegram.messages.get(
                    (int(str(call.params["chat_id"])), int(str(call.params["message_id"])))
                )
                if edited is not None:
                    self.show_buttons(edited)  # what the person can press now
        self.call_mark = len(self.sim.telegram.calls)
        for message in self.sim.telegram.sent()[self.mark :]:
            self.show_message(message)
        self.mark = len(self.sim.telegram.sent())

    def show_message(self, message: SentMessage) -> None:
        label = self.chat_label(message.chat_id)
        reply = f" (reply to #{message.reply_to})" if message.reply_to else ""
        self.say(f"  bot → [{label}] #{message.message_id}{reply}:")
        for line in message.text.splitlines() or [""]:
            self.say(f"      {line}")
        if message.document:
            self.say(
                f"      📎 {message.document[0]} ({len(message.document[1])} bytes; :file shows it)"
            )
        self.show_buttons(message)

    def show_buttons(self, message: SentMessage) -> None:
        for number, button in enumerate(message.buttons(), 1):
            target = button.get("url") or ""
            self.say(f"      [{number}] {button['text']}{'  → ' + target if target else ''}")

    # ---- people ------------------------------------------------------------------------
    def person(self, name: str, create: bool = True) -> FakeUser:
        key = name.lower().lstrip("@")
        if key not in self.people:
            if not create:
                raise ValueError(f"nobody called {name!r}; :users lists people")
            self.people[key] = self.sim.user(name.capitalize())
        return self.people[key]

    def prompt(self) -> str:
        who = self.current.first_name if self.current else "nobody"
        return f"[{who} @ {'group' if self.in_group else 'dm'}] > "

    # ---- commands ----------------------------------------------------------------------
    async def handle(self, line: str) -> bool:
        """Run one console line; False means quit."""
        line = line.strip()
        if not line:
            return True
        try:
            if line.startswith(":"):
                keep = await self.command(line)
                self.show_new()  # e.g. reminders sent by the sweeps after :clock
                return keep
            if self.current is None:
                self.say("! choose who you are first: :as NAME")
            elif self.in_group:
                sent = self.sim.telegram.message(self.current.id, self.sim.group.id, line)
                self.say(f"  (message #{sent['message']['message_id']}; :reply to it by number)")
                await self.sim.feed(sent)
            else:
                await self.sim.dm(self.current, line)
        except ApiError as error:
            self.say(f"! Telegram says: {error.description}")
        except (ValueError, LookupError, DurationError) as error:
            self.say(f"! {error}")
        self.show_new()
        return True

    async def command(self, line: str) -> bool:
        parts = shlex.split(line[1:])
        if not parts:
            return True
        name, args = parts[0].lower(), parts[1:]
        sim = self.sim
        if name in ("quit", "q", "exit"):
            return False
        if name == "help":
            self.say(HELP)
        elif name == "as":
            self.current = self.person(_need(args, 0, "NAME"))
            self.say(f"you are now {self.current.name}")
        elif name == "user":
            person = self.person(_need(args, 0, "NAME"))
            if len(args) > 1 and not args[1].startswith("@"):
                person.last_name = args[1]
            handle = next((a for a in args[1:] if a.startswith("@")), None)
            if handle:
                person.username = handle[1:]
            self.say(f"{person.name} (@{person.username or '—'}, id {person.id})")
        elif name == "users":
            for key, person in self.people.items():
                member = sim.group.members.get(person.id)
                status = member.status if member else "not in the group"
                self.say(
                    f"  {key}: {person.name} @{person.username or '—'} id {person.id} — {status}"
                )
        elif name == "lang":
            if self.current is None:
                raise ValueError("choose who you are first: :as NAME")
            self.current.language_code = _need(args, 0, "CODE")
            self.say(f"{self.current.name}'s Telegram is now in {self.current.language_code!r}")
        elif name in ("group", "dm"):
            self.in_group = name == "group"
        elif name == "join":
            person = self.person(_need(args, 0, "NAME"))
            self.say(f"  ⇢ {person.name} joins the group")
            await sim.join(person, link=self.link(args[1:]))
        elif name == "add":
            if self.current is None:
                raise ValueError("choose who adds first: :as NAME")
            person = self.person(_need(args, 0, "NAME"))
            self.say(f"  ⇢ {self.current.name} adds {person.name} to the group")
            await sim.join(person, added_by=self.current)
        elif name == "request":
            person = self.person(_need(args, 0, "NAME"))
            self.say(f"  ⇢ {person.name} asks to join the group")
            await sim.request_join(person, link=self.link(args[1:]))
        elif name == "leave":
            person = self.person(_need(args, 0, "NAME"), create=False)
            self.say(f"  ⇢ {person.name} leaves the group")
            await sim.leave(person)
        elif name == "crowd":
            await self.crowd(_need(args, 0, "N"))
        elif name == "press":
            await self.press(int(_need(args, 0, "N")))
        elif name == "reply":
            if self.current is None:
                raise ValueError("choose who you are first: :as NAME")
            chat = sim.group.id if self.in_group else self.current.id
            await sim.say(
                self.current, " ".join(args[1:]), chat_id=chat, reply_to=int(_need(args, 0, "N"))
            )
        elif name == "photo":
            if self.current is None:
                raise ValueError("choose who you are first: :as NAME")
            await sim.feed(sim.telegram.photo(self.current.id, sim.group.id, " ".join(args)))
        elif name in ("admin", "unadmin"):
            person = self.person(_need(args, 0, "NAME"), create=False)
            sim.group.members[person.id] = FakeMember(
                "administrator" if name == "admin" else "member"
            )
            self.say(f"  ⇢ {person.name} is {'now' if name == 'admin' else 'no longer'} an admin")
        elif name == "right":
            right = {"delete": "can_delete_messages", "restrict": "can_restrict_members"}.get(
                _need(args, 0, "RIGHT")
            )
            if right is None or len(args) < 2 or args[1] not in ("on", "off"):
                raise ValueError("usage: :right delete|restrict on|off")
            sim.group.members[sim.telegram.bot.id].rights[right] = args[1] == "on"
            self.say(f"  ⇢ the bot's right {right} is {args[1]}")
        elif name == "links":
            for number, link in enumerate(sim.telegram.links.values(), 1):
                state = (
                    "revoked" if link.revoked else f"used {link.uses}/{link.member_limit or '∞'}"
                )
                self.say(f"  [{number}] {link.url} name={link.name!r} {state}")
        elif name == "clock":
            if args:
                delta = parse_duration(args[0].lstrip("+"))
                await sim.advance_through(delta)
            self.say(f"clock: {sim.clock.now():%Y-%m-%d %H:%M} UTC")
        elif name == "roster":
            self.show_roster()
        elif name == "file":
            self.show_file()
        elif name == "calls":
            count = int(args[0]) if args else 10
            for call in sim.telegram.calls[-count:]:
                self.say(f"  {call.method} {call.params}")
        else:
            self.say(f"! unknown console command :{name} — :help lists them")
        return True

    def link(self, args: list[str]) -> str | None:
        if not args:
            return None
        if args[0].isdigit():
            links = list(self.sim.telegram.links)
            index = int(args[0]) - 1
            if not 0 <= index < len(links):
                raise ValueError(f"no link number {args[0]}; :links lists them")
            return links[index]
        return args[0]

    async def crowd(self, count: str) -> None:
        """Members who were in the group before the bot (every third with a username)."""
        if not count.isdigit() or not 1 <= int(count) <= 500:
            raise ValueError("expected a number of people from 1 to 500")
        start = len(self.people)
        for index in range(start, start + int(count)):
            key = f"p{index:03d}"
            person = self.sim.user(f"P{index:03d}", "Crowd", key if index % 3 == 0 else None)
            self.people[key] = person
            self.sim.group.members[person.id] = FakeMember("member")
            await self.sim.say(person, "hello")
        self.say(f"  ⇢ {count} people were already in the group: p{start:03d}…")

    async def press(self, number: int) -> None:
        if self.current is None:
            raise ValueError("choose who presses first: :as NAME")
        chat = self.sim.group.id if self.in_group else self.current.id
        candidates = [m for m in self.sim.telegram.sent(chat) if m.buttons() and not m.deleted]
        if not candidates:
            raise LookupError("no bot message with buttons in this chat")
        message = candidates[-1]
        buttons = message.buttons()
        if not 1 <= number <= len(buttons):
            raise ValueError(f"that message has buttons 1 to {len(buttons)}")
        button = buttons[number - 1]
        if "callback_data" not in button:
            payload = start_payload(str(button.get("url") or ""), self.sim.telegram.bot.username)
            if payload is None:
                self.say(f"(a link button: {button.get('url')})")
                return
            # As in Telegram: the link opens the private chat with the bot and sends /start.
            self.in_group = False
            self.say(f"  ⇢ {self.current.name} opens the link: /start {payload} in private")
            await self.sim.dm(self.current, f"/start {payload}")
            return
        opened = len(self.sim.telegram.opened_links)
        update = self.sim.telegram.press(
            self.current.id, chat, message.message_id, button["callback_data"]
        )
        await self.sim.feed(update)
        query_id = str(update["callback_query"]["id"])
        for answer in self.sim.telegram.calls_to("answerCallbackQuery"):
            # Telegram shows a press's answer as a toast or an alert box, not as a message.
            if str(answer.get("callback_query_id")) == query_id and answer.get("text"):
                kind = "alert" if answer.get("show_alert") else "toast"
                self.say(f"  · bot answered the press ({kind}): {answer['text']}")
        for _presser, url in self.sim.telegram.opened_links[opened:]:
            # The bot answered the press with a link to itself: Telegram opened the private
            # chat, which sent /start (already fed); the console follows there.
            self.in_group = False
            payload = start_payload(url, self.sim.telegram.bot.username)
            self.say(f"  ⇢ {self.current.name} is taken to the private chat: /start {payload}")

    def show_file(self) -> None:
        if self.current is None:
            raise ValueError("choose who you are first: :as NAME")
        chat = self.sim.group.id if self.in_group else self.current.id
        documents = [m for m in self.sim.telegram.sent(chat) if m.document and not m.deleted]
        if not documents:
            raise LookupError("the bot has sent no document in this chat")
        filename, content = documents[-1].document or ("", b"")
        self.say(f"  📎 {filename} ({len(content)} bytes):")
        text = content.decode("utf-8", errors="replace")
        lines = text.splitlines()
        for line in lines[:FILE_LINES]:
            self.say(f"      {line}")
        if len(lines) > FILE_LINES:
            self.say(f"      … {len(lines) - FILE_LINES} more lines")

    def show_roster(self) -> None:
        with self.sim.services.db.transaction() as session:
            rows = RosterRepository(session).members(self.sim.group.id, present_only=False)
            self.say(f"roster of {self.sim.group.title}: {sum(m.present for m, _ in rows)} present")
            for membership, user in rows:
                self.say(
                    f"  {user.display_name} (@{user.username or '—'}) — "
                    f"{membership.status.value}, joined by {membership.join_method.value}"
                )


def _need(args: list[str], index: int, what: str) -> str:
    if len(args) <= index:
        raise ValueError(f"missing {what}; :help shows the syntax")
    return args[index]


def describe_call(sim: Simulator, method: str, params: dict[str, object]) -> str | None:
    """A one-line note for API calls a user would notice other than messages."""
    users = sim.telegram.users

    def who() -> str:
        user = users.get(int(str(params.get("user_id", 0))))
        return user.name if user else str(params.get("user_id"))

    notes: dict[str, Callable[[], str]] = {
        "restrictChatMember": lambda: (
            f"bot restricted {who()} ({'can write' if _can_send(params) else 'read-only'})"
        ),
        "banChatMember": lambda: f"bot removed {who()} from the group",
        "unbanChatMember": lambda: f"bot lifted the ban on {who()}",
        "approveChatJoinRequest": lambda: f"bot approved {who()}'s join request",
        "declineChatJoinRequest": lambda: f"bot declined {who()}'s join request",
        "createChatInviteLink": lambda: f"bot created an invite link named {params.get('name')!r}",
        "revokeChatInviteLink": lambda: "bot revoked an invite link",
        "deleteMessage": lambda: f"bot deleted message #{params.get('message_id')}",
        "leaveChat": lambda: "bot left the chat",
        "editMessageText": lambda: (
            f"bot edited message #{params.get('message_id')}: "
            + sim.telegram.messages[
                (int(str(params["chat_id"])), int(str(params["message_id"])))
            ].text.replace("\n", " / ")
        ),
    }
    note = notes.get(method)
    return note() if note else None


def _can_send(params: dict[str, object]) -> bool:
    permissions = params.get("permissions")
    return isinstance(permissions, dict) and bool(permissions.get("can_send_messages"))


async def run_console(config: LoadedConfig, database: str | None, script: TextIO | None) -> None:
    with tempfile.TemporaryDirectory(prefix="imbot-console-") as folder:
        url = database or f"sqlite:///{Path(folder) / 'console.sqlite3'}"
        config = replace(
            config, environment=config.environment.model_copy(update={"database_url": url})
        )
        sim = Simulator(config)
        out = sys.stdout
        console = Console(sim, out)
        moderators = config.settings.moderators
        mira = sim.telegram.add_user(
            "Mira", "Moderator", "mira_ocha", user_id=moderators[0] if moderators else None
        )
        sim.telegram.started.add(mira.id)
        sim.group.members[mira.id] = FakeMember("creator")
        console.people["mira"] = mira
        await sim.start()
        # Ivan was in the group before the bot: it learns about him when he speaks.
        ivan = sim.user("Ivan", "Koval", "ivan_k")
        console.people["ivan"] = ivan
        sim.group.members[ivan.id] = FakeMember("member")
        await sim.say(ivan, "Morning all")
        console.mark, console.call_mark = sim.mark(), len(sim.telegram.calls)
        console.current = mira
        console.say("imbot console — the real bot over a fake Telegram (no network, no token).")
        console.say(
            f"Group: {sim.group.title}. People: mira (moderator, group owner), ivan "
            "(member). Anyone else you name is created. :help lists the commands."
        )
        interactive = script is None and sys.stdin.isatty()
        source = script or sys.stdin
        try:
            while True:
                if interactive:
                    try:
                        line = await asyncio.to_thread(input, console.prompt())
                    except EOFError:
                        break
                else:
                    line = source.readline()
                    if not line:
                        break
                    console.say(console.prompt() + line.rstrip("\n"))
                if not await console.handle(line):
                    break
        finally:
            await sim.stop()
        for error in sim.errors:
            console.say(f"! the bot raised {error!r} (see the log)")
