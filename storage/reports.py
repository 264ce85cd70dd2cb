"""Queries for /report: one report per message, one vote per reporter, each decision once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from storage.db import SessionRepository
from storage.models import Report, ReportDecision, ReportPost, ReportVote

DISMISS = "dismiss"


@dataclass(frozen=True, slots=True)
class Reporter:
    user_id: int
    dismissed: int  # how many of their reports (of any message) the moderators dismissed


class ReportRepository(SessionRepository):
    def report(self, report_id: int) -> Report | None:
        return self.session.get(Report, report_id)

    def votes_since(self, reporter_id: int, since: datetime) -> int:
        return (
            self.session.scalar(
                select(func.count())
                .select_from(ReportVote)
                .where(ReportVote.reporter_id == reporter_id, ReportVote.at > since)
            )
            or 0
        )

    def oldest_vote_since(self, reporter_id: int, since: datetime) -> datetime | None:
        return self.session.scalar(
            select(func.min(ReportVote.at)).where(
                ReportVote.reporter_id == reporter_id, ReportVote.at > since
            )
        )

    def has_voted(self, chat_id: int, message_id: int, reporter_id: int) -> bool:
        return (
            self.session.scalar(
                select(ReportVote.id)
                .join(Report, Report.id == ReportVote.report_id)
                .where(
                    Report.chat_id == chat_id,
                    Report.message_id == message_id,
                    ReportVote.reporter_id == reporter_id,
                )
            )
            is not None
        )

    def vote(
        self,
        chat_id: int,
        message_id: int,
        author_id: int,
        excerpt: str,
        reporter_id: int,
        now: datetime,
    ) -> tuple[Report, bool, bool]:
        """The message's report, whether this vote is new, and whether this call made the report
        (only its maker posts the entry: two replicas taking the first two votes at once post
        one entry, not two)."""
        report = self._report_of(chat_id, message_id)
        created = False
        if report is None:
            try:
                with self.session.begin_nested():
                    report = Report(
                        chat_id=chat_id,
                        message_id=message_id,
                        author_id=author_id,
                        excerpt=excerpt[:300],
                        status="open",
                        hidden=False,
                        created_at=now,
                    )
                    self.session.add(report)
                created = True
            except IntegrityError:  # another replica made it first
                report = self._report_of(chat_id, message_id)
        assert report is not None
        try:
            with self.session.begin_nested():
                self.session.add(ReportVote(report_id=report.id, reporter_id=reporter_id, at=now))
        except IntegrityError:
            return report, False, created
        return report, True, created

    def _report_of(self, chat_id: int, message_id: int) -> Report | None:
        return self.session.scalar(
            select(Report).where(Report.chat_id == chat_id, Report.message_id == message_id)
        )

    def reporters(self, report_id: int) -> list[Reporter]:
        """The distinct reporters, first first, each with how many of their reports of *other*
        messages were dismissed."""
        ids = self.session.scalars(
            select(ReportVote.reporter_id)
            .where(ReportVote.report_id == report_id)
            .order_by(ReportVote.at, ReportVote.id)
        ).all()
        rows = self.session.execute(
            select(ReportVote.reporter_id, func.count())
            .join(Report, Report.id == ReportVote.report_id)
            .where(
                ReportVote.reporter_id.in_(ids),
                Report.status == "dismissed",
                Report.id != report_id,
            )
            .group_by(ReportVote.reporter_id)
        )
        dismissed: dict[int, int] = {uid: n for uid, n in rows}
        return [Reporter(uid, dismissed.get(uid, 0)) for uid in ids]

    def mark_hidden(self, report_id: int) -> bool:
        """True for the one call that hides the message (later calls find it hidden)."""
        result = self.session.execute(
            update(Report)
            .where(Report.id == report_id, Report.hidden.is_(False))
            .values(hidden=True)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def unhide(self, report_id: int) -> None:
        """The message could not be deleted: it is not hidden (the next reporter tries again)."""
        self.session.execute(update(Report).where(Report.id == report_id).values(hidden=False))

    # --- decisions ---------------------------------------------------------------------------
    def decide(self, report_id: int, decision: str, by_id: int, now: datetime) -> bool:
        """Take ``decision`` once: dismiss only an open report, the others only one not dismissed.
        False when it was taken already or the report's state forbids it."""
        if decision == DISMISS:
            allowed = Report.status == "open"
            status = "dismissed"
        else:
            allowed = Report.status.in_(("open", "acted"))
            status = "acted"
        result = self.session.execute(
            update(Report).where(Report.id == report_id, allowed).values(status=status)
        )
        assert isinstance(result, CursorResult)
        if result.rowcount != 1:
            return False
        try:
            with self.session.begin_nested():
                self.session.add(
                    ReportDecision(report_id=report_id, decision=decision, by_id=by_id, at=now)
                )
        except IntegrityError:
            return False
        return True

    def undecide(self, report_id: int, decision: str) -> None:
        """Give a decision back when Telegram refused to carry it out."""
        self.session.execute(
            delete(ReportDecision).where(
                ReportDecision.report_id == report_id, ReportDecision.decision == decision
            )
        )
        if not self.decisions(report_id):
            self.session.execute(update(Report).where(Report.id == report_id).values(status="open"))

    def decisions(self, report_id: int) -> Sequence[ReportDecision]:
        return self.session.scalars(
            select(ReportDecision)
            .where(ReportDecision.report_id == report_id)
            .order_by(ReportDecision.at, ReportDecision.id)
        ).all()

    # --- where the entry is shown ------------------------------------------------------------
    def add_post(self, report_id: int, chat_id: int, message_id: int) -> None:
        self.session.add(ReportPost(report_id=report_id, chat_id=chat_id, message_id=message_id))
        self.session.flush()

    def posts(self, report_id: int) -> list[tuple[int, int]]:
        return [
            (p.chat_id, p.message_id)
            for p in self.session.scalars(
                select(ReportPost).where(ReportPost.report_id == report_id).order_by(ReportPost.id)
            )
        ]

    def posted_at(self, report_id: int, chat_id: int, message_id: int) -> bool:
        return (
            self.session.scalar(
                select(ReportPost.id).where(
                    ReportPost.report_id == report_id,
                    ReportPost.chat_id == chat_id,
                    ReportPost.message_id == message_id,
                )
            )
            is not None
        )
