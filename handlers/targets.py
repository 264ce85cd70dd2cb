"""Whom a command is about: a reply, ``@username``, a numeric user id, or a roster name.

Every command that acts on a person (``/whois``, moderators' commands, ``/leaving @user``,
``/extend @user``) resolves its target here, so they all accept the same forms and refuse
ambiguity the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram import Chat, Message

from handlers.render import esc
from handlers.topics import replied_to
from i18n import _
from runtime.context import Services
from storage.introductions import IntroductionRepository
from storage.models import Introduction, Membership, User
from storage.roster import RosterRepository

Row = tuple[Membership, User, Introduction | None]

MAX_NAME_WORDS = 3


def roster_name(user: User, intro: Introduction | None) -> str:
    """The name from the introduction when there is one, else the Telegram name."""
    return intro.full_name if intro and intro.full_name else user.display_name


def find_members(rows: list[Row], query: str) -> list[Row]:
    """By @username, exact name, then names containing the words typed (case-insensitive)."""
    wanted = query.strip().casefold()
    if wanted.startswith("@"):
        return [r for r in rows if (r[1].username or "").casefold() == wanted[1:]]
    exact = [
        r
        for r in rows
        if roster_name(r[1], r[2]).casefold() == wanted or r[1].display_name.casefold() == wanted
    ]
    if exact:
        return exact
    words = wanted.split()
    return [
        r
        for r in rows
        if all(w in f"{roster_name(r[1], r[2])} {r[1].display_name}".casefold() for w in words)
    ]


@dataclass(frozen=True)
class Target:
    user_id: int
    name: str
    username: str | None
    is_bot: bool = False
    rest: list[str] = field(default_factory=list)  # the words after the target (reason, date…)


class TargetError(Exception):
    """Why no single person could be found; the text is ready to send (already escaped)."""


def _from_user(user: User, intro: Introduction | None, rest: list[str]) -> Target:
    return Target(user.id, roster_name(user, intro), user.username, user.is_bot, rest)


def resolve_target(
    services: Services, chat_id: int, message: Message | None, args: list[str]
) -> Target:
    """Find the one person meant, or raise ``TargetError`` saying what was expected.

    A reply wins (all ``args`` are then the rest); else the first word is ``@username`` or a
    user id (anyone the bot has seen, present or not, so ``/unban`` works); else the longest
    run of up to three words that names exactly one current member of ``chat_id``.
    """
    replied = replied_to(message)
    sender = replied.sender_chat if replied is not None else None
    if sender is not None and sender.type == Chat.CHANNEL and message is not None:
        # A post sent as a channel: the channel is meant (its id is negative).
        return Target(
            sender.id,
            sender.title or sender.username or str(sender.id),
            sender.username,
            False,
            list(args),
        )
    if replied is not None and replied.from_user is not None:
        who = replied.from_user
        with services.db.transaction() as session:
            stored = RosterRepository(session).user(who.id)
            intro = IntroductionRepository(session).introduction(chat_id, who.id)
            if stored is not None:
                return _from_user(stored, intro, list(args))
        return Target(who.id, who.full_name, who.username, who.is_bot, list(args))
    if not args:
        raise TargetError(
            _("Whom do you mean? Reply to their message, or give @username, a user id or a name.")
        )
    first, rest = args[0], list(args[1:])
    with services.db.transaction() as session:
        roster, intros = RosterRepository(session), IntroductionRepository(session)
        if first.startswith("@"):
            user = roster.user_by_username(first[1:])
            if user is None:
                raise TargetError(_("I don't know {who}.", who=esc(first[:65])))
            return _from_user(user, intros.introduction(chat_id, user.id), rest)
        if first.lstrip("-").isdigit() and len(first) <= 20:
            user = roster.user(int(first))
            if user is None:
                raise TargetError(_("I have never seen a user with id {id}.", id=esc(first)))
            return _from_user(user, intros.introduction(chat_id, user.id), rest)
        rows = list(intros.members(chat_id))
        for words in range(min(MAX_NAME_WORDS, len(args)), 0, -1):
            name = " ".join(args[:words])
            wanted = name.casefold()
            exact = [
                r
                for r in rows
                if wanted in (roster_name(r[1], r[2]).casefold(), r[1].display_name.casefold())
            ]
            if len(exact) == 1:
                _membership, user, intro = exact[0]
                return _from_user(user, intro, list(args[words:]))
            if len(exact) > 1:
                raise TargetError(
                    _(
                        "Several members are called {name}; use their @username or reply "
                        "to their message.",
                        name=esc(name),
                    )
                )
        # Last, the first word alone as a first name or a username without "@" ("/warn ivan …").
        word = first.casefold()
        loose = [
            r
            for r in rows
            if word
            in (
                (r[2].first_name or "").casefold() if r[2] else "",
                r[1].first_name.casefold(),
                (r[1].username or "").casefold(),
            )
        ]
        if len(loose) == 1:
            _membership, user, intro = loose[0]
            return _from_user(user, intro, rest)
        if len(loose) > 1:
            raise TargetError(
                _(
                    "Several members are called {name}; use their @username or reply "
                    "to their message.",
                    name=esc(first[:100]),
                )
            )
    raise TargetError(
        _("No current member is called {name}.", name=esc(" ".join(args[:MAX_NAME_WORDS])[:100]))
    )
