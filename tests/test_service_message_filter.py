"""The watcher's cheap service-message filter agrees with PTB's ``~filters.StatusUpdate.ALL``.

The watcher takes every group message that is not a service message. Asking PTB's ~50
service-message filters one by one was a fifth of the bot's CPU per ordinary message, so the
watcher answers a message with text at once. The oracle is PTB's own filter, on messages
shaped as Telegram sends them: service messages never carry text.
"""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot, Update
from telegram.ext import filters

from handlers.moderation.watcher import NOT_A_SERVICE_MESSAGE

GROUP = {"id": -100123, "type": "supergroup", "title": "IM Ukraine"}
ALICE = {"id": 11, "is_bot": False, "first_name": "Alice"}
BOB = {"id": 12, "is_bot": False, "first_name": "Bob"}
PHOTO = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]

# What Telegram sends in a group, each with the part that makes it what it is.
SERVICE: dict[str, dict[str, Any]] = {
    "joined": {"new_chat_members": [BOB]},
    "left": {"left_chat_member": BOB},
    "title": {"new_chat_title": "IM Ukraine (new)"},
    "photo": {"new_chat_photo": PHOTO},
    "photo removed": {"delete_chat_photo": True},
    "created": {"group_chat_created": True},
    "migrated": {"migrate_from_chat_id": -4321},
    "pinned": {
        "pinned_message": {
            "message_id": 3,
            "date": 1_700_000_000,
            "chat": GROUP,
            "from": ALICE,
            "text": "Pinned: the 3W template",
        }
    },
    "topic created": {"forum_topic_created": {"name": "WASH", "icon_color": 7322096}},
    "topic closed": {"forum_topic_closed": {}},
    "video chat": {"video_chat_started": {}},
    "write access": {"write_access_allowed": {}},
}
ORDINARY: dict[str, dict[str, Any]] = {
    "text": {"text": "Morning all"},
    "text with a command": {
        "text": "/deadlines",
        "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
    },
    "text with a link": {"text": "see https://example.org"},
    "photo": {"photo": PHOTO},
    "photo with caption": {"photo": PHOTO, "caption": "Kharkiv 3W"},
    "sticker": {
        "sticker": {
            "file_id": "s1",
            "file_unique_id": "su1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    },
    "document": {"document": {"file_id": "d1", "file_unique_id": "du1"}},
    "location": {"location": {"latitude": 50.45, "longitude": 30.52}},
    "contact": {"contact": {"phone_number": "+380000000", "first_name": "Olena"}},
    "dice": {"dice": {"emoji": "🎲", "value": 3}},
}


def update_of(part: dict[str, Any]) -> Update:
    message = {"message_id": 7, "date": 1_700_000_000, "chat": GROUP, "from": ALICE, **part}
    return Update.de_json({"update_id": 1, "message": message}, Bot("1:x"))


@pytest.mark.parametrize("kind", sorted(SERVICE))
def test_a_service_message_is_refused_as_ptb_refuses_it(kind: str) -> None:
    update = update_of(SERVICE[kind])
    assert filters.StatusUpdate.ALL.check_update(update)  # the oracle knows it as a service message
    assert not NOT_A_SERVICE_MESSAGE.check_update(update)


@pytest.mark.parametrize("kind", sorted(ORDINARY))
def test_an_ordinary_message_is_taken_as_ptb_takes_it(kind: str) -> None:
    update = update_of(ORDINARY[kind])
    assert not filters.StatusUpdate.ALL.check_update(update)
    assert NOT_A_SERVICE_MESSAGE.check_update(update)
