"""The texts of mentions composed from typed results: /tags' overview, the answer to opting in or
out of a tag, and a broadcast's messages (the group's batches and the private notes; no
database, no sending)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from config.schema import MentionsPolicy
from handlers.mentions.common import CB_TAG, MAX_BUTTONS, mention_of
from handlers.render import esc, esc_attr, truncate
from i18n import _, duration_text, ngettext
from moderation import mentions as rules
from moderation.mentions import Member, Tag, TagKind
from storage.models import User


def _kind_title(kind: TagKind) -> str:
    if kind is TagKind.ORGANISATION:
        return _("Organisations")
    if kind is TagKind.CLUSTER:
        return _("Clusters")
    return _("Locations")


def tags_overview_text(
    group_title: str,
    policy: MentionsPolicy,
    tags: Mapping[str, Tag],
    members: Sequence[Member],
    prefs: Mapping[tuple[int, str], bool],
    me: Member | None,
    private: bool,
) -> tuple[list[str], InlineKeyboardMarkup | None]:
    """The tags of a group with how many people each reaches, and yours (buttons in private)."""
    people = [m for m in members if not m.is_bot]
    lines = [_("<b>Mentions in {group}</b> (at the start of a message)", group=esc(group_title))]
    if policy.all == "off":
        lines.append(_("@all — turned off here"))
    elif policy.all == "moderators":
        lines.append(_("@all — everyone; only moderators may use it"))
    else:
        lines.append(
            _(
                "@all — everyone; each person at most once every {cooldown}",
                cooldown=duration_text(policy.all_cooldown),
            )
        )
    lines.append(_("@moderators — the moderators"))
    mine: list[Tag] = []
    for kind in policy.tags:
        of_kind = [t for t in tags.values() if kind in t.kinds]
        if not of_kind:
            continue
        shown = []
        for tag in of_kind:
            count = sum(1 for m in people if rules.in_tag(m, tag.key, policy.tags, prefs))
            shown.append(f"@{esc_attr(tag.name)} ({count})")
        lines.append(f"<b>{_kind_title(kind)}</b>: " + ", ".join(shown))
    if policy.tags:
        if policy.tags_by == "moderators":
            lines.append(_("Only moderators may use these tags."))
    else:
        lines.append(_("No tag groups are enabled in this group."))
    if policy.names:
        lines.append(
            _("@Firstname or @Firstname Lastname also reaches a member without a username.")
        )
    markup = None
    if me is not None and policy.tags:
        mine = [t for t in tags.values() if rules.in_tag(me, t.key, policy.tags, prefs)]
        if mine:
            lines.append(
                _("You are in: {tags}.", tags=", ".join(f"@{esc_attr(t.name)}" for t in mine))
            )
        else:
            lines.append(_("You are in no tag group."))
        lines.append(_("Opt in or out: /tags on TAG, /tags off TAG (e.g. /tags off wash)."))
        if private:
            buttons = []
            for tag in list(tags.values())[:MAX_BUTTONS]:
                data = f"{CB_TAG}:{tag.key}"
                if len(data.encode()) > 64:
                    continue
                joined = tag in mine
                buttons.append(
                    InlineKeyboardButton(
                        ("✓ " if joined else "") + f"@{tag.name}", callback_data=data
                    )
                )
            rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
            markup = InlineKeyboardMarkup(rows) if rows else None
        else:
            lines.append(_("Send me /tags privately to use buttons."))
    return lines, markup


class TagChange(Enum):
    """What an opt-in or opt-out came to."""

    RESERVED = "reserved"  # @all or @moderators: nobody leaves them
    NO_TAGS = "no_tags"  # not a tag, and the group has no tag groups
    UNKNOWN = "unknown"  # not a tag here
    NOT_A_MEMBER = "not_a_member"
    ALREADY_IN = "already_in"
    ALREADY_OUT = "already_out"
    JOINED = "joined"
    LEFT = "left"


@dataclass(frozen=True)
class TagOutcome:
    """An opt-in or opt-out: what it came to, the tag's name (for UNKNOWN what was typed,
    without its @), the group's tags (for UNKNOWN) and the group's title (for NOT_A_MEMBER)."""

    change: TagChange
    tag: str = ""
    known: Sequence[str] = ()
    group: str = ""


def tag_change_text(outcome: TagOutcome) -> str:
    """The answer to /tags on|off TAG or a tag button."""
    change, tag = outcome.change, esc_attr(outcome.tag)
    if change is TagChange.RESERVED:
        return _(
            "Everyone is in @all and @moderators reaches every moderator; you cannot leave them."
        )
    if change is TagChange.NO_TAGS:
        return _("No tag groups are enabled in this group.")
    if change is TagChange.UNKNOWN:
        known = ", ".join(f"@{esc_attr(name)}" for name in outcome.known[:40])
        return _(
            "There is no tag {tag}. Tags here: {known}.",
            tag=esc("@" + truncate(outcome.tag, 40)),
            known=known or "—",
        )
    if change is TagChange.NOT_A_MEMBER:
        return _("Only members of {group} are in its tags.", group=esc(outcome.group))
    if change is TagChange.ALREADY_IN:
        return _("You are already in @{tag}.", tag=tag)
    if change is TagChange.ALREADY_OUT:
        return _("You are not in @{tag}.", tag=tag)
    if change is TagChange.JOINED:
        return _("You are in @{tag}: messages for @{tag} will mention you.", tag=tag)
    return _("You left @{tag}: messages for @{tag} will not mention you.", tag=tag)


@dataclass(frozen=True)
class Notice:
    """A broadcast as its messages tell it: the author's name (None when the roster no longer
    knows them), its label (@all, a tag…), the words quoted, how many people it reaches, the
    group's title, and the link to the message (None where there is none)."""

    author: str | None
    label: str
    quote: str
    recipients: int
    group: str
    link: str | None


@dataclass(frozen=True)
class Batch:
    """One of a broadcast's messages in the group: its ``seq`` in the outbox (0 is the notice),
    its ``part`` of ``parts``, and the people it mentions who are still in the group."""

    notice: Notice
    seq: int
    part: int
    parts: int
    people: Sequence[User]


def _author(notice: Notice) -> str:
    return esc(notice.author if notice.author is not None else _("someone"))


def _link_line(notice: Notice) -> list[str]:
    if notice.link is None:
        return []
    # Not a placeholder in href: in Arabic _() would isolate the URL and break it.
    label_text = _("Open the message")
    return [f'<a href="{esc_attr(notice.link)}">{label_text}</a>']


def batch_text(batch: Batch) -> str | None:
    """The notice (``seq`` 0: the quote, the link, the first mentions) or a later batch of
    mentions; None for a later batch nobody in it is left to mention."""
    notice = batch.notice
    mentions = ", ".join(mention_of(person) for person in batch.people)
    author_name = _author(notice)
    label = esc(notice.label)
    if batch.seq > 0:
        if not batch.people:
            return None
        return _(
            "📣 {label} from {author} ({part}/{parts}): {mentions}",
            label=label,
            author=author_name,
            part=batch.part,
            parts=batch.parts,
            mentions=mentions,
        )
    lines = [
        ngettext(
            "📣 {author} → {label} ({n} person): “{quote}”",
            "📣 {author} → {label} ({n} people): “{quote}”",
            notice.recipients,
            author=author_name,
            label=label,
            quote=esc(notice.quote),
        )
    ]
    lines += _link_line(notice)
    if mentions:
        lines.append(mentions)
    return "\n".join(lines)


def private_notice_text(notice: Notice) -> str:
    """A person reached privately: the group, the author, their words and a link."""
    lines = [
        _(
            "🔔 {author} → {label} in {group}: “{quote}”",
            author=_author(notice),
            label=esc(notice.label),
            group=esc(notice.group),
            quote=esc(notice.quote),
        )
    ]
    lines += _link_line(notice)
    lines.append(_("You chose to be told privately; /tags group mentions you in the group."))
    return "\n".join(lines)
