"""The /status report, composed from typed results.

No database and no sending here: ``handlers.status`` reads the database and asks Telegram, fills
these records and replies with what ``status_text`` returns. Every name and error message that
came from outside (replica ids, sweep errors, group titles, Telegram's refusals) goes through
``esc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.render import esc
from handlers.roster import RIGHT_NAMES
from i18n import N_, _, comma_join, duration_text
from storage.models import ReplicaRow, SweepRunRow
from storage.ops import OutboxCounts

# What the bot is in a group where it is not an admin (Telegram's ChatMember.status).
MEMBER_STATUS = {
    "member": N_("a member"),
    "restricted": N_("a restricted member"),
    "left": N_("not in the group"),
    "kicked": N_("banned"),
}


def ago(now: datetime, then: datetime | None) -> str:
    if then is None:
        return _("never")
    if then > now:
        return _("in {duration}", duration=duration_text(then - now))
    if now - then < timedelta(minutes=1):
        return _("just now")
    return _("{duration} ago", duration=duration_text(now - then))


@dataclass(frozen=True)
class SweepState:
    """A configured sweep, how often it runs, and its last run (None: not run yet)."""

    name: str
    every: timedelta
    last: SweepRunRow | None


@dataclass(frozen=True)
class DatabaseUp:
    """What the database said: schema revisions, reminders waiting, sweeps, live replicas."""

    revision: str | None
    head: str | None
    outbox: OutboxCounts
    sweeps: Sequence[SweepState]
    replicas: Sequence[ReplicaRow]  # the ones alive now


@dataclass(frozen=True)
class DatabaseDown:
    """The database could not be read; ``reason`` is the driver's first line."""

    reason: str


@dataclass(frozen=True)
class GroupCheck:
    """What Telegram said the bot is in a configured group (``error``: it would not say)."""

    title: str
    error: str | None = None
    is_admin: bool = False
    status: str = ""  # Telegram's ChatMember.status
    missing: Sequence[str] = ()  # the rights the bot needs and lacks


@dataclass(frozen=True)
class Status:
    """Everything /status reports, read at ``now`` by the replica answering."""

    replica: str
    role: str
    started_at: datetime
    last_update_at: datetime | None
    now: datetime
    database: DatabaseUp | DatabaseDown
    groups: Sequence[GroupCheck]


def status_text(status: Status) -> str:
    """The whole /status reply."""
    now = status.now
    lines = [
        _(
            "<b>Status</b> of {replica} ({role}), up {uptime}",
            replica=esc(status.replica),
            role=esc(status.role),
            uptime=duration_text(now - status.started_at),
        ),
        _("<b>Last update received here:</b> {when}", when=ago(now, status.last_update_at)),
        *database_lines(status.database, now),
        *group_lines(status.groups),
    ]
    return "\n".join(lines)


def database_lines(database: DatabaseUp | DatabaseDown, now: datetime) -> list[str]:
    """Reachability, schema, reminders, sweeps, other replicas."""
    if isinstance(database, DatabaseDown):
        return [_("🔴 <b>Database:</b> unreachable ({reason})", reason=esc(database.reason))]
    outbox = database.outbox
    lines = [
        _(
            "🟢 <b>Database:</b> reachable, schema {revision} (this program: {head})",
            revision=esc(database.revision or "-"),
            head=esc(database.head or "-"),
        ),
        _(
            "<b>Reminders waiting:</b> {due} due now, {later} later, {sending} being sent",
            due=outbox.due,
            later=outbox.later,
            sending=outbox.sending,
        ),
        _("<b>Possibly sent twice</b> (a sender died mid-send): {n}", n=outbox.maybe_twice),
        _("<b>Sweeps</b> (last run → next):"),
    ]
    for sweep in database.sweeps:
        run = sweep.last
        if run is None:
            lines.append(_("• {name}: not run yet", name=esc(sweep.name)))
            continue
        values = {
            "state": "✅" if run.ok else ("⏳" if run.ok is None else "❌"),
            "name": esc(sweep.name),
            "last": ago(now, run.started_at),
            "replica": esc(run.replica),
            "next": ago(now, run.started_at + sweep.every),
        }
        if run.error:
            lines.append(
                _(
                    "• {state} {name}: {last} by {replica} → {next}: {error}",
                    error=esc(run.error),
                    **values,
                )
            )
        else:
            lines.append(_("• {state} {name}: {last} by {replica} → {next}", **values))
    lines.append(_("<b>Replicas running:</b> {count}", count=len(database.replicas)))
    for replica in database.replicas:
        lines.append(
            _(
                "• {id} ({role}), last update {update}",
                id=esc(replica.id),
                role=esc(replica.role),
                update=ago(now, replica.last_update_at),
            )
        )
    return lines


def group_lines(groups: Sequence[GroupCheck]) -> list[str]:
    """What the bot is in each configured group, and the rights it lacks there."""
    lines = [_("<b>Groups:</b>")]
    for group in groups:
        title = esc(group.title)
        if group.error is not None:
            lines.append(
                _("• ❌ {title}: cannot check ({error})", title=title, error=esc(group.error))
            )
        elif group.is_admin and not group.missing:
            lines.append(_("• ✅ {title}: admin with every right I need", title=title))
        elif group.is_admin:
            lines.append(
                _(
                    "• ⚠️ {title}: admin, but missing {rights}",
                    title=title,
                    rights=esc(comma_join(_(RIGHT_NAMES.get(r, r)) for r in group.missing)),
                )
            )
        else:
            lines.append(
                _(
                    "• ❌ {title}: I am {status}, not an admin (I need {rights})",
                    title=title,
                    status=esc(_(MEMBER_STATUS.get(group.status, group.status))),
                    rights=esc(comma_join(_(RIGHT_NAMES.get(r, r)) for r in group.missing)),
                )
            )
    return lines
