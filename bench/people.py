"""Realistic, varied people for the footprint benchmark: names from Faker in several locales
(Latin, Cyrillic and Arabic script), members on the roster and contacts in the directory.

Faker is in the ``bench`` extra (``pip install -e '.[bench]'``); the test suite does not need it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.contacts_lookup import contacts as template_contacts
from moderation.contacts import search_key

LOCALES = {"en_US": "en", "uk_UA": "uk", "ru_RU": "ru", "ar_AA": "ar", "fr_FR": "fr"}
MEMBER_BASE = 20_000_000


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str


def names(count: int, seed: int = 3) -> list[Person]:
    """``count`` people, the locales taking turns; names repeat as often as Faker's lists make
    them (thousands of distinct first and last names), usernames are unique when present."""
    from faker import Faker  # the bench extra

    fakers = []
    for i, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed + i)
        fakers.append((fake, LOCALES[locale]))
    rng = random.Random(seed)
    people = []
    for i in range(count):
        fake, language = fakers[i % len(fakers)]
        first, last = fake.first_name(), fake.last_name()
        username = None
        if rng.random() < 0.6:  # not everyone has a username
            username = f"{fake.user_name()[:20]}{i}"
        people.append(Person(first, last if rng.random() < 0.9 else None, username, language))
    return people


def member_rows(people: list[Person], now: datetime) -> list[dict[str, Any]]:
    return [
        dict(
            id=MEMBER_BASE + i,
            first_name=p.first_name,
            last_name=p.last_name,
            username=p.username,
            language_code=p.language_code,
            is_bot=False,
            started_bot=i % 2 == 0,
            blocked_bot=False,
            first_seen=now,
            last_seen=now,
        )
        for i, p in enumerate(people)
    ]


def contact_rows(people: list[Person], now: datetime) -> list[dict[str, Any]]:
    """Directory rows shaped as ``bench.contacts_lookup`` makes them (organisations, clusters,
    places, consent for 90 %), with the Faker names."""
    rows = template_contacts(len(people), random.Random(5), now)
    for row, person in zip(rows, people, strict=True):
        row["name"] = " ".join(n for n in (person.first_name, person.last_name) if n)
        fields = ("name", "organisation", "role", "clusters", "location")
        row["search_text"] = " ".join(search_key(str(row[f])) for f in fields)
    return rows
