"""The /report rules as the README states them: any member may report any message except the
moderators', the bot's and their own; at most N reports per period; the N-th distinct reporter
hides the message when a threshold is set."""

from __future__ import annotations

import pytest

from moderation.reports import (
    NotReportable,
    ReportedMessage,
    hides_the_message,
    over_report_rate,
    why_not_reportable,
)

REPORTER, AUTHOR, CHANNEL = 11, 22, -100_555


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (ReportedMessage(AUTHOR), None),
        (ReportedMessage(CHANNEL), None),  # a post sent as a channel is moderated like a person
        (ReportedMessage(REPORTER), NotReportable.OWN),
        (ReportedMessage(AUTHOR, by_the_bot=True), NotReportable.THE_BOT),
        (ReportedMessage(AUTHOR, by_a_moderator=True), NotReportable.MODERATORS),
        (ReportedMessage(None, anonymous_admin=True), NotReportable.MODERATORS),
        (ReportedMessage(None), NotReportable.NO_AUTHOR),
        # A moderator reporting their own message is still told moderators' messages are exempt.
        (ReportedMessage(REPORTER, by_a_moderator=True), NotReportable.MODERATORS),
    ],
)
def test_who_may_be_reported(message: ReportedMessage, expected: NotReportable | None) -> None:
    assert why_not_reportable(message, REPORTER) is expected


def test_the_rate_allows_exactly_n_reports_per_period() -> None:
    allowed = 5
    assert [over_report_rate(done, allowed) for done in range(7)] == [False] * 5 + [True] * 2


def test_only_the_reporter_reaching_the_threshold_hides_and_never_without_one() -> None:
    assert [hides_the_message(True, n, 3) for n in (1, 2, 3)] == [False, False, True]
    assert not hides_the_message(False, 3, 3)  # the same reporter again: nothing new
    assert not any(hides_the_message(True, n, 0) for n in range(1, 50))  # 0: off
