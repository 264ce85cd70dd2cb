"""What ``/forgetme`` does to every column that holds a person's Telegram user id.

One registry, :data:`REGISTRY`, maps ``table.column`` to a :class:`Policy`: *erase* (delete the
rows where the column is the person), *anonymise* (blank the column, keep the row) or *keep*,
with the reason the person reads in ``/mydata``. :func:`forget` is driven by it, in the
registry's order (children before the contact they point at). ``tests/test_erasure.py`` walks
the SQLAlchemy metadata and fails when a column holding a person has no entry here, so a new
table cannot quietly escape ``/forgetme``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, func, select, update
from sqlalchemy.orm import Session

from i18n import N_
from storage.models import Base, Contact, Disclosure


class Action(enum.Enum):
    ERASE = "erase"
    ANONYMISE = "anonymise"
    KEEP = "keep"


@dataclass(frozen=True)
class Policy:
    action: Action
    # For KEEP: why, as the person reads it in /mydata (marked for translation). For the
    # others: a note for the README's table (not shown).
    reason: str = ""
    # Extra steps before the rows go (e.g. an anonymised audit line for an erased contact).
    before: Callable[[Session, int, datetime], None] | None = None


# ----------------------------------------------------------------- reasons for keeping
MEMBERSHIP = N_(
    "Your membership, introduction and join requests: the group needs them while you are in "
    "it; they are erased once you have left every group for the retention period."
)
SPONSORSHIP = N_(
    "Whom you sponsored, admitted or added: it is part of those members' own introductions."
)
MODERATION = N_(
    "Warnings, mutes and the moderation log about you or by you: the group's moderation record; "
    "erasure must not undo a moderator's decision."
)
MODERATOR_AUDIT = N_(
    "What you did as a moderator (deadlines, imports, partner assignments, overrides): the "
    "moderators' audit trail."
)
REMINDERS = N_(
    "Your deadline role, the reminders already sent to you and your unit's submissions: they "
    "stop a reminder going out twice and are your unit's record; /unsubscribe ends reminders."
)
TRAFFIC = N_(
    "Ids and times of your recent group messages and @mentions being delivered: kept briefly "
    "for flood control, /purge and delivery, then deleted automatically."
)
TAGS = N_(
    "Your /tags choices: erasing them would put you back into the tags you left; /tags "
    "changes them."
)
VIEWED = N_(
    "Which details of other people you saw: they have the right to know who looked them up."
)


def _erase_contact(session: Session, user_id: int, now: datetime) -> None:
    """Before the person's entry goes: what others' audit said about it becomes anonymous."""
    contact_id = session.scalar(select(Contact.id).where(Contact.user_id == user_id))
    if contact_id is None:
        return
    session.execute(
        update(Disclosure)
        .where(Disclosure.contact_id == contact_id)
        .values(contact_id=None, detail="about a person who asked to be forgotten")
    )
    session.add(
        Disclosure(
            viewer_id=None,
            contact_id=None,
            fields="",
            channel="erased",
            detail="a contact was erased at the person's request (/forgetme)",
            at=now,
        )
    )


ERASE = Policy(Action.ERASE)
ANONYMISE = Policy(Action.ANONYMISE)

REGISTRY: dict[str, Policy] = {
    # The directory: erased (the consent, the sharing and the searches are the person's).
    "contact_lookups.user_id": ERASE,
    "contact_grants.requester_id": ERASE,
    # A share someone gave goes with their own entry (cascade); what is left are overrides a
    # moderator used on others, which those people see in /mydata.
    "contact_grants.granted_by": Policy(Action.KEEP, MODERATOR_AUDIT),
    "contact_requests.requester_id": ERASE,
    "contact_requests.asked_user_id": ERASE,
    "contacts.claimed_by": ANONYMISE,  # their claim on an imported entry, not the entry
    "contacts.user_id": Policy(Action.ERASE, before=_erase_contact),
    "contact_disclosures.viewer_id": Policy(Action.KEEP, VIEWED),
    "contact_imports.moderator_id": Policy(Action.KEEP, MODERATOR_AUDIT),
    "forms.user_id": ERASE,  # a half-filled form may hold a phone number
    "calendar_feeds.user_id": ERASE,  # the subscription link to their deadlines
    "miniapp_downloads.user_id": ERASE,  # a moderator's unused CSV link (5 minutes at most)
    # Membership: kept while a member; the retention sweep erases it after they left.
    "users.id": Policy(Action.KEEP, MEMBERSHIP),
    "memberships.user_id": Policy(Action.KEEP, MEMBERSHIP),
    "membership_events.user_id": Policy(Action.KEEP, MEMBERSHIP),
    "introductions.user_id": Policy(Action.KEEP, MEMBERSHIP),
    "join_requests.user_id": Policy(Action.KEEP, MEMBERSHIP),
    "invitations.used_by_id": Policy(Action.KEEP, MEMBERSHIP),
    "member_lifecycle.user_id": Policy(Action.KEEP, MEMBERSHIP),
    "memberships.added_by_id": Policy(Action.KEEP, SPONSORSHIP),
    "membership_events.actor_id": Policy(Action.KEEP, SPONSORSHIP),
    "introductions.sponsor_id": Policy(Action.KEEP, SPONSORSHIP),
    "invitations.sponsor_id": Policy(Action.KEEP, SPONSORSHIP),
    "join_requests.sponsor_id": Policy(Action.KEEP, SPONSORSHIP),
    "join_requests.decided_by_id": Policy(Action.KEEP, SPONSORSHIP),
    "member_lifecycle.pending_sponsor_id": Policy(Action.KEEP, SPONSORSHIP),
    "member_lifecycle.departure_set_by": Policy(Action.KEEP, SPONSORSHIP),
    # Moderation.
    "warnings.user_id": Policy(Action.KEEP, MODERATION),
    "warnings.by_id": Policy(Action.KEEP, MODERATION),
    "warnings.revoked_by_id": Policy(Action.KEEP, MODERATION),
    "mutes.user_id": Policy(Action.KEEP, MODERATION),
    "mutes.by_id": Policy(Action.KEEP, MODERATION),
    "moderation_actions.target_id": Policy(Action.KEEP, MODERATION),
    "moderation_actions.actor_id": Policy(Action.KEEP, MODERATION),
    "log_entries.undone_by_id": Policy(Action.KEEP, MODERATION),
    # /report: who reported what, and how often it was dismissed (false reports).
    "reports.author_id": Policy(Action.KEEP, MODERATION),
    "report_votes.reporter_id": Policy(Action.KEEP, MODERATION),
    "report_decisions.by_id": Policy(Action.KEEP, MODERATION),
    "deadline_changes.actor_id": Policy(Action.KEEP, MODERATOR_AUDIT),
    "deadlines.updated_by": Policy(Action.KEEP, MODERATOR_AUDIT),
    "partners.assigned_by": Policy(Action.KEEP, MODERATOR_AUDIT),
    # Deadlines.
    "partners.user_id": Policy(Action.KEEP, REMINDERS),
    "reminder_outbox.user_id": Policy(Action.KEEP, REMINDERS),
    "submissions.user_id": Policy(Action.KEEP, REMINDERS),
    # Traffic, pruned on its own.
    "recent_messages.user_id": Policy(Action.KEEP, TRAFFIC),
    "mention_broadcasts.author_id": Policy(Action.KEEP, TRAFFIC),
    "mention_outbox.user_ids": Policy(Action.KEEP, TRAFFIC),  # "1,2,3": not a plain id
    "tag_preferences.user_id": Policy(Action.KEEP, TAGS),
    "mention_outbox.recipient_id": Policy(Action.KEEP, TRAFFIC),
    "mention_delivery.user_id": Policy(Action.KEEP, TAGS),
}


_MODELS: dict[str, type[Base]] = {
    str(mapper.class_.__tablename__): mapper.class_ for mapper in Base.registry.mappers
}


def column(key: str) -> Column[object]:
    table, name = key.split(".")
    return Base.metadata.tables[table].c[name]


def forget(session: Session, user_id: int, now: datetime) -> bool:
    """Apply :data:`REGISTRY` to ``user_id``; True when the person had a directory entry."""
    had_entry = session.scalar(select(Contact.id).where(Contact.user_id == user_id)) is not None
    for key, policy in REGISTRY.items():
        if policy.before is not None:
            policy.before(session, user_id, now)
        if policy.action is Action.KEEP:
            continue
        table, name = key.split(".")
        model = _MODELS[table]
        # Through the ORM, row by row (a person has few): the directory index learns of
        # every changed contact from the ORM's flush events, which bulk statements skip.
        for row in session.scalars(select(model).where(column(key) == user_id)).all():
            if policy.action is Action.ERASE:
                session.delete(row)
            else:
                setattr(row, name, None)
        session.flush()
    return had_entry


def kept_reasons(session: Session, user_id: int) -> list[str]:
    """The reasons (untranslated) for what ``/forgetme`` would keep about this person now."""
    reasons: dict[str, None] = {}
    for key, policy in REGISTRY.items():
        if policy.action is not Action.KEEP or policy.reason in reasons:
            continue
        target = column(key)
        if key == "mention_outbox.user_ids":
            held = (
                session.scalar(
                    select(func.count())
                    .select_from(target.table)
                    .where(("," + target + ",").contains(f",{user_id},"))
                )
                or 0
            )
        else:
            held = (
                session.scalar(
                    select(func.count()).select_from(target.table).where(target == user_id)
                )
                or 0
            )
        if held:
            reasons[policy.reason] = None
    return list(reasons)
