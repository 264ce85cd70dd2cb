"""What others see of one's own directory entry: the audiences the Mini App's profile screen
previews, each a ``Requester`` put to the one consent policy (``disclosed``), never a second
one. Pure: no Telegram, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from i18n import N_, _
from moderation.contacts import Requester, Subject, disclosed

# (key, English label): an ordinary member, a member of your (confirmed) cluster, your cluster's
# coordinator, a moderator. Nobody's own grants count in a preview: it shows what a level gives.
AUDIENCES: tuple[tuple[str, str], ...] = (
    ("member", N_("A member of the group")),
    ("cluster", N_("A member of your cluster")),
    ("coordinator", N_("A coordinator of your cluster")),
    ("moderator", N_("A moderator")),
)
NOBODY = 0  # a requester who is not the person (user ids are positive)


def audience(key: str, clusters: Iterable[str]) -> Requester:
    """The stand-in requester for one audience, sharing ``clusters`` (your confirmed ones)."""
    mine = frozenset(clusters)
    if key == "moderator":
        return Requester(NOBODY, is_member=True, is_moderator=True)
    if key == "coordinator":
        return Requester(NOBODY, is_member=True, is_cluster_coordinator=True, clusters=mine)
    if key == "cluster":
        return Requester(NOBODY, is_member=True, clusters=mine)
    return Requester(NOBODY, is_member=True)


def previews(subject: Subject, values: Mapping[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """Per audience: its key, its label in the current language, and the values it sees."""
    return [
        (key, _(label), disclosed(audience(key, subject.clusters), subject, values, ()))
        for key, label in AUDIENCES
    ]
