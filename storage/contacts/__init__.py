"""The contact directory's storage: ``values`` (what a contact says, levels, clusters),
``repository`` (``ContactRepository``, every query), ``importing`` (``import_contacts``).

The package re-exports their public names, so ``from storage.contacts import X`` keeps working."""

from __future__ import annotations

from storage.contacts.importing import ImportReport, import_contacts
from storage.contacts.repository import CANDIDATES, ContactRepository
from storage.contacts.values import (
    ContactValues,
    cluster_list,
    confirmed_cluster_list,
    decode_levels,
    encode_levels,
    merge_clusters,
    search_text_of,
    subject_of,
    values_of,
)

__all__ = [
    "CANDIDATES",
    "ContactRepository",
    "ContactValues",
    "ImportReport",
    "cluster_list",
    "confirmed_cluster_list",
    "decode_levels",
    "encode_levels",
    "import_contacts",
    "merge_clusters",
    "search_text_of",
    "subject_of",
    "values_of",
]
