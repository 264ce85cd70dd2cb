"""What a contact says: the values a person or an import gives, disclosure levels, clusters,
and the view the rules in ``moderation/contacts.py`` take of a contact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from moderation.contacts import FIELDS, SEARCHABLE, Level, Subject, search_key
from storage.models import Contact


@dataclass(frozen=True)
class ContactValues:
    """What a person (or an import) says about a contact; empty string = not given."""

    name: str
    organisation: str = ""
    role: str = ""
    clusters: tuple[str, ...] = ()
    location: str = ""
    phone: str = ""
    email: str = ""
    telegram: str = ""
    focal_point: bool = False


class Shown(Protocol):
    """The displayed fields of a contact: a ``Contact`` row, or an import's view of one."""

    @property
    def name(self) -> str: ...
    @property
    def organisation(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def clusters(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def telegram(self) -> str: ...
    @property
    def focal_point(self) -> bool: ...


def encode_levels(levels: Mapping[str, Level]) -> str:
    return ";".join(f"{k}={v.value}" for k, v in sorted(levels.items()) if k in FIELDS)


def decode_levels(text: str, defaults: Mapping[str, Level]) -> dict[str, Level]:
    levels = dict(defaults)
    for part in text.split(";"):
        key, _, value = part.partition("=")
        if key in FIELDS and value in Level._value2member_map_:
            levels[key] = Level(value)
    return levels


def cluster_list(contact: Shown) -> list[str]:
    """The clusters the person describes themselves in (information only)."""
    return [c for c in contact.clusters.split("|") if c]


def confirmed_cluster_list(contact: Contact) -> list[str]:
    """Clusters a sponsor, a moderator or an import confirmed: the ones that open fields."""
    return [c for c in contact.confirmed_clusters.split("|") if c]


def merge_clusters(*lists: Iterable[str]) -> str:
    seen: dict[str, str] = {}
    for names in lists:
        for name in names:
            if name.strip() and name.strip().casefold() not in seen:
                seen[name.strip().casefold()] = name.strip()
    return "|".join(seen.values())


def values_of(contact: Shown) -> dict[str, str]:
    """The displayable value of every field (empty when not given)."""
    return {
        "name": contact.name,
        "organisation": contact.organisation,
        "role": contact.role,
        "clusters": ", ".join(cluster_list(contact)),
        "location": contact.location,
        "phone": contact.phone,
        "email": contact.email,
        "telegram": contact.telegram,
        "focal_point": "yes" if contact.focal_point else "",
    }


def subject_of(contact: Contact, defaults: Mapping[str, Level]) -> Subject:
    return Subject(
        contact_id=contact.id,
        user_id=contact.user_id,
        consented=contact.consent == "given",
        clusters=frozenset(confirmed_cluster_list(contact)),
        levels=decode_levels(contact.levels, defaults),
        is_focal_point=contact.focal_point,
    )


def search_text_of(contact: Shown) -> str:
    values = values_of(contact)
    return " ".join(search_key(values[f]) for f in SEARCHABLE if values[f])
