"""Queries on sponsorship: invitations, introductions (admissions) and join requests.

Claims that two people or two processes could race for (pressing "I sponsor", sending a
reminder) are conditional UPDATEs: exactly one wins, without locks held across Telegram calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.engine import CursorResult

from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus
from storage.db import SessionRepository
from storage.models import Introduction, Invitation, JoinRequest, Membership, User


def present_members(chat_id: int) -> Select[Membership, User, Introduction]:
    """Present members of ``chat_id`` with their user row and introduction (if any)."""
    return (
        select(Membership, User, Introduction)
        .join(User, User.id == Membership.user_id)
        .outerjoin(
            Introduction,
            (Introduction.chat_id == Membership.chat_id)
            & (Introduction.user_id == Membership.user_id),
        )
        .where(
            Membership.chat_id == chat_id,
            Membership.status.not_in([MemberStatus.LEFT, MemberStatus.REMOVED]),
        )
    )


class IntroductionRepository(SessionRepository):
    # --- invitations ---------------------------------------------------------------------
    def add_invitation(self, invitation: Invitation) -> Invitation:
        self.session.add(invitation)
        self.session.flush()
        return invitation

    def invitation(self, invitation_id: int) -> Invitation | None:
        return self.session.get(Invitation, invitation_id)

    def invitation_by_link(self, url: str | None) -> Invitation | None:
        if not url:
            return None
        return self.session.scalars(select(Invitation).where(Invitation.link_url == url)).first()

    def open_invitations(self, sponsor_id: int) -> Sequence[Invitation]:
        return self.session.scalars(
            select(Invitation).where(
                Invitation.sponsor_id == sponsor_id, Invitation.status == "open"
            )
        ).all()

    def use_invitation(self, invitation_id: int, user_id: int) -> bool:
        """Mark an open invitation used; False when it was already used or expired."""
        return self._changed(
            update(Invitation)
            .where(Invitation.id == invitation_id, Invitation.status == "open")
            .values(status="used", used_by_id=user_id)
        )

    def expire_invitations(self, now: datetime) -> int:
        result = self.session.execute(
            update(Invitation)
            .where(Invitation.status == "open", Invitation.expires_at <= now)
            .values(status="expired")
        )
        assert isinstance(result, CursorResult)
        return result.rowcount

    # --- introductions -------------------------------------------------------------------
    def introduction(self, chat_id: int, user_id: int) -> Introduction | None:
        return self.session.scalars(
            select(Introduction).where(
                Introduction.chat_id == chat_id, Introduction.user_id == user_id
            )
        ).first()

    def introduction_by_id(self, introduction_id: int) -> Introduction | None:
        return self.session.get(Introduction, introduction_id)

    def start_admission(
        self,
        chat_id: int,
        user_id: int,
        now: datetime,
        status: IntroStatus,
        sponsor_id: int | None,
        note: str,
    ) -> Introduction:
        """A new admission for this person in this group (replacing any earlier one)."""
        intro = self.introduction(chat_id, user_id)
        if intro is None:
            intro = Introduction(chat_id=chat_id, user_id=user_id, created_at=now)
            self.session.add(intro)
        intro.status, intro.sponsor_id, intro.sponsor_note = status, sponsor_id, note
        for field in (
            "first_name",
            "last_name",
            "organisation",
            "role",
            "cluster",
            "location",
            "category",
            "end_date",
            "reason",
            "sponsor_done_at",
            "confirmed_at",
            "card_message_id",
        ):
            setattr(intro, field, None)
        intro.joined_at = now
        intro.reminders_sent = 0
        intro.updated_at = now
        self.session.flush()
        return intro

    def incomplete(self, chat_id: int | None = None) -> Sequence[Introduction]:
        query = select(Introduction).where(
            Introduction.status.in_([IntroStatus.PENDING, IntroStatus.HELD])
        )
        if chat_id is not None:
            query = query.where(Introduction.chat_id == chat_id)
        return self.session.scalars(query.order_by(Introduction.joined_at)).all()

    def claim_reminder(self, introduction_id: int, sent_before: int, sent_now: int) -> bool:
        """Record reminder ``sent_now`` unless another process already did."""
        return self._changed(
            update(Introduction)
            .where(
                Introduction.id == introduction_id,
                Introduction.reminders_sent == sent_before,
                Introduction.status.in_([IntroStatus.PENDING, IntroStatus.HELD]),
            )
            .values(reminders_sent=sent_now)
        )

    def claim_status(
        self, introduction_id: int, before: IntroStatus, after: IntroStatus, now: datetime
    ) -> bool:
        return self._changed(
            update(Introduction)
            .where(Introduction.id == introduction_id, Introduction.status == before)
            .values(status=after, updated_at=now)
        )

    # --- join requests -------------------------------------------------------------------
    def add_join_request(self, chat_id: int, user_id: int, now: datetime) -> JoinRequest:
        existing = self.open_join_request(chat_id, user_id)
        if existing is not None:
            return existing
        request = JoinRequest(chat_id=chat_id, user_id=user_id, status="open", requested_at=now)
        self.session.add(request)
        self.session.flush()
        return request

    def join_request(self, request_id: int) -> JoinRequest | None:
        return self.session.get(JoinRequest, request_id)

    def open_join_request(self, chat_id: int, user_id: int) -> JoinRequest | None:
        return self.session.scalars(
            select(JoinRequest).where(
                JoinRequest.chat_id == chat_id,
                JoinRequest.user_id == user_id,
                JoinRequest.status.in_(["open", "sponsored"]),
            )
        ).first()

    def approved_join_request(self, chat_id: int, user_id: int) -> JoinRequest | None:
        return self.session.scalars(
            select(JoinRequest)
            .where(
                JoinRequest.chat_id == chat_id,
                JoinRequest.user_id == user_id,
                JoinRequest.status == "approved",
            )
            .order_by(JoinRequest.id.desc())
        ).first()

    def claim_sponsorship(self, request_id: int, sponsor_id: int) -> bool:
        """The first member to vouch becomes the sponsor; everyone after them is told so."""
        return self._changed(
            update(JoinRequest)
            .where(
                JoinRequest.id == request_id,
                JoinRequest.status == "open",
                JoinRequest.sponsor_id.is_(None),
            )
            .values(status="sponsored", sponsor_id=sponsor_id)
        )

    def decide_join_request(
        self, request_id: int, status: str, by: int | None, now: datetime
    ) -> bool:
        return self._changed(
            update(JoinRequest)
            .where(JoinRequest.id == request_id, JoinRequest.status.in_(["open", "sponsored"]))
            .values(status=status, decided_by_id=by, decided_at=now)
        )

    def open_join_requests(self, chat_id: int | None = None) -> Sequence[JoinRequest]:
        query = select(JoinRequest).where(JoinRequest.status.in_(["open", "sponsored"]))
        if chat_id is not None:
            query = query.where(JoinRequest.chat_id == chat_id)
        return self.session.scalars(query.order_by(JoinRequest.requested_at)).all()

    # --- listings ------------------------------------------------------------------------
    def members(self, chat_id: int) -> Sequence[tuple[Membership, User, Introduction | None]]:
        query = present_members(chat_id).order_by(User.first_name, User.last_name, User.id)
        return [(m, u, i) for m, u, i in self.session.execute(query)]

    def member(
        self, chat_id: int, user_id: int
    ) -> tuple[Membership, User, Introduction | None] | None:
        """One present member, as ``members`` would list them (None if not present)."""
        found = self.session.execute(
            present_members(chat_id).where(Membership.user_id == user_id)
        ).first()
        return (found[0], found[1], found[2]) if found is not None else None
