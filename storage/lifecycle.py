"""Queries for the membership lifecycle: one ``member_lifecycle`` row per admission.

Each step the sweep takes is claimed with a conditional UPDATE (``… WHERE departure_asked_at IS
NULL``), so a step is taken once even when two sweeps (or a sweep and a button) race, and a
bot that restarts finds in the rows exactly what it already did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import BigInteger, and_, delete, or_, select, update

from moderation.introductions import Category, IntroStatus
from moderation.lifecycle import Answer, Cause, Member, Outcome
from moderation.roster import MemberStatus
from moderation.sponsorship import counts_in_country, sponsor_ok
from storage.calendar_feeds import CalendarFeedRepository
from storage.contacts import ContactRepository
from storage.db import SessionRepository, one_of
from storage.introductions import IntroductionRepository, present_members
from storage.models import (
    Introduction,
    Invitation,
    JoinRequest,
    MemberLifecycle,
    Membership,
    MembershipEvent,
    Partner,
    User,
)

PROTECTED = (MemberStatus.OWNER, MemberStatus.ADMIN)
ENTRY_PAGE = 500  # members read at once by ``each_entry``


def _in_country(user: User, intro: Introduction | None) -> bool:
    return counts_in_country(user.is_bot, intro.category if intro else None)


@dataclass(frozen=True)
class Entry:
    """One present member with everything the lifecycle rules look at."""

    row: MemberLifecycle
    membership: Membership
    user: User
    intro: Introduction | None
    facts: Member


def answer_of(text: str | None) -> Answer | None:
    return Answer(text) if text in {a.value for a in Answer} else None


def cause_of(text: str | None) -> Cause | None:
    return Cause(text) if text in {c.value for c in Cause} else None


def outcome_of(text: str | None) -> Outcome | None:
    return Outcome(text) if text in {o.value for o in Outcome} else None


def facts(
    row: MemberLifecycle,
    membership: Membership,
    intro: Introduction | None,
    sponsor_ok: bool,
) -> Member:
    return Member(
        user_id=row.user_id,
        joined_at=membership.joined_at,
        present=membership.status.present,
        protected=membership.status in PROTECTED,
        intro_status=intro.status if intro else None,
        category=intro.category if intro else None,
        end_date=intro.end_date if intro else None,
        sponsor_id=intro.sponsor_id if intro else None,
        sponsor_ok=sponsor_ok,
        departure_date=row.departure_date,
        departure_asked_at=row.departure_asked_at,
        departure_answer=answer_of(row.departure_answer),
        pending_sponsor_id=row.pending_sponsor_id,
        pending_since=row.pending_since,
        sponsor_lost_at=row.sponsor_lost_at,
        expiry_notice_for=row.expiry_notice_for,
        checkin_asked_at=row.checkin_asked_at,
        checked_in_at=row.checked_in_at,
        removal_cause=cause_of(row.removal_cause),
        removal_outcome=outcome_of(row.removal_outcome),
        removal_attempted_at=row.removal_attempted_at,
    )


class LifecycleRepository(SessionRepository):
    # --- rows ------------------------------------------------------------------------------
    def row(self, row_id: int) -> MemberLifecycle | None:
        return self.session.get(MemberLifecycle, row_id)

    def row_for(self, chat_id: int, user_id: int) -> MemberLifecycle | None:
        return self.session.scalars(
            select(MemberLifecycle).where(
                MemberLifecycle.chat_id == chat_id, MemberLifecycle.user_id == user_id
            )
        ).first()

    def rows_of(
        self, chat_id: int, user_ids: Sequence[int] | None = None
    ) -> dict[int, MemberLifecycle]:
        """The group's lifecycle rows (of ``user_ids``, or every one) by user id, in one query."""
        query = select(MemberLifecycle).where(MemberLifecycle.chat_id == chat_id)
        if user_ids is not None:
            query = query.where(one_of(self.session, MemberLifecycle.user_id, user_ids, BigInteger))
        return {row.user_id: row for row in self.session.scalars(query)}

    def ensure(
        self,
        membership: Membership,
        now: datetime,
        known: dict[int, MemberLifecycle] | None = None,
    ) -> MemberLifecycle:
        """The row of this admission; a member who left and came back starts afresh.

        ``known``: the group's rows read beforehand (``rows_of``), so a sweep over every member
        reads them in one query instead of one per member."""
        if known is None:
            row = self.row_for(membership.chat_id, membership.user_id)
        else:
            row = known.get(membership.user_id)
        if row is None:
            row = MemberLifecycle(
                chat_id=membership.chat_id,
                user_id=membership.user_id,
                joined_at=membership.joined_at,
                updated_at=now,
            )
            self.session.add(row)
            self.session.flush()
        elif row.joined_at != membership.joined_at or row.removal_outcome in (
            Outcome.REMOVED.value,
            Outcome.NOT_PRESENT.value,
        ):
            self.reset(row, now)
            row.joined_at = membership.joined_at
            row.checkin_asked_at = row.checked_in_at = None
            row.expiry_notice_for = None
        return row

    def reset(self, row: MemberLifecycle, now: datetime) -> None:
        """Forget the departure, the pending sponsorship and any removal attempt."""
        row.departure_date = row.departure_set_by = None
        row.departure_asked_at = row.departure_answer = None
        row.pending_sponsor_id = row.pending_end_date = row.pending_since = None
        row.sponsor_lost_at = None
        row.removal_cause = row.removal_outcome = row.removal_attempted_at = None
        row.updated_at = now

    def entries(
        self, chat_id: int, now: datetime, trusted: frozenset[int] = frozenset()
    ) -> list[Entry]:
        """Every present member of the group with their facts (rows are created as needed).

        A sponsor counts while they are a present member in the country; ``trusted`` people
        (the configured moderators, who work for the coordinating office) always count.
        """
        return list(self.each_entry(chat_id, now, trusted))

    def each_entry(
        self, chat_id: int, now: datetime, trusted: frozenset[int] = frozenset()
    ) -> Iterator[Entry]:
        """The entries of ``entries``, in its order, read ``ENTRY_PAGE`` members at a time: a
        caller keeping only some holds only those (all 10,000 members' ORM objects at once
        were ~50 MB, the process's peak)."""
        order = (User.first_name, User.last_name, User.id)
        listed = self.session.execute(
            present_members(chat_id)
            .with_only_columns(Membership.user_id, User.is_bot, Introduction.category)
            .order_by(*order)
        ).all()
        in_country = {uid for uid, bot, category in listed if counts_in_country(bot, category)}
        ids = [uid for uid, is_bot, _category in listed if not is_bot]
        del listed
        for start in range(0, len(ids), ENTRY_PAGE):
            page = ids[start : start + ENTRY_PAGE]
            rows = self.session.execute(
                present_members(chat_id)
                .where(one_of(self.session, Membership.user_id, page, BigInteger))
                .order_by(*order)
            ).all()
            known = self.rows_of(chat_id, page)
            for membership, user, intro in rows:
                yield self._entry(
                    membership, user, intro, now, lambda uid: uid in in_country, trusted, known
                )

    def entry(
        self, chat_id: int, user_id: int, now: datetime, trusted: frozenset[int] = frozenset()
    ) -> Entry | None:
        """One member's entry, exactly as ``entries`` gives it, without reading the others."""
        intros = IntroductionRepository(self.session)
        found = intros.member(chat_id, user_id)
        if found is None or found[1].is_bot:
            return None
        membership, user, intro = found

        def in_country(sponsor_id: int) -> bool:
            sponsor = intros.member(chat_id, sponsor_id)
            return sponsor is not None and _in_country(sponsor[1], sponsor[2])

        return self._entry(membership, user, intro, now, in_country, trusted)

    def _entry(
        self,
        membership: Membership,
        user: User,
        intro: Introduction | None,
        now: datetime,
        in_country: Callable[[int], bool],
        trusted: frozenset[int],
        known: dict[int, MemberLifecycle] | None = None,
    ) -> Entry:
        row = self.ensure(membership, now, known)
        counts = sponsor_ok(intro.sponsor_id if intro else None, trusted, in_country)
        return Entry(row, membership, user, intro, facts(row, membership, intro, counts))

    # --- what people tell the bot ----------------------------------------------------------
    def set_departure(
        self, row: MemberLifecycle, day: date | None, by: int | None, now: datetime
    ) -> None:
        self.reset(row, now)
        row.departure_date, row.departure_set_by = day, by

    def answer_departure(self, row_id: int, answer: Answer, now: datetime) -> bool:
        """Record the departure answer; "leave" may follow "stay" until a sponsor confirms."""
        allowed = [None, Answer.STAY.value] if answer is Answer.LEAVE else [None]
        condition = or_(
            *[
                MemberLifecycle.departure_answer.is_(None)
                if a is None
                else MemberLifecycle.departure_answer == a
                for a in allowed
            ]
        )
        return self._changed(
            update(MemberLifecycle)
            .where(
                MemberLifecycle.id == row_id,
                MemberLifecycle.departure_asked_at.is_not(None),
                condition,
            )
            .values(departure_answer=answer.value, updated_at=now)
        )

    def set_pending_end(self, row_id: int, end: date, now: datetime) -> None:
        row = self.row(row_id)
        if row is not None:
            row.pending_end_date, row.updated_at = end, now

    def ask_sponsor(self, row_id: int, sponsor_id: int, end: date, now: datetime) -> None:
        row = self.row(row_id)
        if row is None:
            return
        row.pending_sponsor_id, row.pending_end_date = sponsor_id, end
        row.pending_since = row.pending_since or now
        row.updated_at = now

    def confirm_sponsor(
        self, row_id: int, sponsor_id: int, intro: Introduction, now: datetime
    ) -> date | None:
        """The named sponsor said yes: out-of-country until the agreed date. None if stale."""
        row = self.row(row_id)
        if row is None or row.pending_sponsor_id != sponsor_id or row.pending_end_date is None:
            return None
        end = row.pending_end_date
        intro.category, intro.end_date, intro.sponsor_id = Category.OUT_OF_COUNTRY, end, sponsor_id
        intro.updated_at = now
        self.reset(row, now)
        row.expiry_notice_for = None
        return end

    def decline_sponsor(self, row_id: int, sponsor_id: int, now: datetime) -> bool:
        return self._changed(
            update(MemberLifecycle)
            .where(MemberLifecycle.id == row_id, MemberLifecycle.pending_sponsor_id == sponsor_id)
            .values(pending_sponsor_id=None, updated_at=now)
        )

    def veteran_introduction(
        self, chat_id: int, user_id: int, joined_at: datetime, now: datetime
    ) -> Introduction:
        """Members from before the bot have no introduction row; category changes need one."""
        user = self.session.get(User, user_id)
        intro = Introduction(
            chat_id=chat_id,
            user_id=user_id,
            status=IntroStatus.COMPLETE,
            sponsor_note="member before the bot",
            first_name=user.first_name[:64] if user and user.last_name else None,
            last_name=user.last_name[:64] if user and user.last_name else None,
            category=Category.IN_COUNTRY,
            joined_at=joined_at,
            reminders_sent=0,
            created_at=now,
            updated_at=now,
        )
        self.session.add(intro)
        self.session.flush()
        return intro

    def extend(self, membership: Membership, intro: Introduction, end: date, now: datetime) -> None:
        """A new end date: the expiry notice and any removal attempt start afresh."""
        intro.end_date, intro.updated_at = end, now
        row = self.ensure(membership, now)
        row.expiry_notice_for = None
        row.removal_cause = row.removal_outcome = row.removal_attempted_at = None

    def checked_in(self, row_id: int, now: datetime) -> None:
        row = self.row(row_id)
        if row is not None:
            row.checked_in_at, row.updated_at = now, now

    # --- claims: each step once ------------------------------------------------------------
    def claim_departure_question(self, row_id: int, now: datetime) -> bool:
        return self._changed(
            update(MemberLifecycle)
            .where(
                MemberLifecycle.id == row_id,
                MemberLifecycle.departure_date.is_not(None),
                MemberLifecycle.departure_asked_at.is_(None),
            )
            .values(departure_asked_at=now, updated_at=now)
        )

    def claim_expiry_notice(self, row_id: int, end: date, now: datetime) -> bool:
        return self._changed(
            update(MemberLifecycle)
            .where(
                MemberLifecycle.id == row_id,
                or_(
                    MemberLifecycle.expiry_notice_for.is_(None),
                    MemberLifecycle.expiry_notice_for != end,
                ),
            )
            .values(expiry_notice_for=end, updated_at=now)
        )

    def claim_sponsor_lost(self, row_id: int, now: datetime, end: date | None) -> bool:
        return self._changed(
            update(MemberLifecycle)
            .where(MemberLifecycle.id == row_id, MemberLifecycle.sponsor_lost_at.is_(None))
            .values(sponsor_lost_at=now, pending_end_date=end, updated_at=now)
        )

    def clear_sponsor_lost(self, row_id: int, now: datetime) -> None:
        self.session.execute(
            update(MemberLifecycle)
            .where(MemberLifecycle.id == row_id)
            .values(
                sponsor_lost_at=None, pending_sponsor_id=None, pending_since=None, updated_at=now
            )
        )

    def claim_checkin(self, row_id: int, previous: datetime | None, now: datetime) -> bool:
        column = MemberLifecycle.checkin_asked_at
        return self._changed(
            update(MemberLifecycle)
            .where(
                MemberLifecycle.id == row_id,
                column.is_(None) if previous is None else column == previous,
            )
            .values(checkin_asked_at=now, updated_at=now)
        )

    def claim_removal(
        self, row_id: int, cause: Cause, now: datetime, retry_before: datetime
    ) -> bool:
        """Start a removal unless one for this cause was already tried (failures: once a day)."""
        return self._changed(
            update(MemberLifecycle)
            .where(
                MemberLifecycle.id == row_id,
                or_(
                    MemberLifecycle.removal_cause.is_(None),
                    MemberLifecycle.removal_cause != cause.value,
                    and_(
                        MemberLifecycle.removal_outcome == Outcome.FAILED.value,
                        MemberLifecycle.removal_attempted_at <= retry_before,
                    ),
                ),
            )
            .values(
                removal_cause=cause.value,
                removal_outcome=Outcome.ATTEMPTING.value,
                removal_attempted_at=now,
                updated_at=now,
            )
        )

    def removal_done(self, row_id: int, outcome: Outcome, now: datetime) -> None:
        self.session.execute(
            update(MemberLifecycle)
            .where(MemberLifecycle.id == row_id)
            .values(removal_outcome=outcome.value, updated_at=now)
        )

    # --- the audit trail -------------------------------------------------------------------
    def record(
        self,
        chat_id: int,
        user_id: int,
        now: datetime,
        cause: str,
        actor_id: int | None,
        old: str | None,
        new: str,
    ) -> None:
        """A lifecycle change that is not a roster status change (category, sponsor, dates)."""
        self.session.add(
            MembershipEvent(
                chat_id=chat_id,
                user_id=user_id,
                at=now,
                old_status=old,
                new_status=new,
                actor_id=actor_id,
                cause=cause[:255],
            )
        )

    # --- retention -------------------------------------------------------------------------
    def former_members(self) -> dict[int, list[Membership]]:
        """People with memberships none of which is present, with those memberships."""
        memberships = self.session.scalars(select(Membership)).all()
        by_user: dict[int, list[Membership]] = {}
        for membership in memberships:
            by_user.setdefault(membership.user_id, []).append(membership)
        return {
            uid: found for uid, found in by_user.items() if not any(m.status.present for m in found)
        }

    def erase(self, user_id: int, now: datetime) -> None:
        """Erase a former member's personal data; the audit trail keeps anonymised lines."""
        ContactRepository(self.session).forget(user_id, now)
        CalendarFeedRepository(self.session).forget(user_id)
        requests = select(JoinRequest.id).where(JoinRequest.user_id == user_id)
        self.session.execute(
            update(JoinRequest).where(JoinRequest.id.in_(requests)).values(invitation_id=None)
        )
        self.session.execute(delete(JoinRequest).where(JoinRequest.user_id == user_id))
        self.session.execute(
            update(JoinRequest)
            .where(
                JoinRequest.invitation_id.in_(
                    select(Invitation.id).where(Invitation.used_by_id == user_id)
                )
            )
            .values(invitation_id=None)
        )
        self.session.execute(delete(Invitation).where(Invitation.used_by_id == user_id))
        self.session.execute(delete(MemberLifecycle).where(MemberLifecycle.user_id == user_id))
        self.session.execute(delete(Introduction).where(Introduction.user_id == user_id))
        self.session.execute(delete(Membership).where(Membership.user_id == user_id))
        events = self.session.scalars(
            select(MembershipEvent).where(MembershipEvent.user_id == user_id)
        ).all()
        for chat_id in sorted({e.chat_id for e in events}):
            last = max((e for e in events if e.chat_id == chat_id), key=lambda e: e.id)
            self.session.add(
                MembershipEvent(
                    chat_id=chat_id,
                    user_id=0,
                    at=now,
                    old_status=last.new_status,
                    new_status="erased",
                    actor_id=None,
                    cause=(
                        f"a former member's personal data erased after the retention period "
                        f"(last change {last.at:%Y-%m-%d}: {last.cause})"
                    )[:255],
                )
            )
        self.session.execute(delete(MembershipEvent).where(MembershipEvent.user_id == user_id))
        self.session.execute(
            update(MembershipEvent).where(MembershipEvent.actor_id == user_id).values(actor_id=None)
        )
        user = self.session.get(User, user_id)
        if user is not None:
            self.session.delete(user)
        self.session.flush()

    def is_partner(self, user_id: int) -> bool:
        return self.session.get(Partner, user_id) is not None

    def lifecycle_rows(self, chat_id: int) -> Sequence[MemberLifecycle]:
        return self.session.scalars(
            select(MemberLifecycle).where(MemberLifecycle.chat_id == chat_id)
        ).all()
