"""What the mention handlers share: constants, the roster as the rules see it, tags."""

from __future__ import annotations

from config.schema import GroupConfig
from handlers.common import role
from handlers.render import esc_attr, mention, truncate
from moderation import mentions as rules
from moderation.mentions import Member, Tag
from moderation.permissions import Role
from runtime.context import Services
from storage.mentions import MentionRepository
from storage.models import User
from storage.roster import RosterRepository

CB_TAG = "tag"
NAME_LENGTH = 40  # a mention shows at most this much of a name
MAX_BUTTONS = 30
MAX_PER_RUN = 3  # mention messages one run of the sweep sends to a group
PRIVATE_PER_RUN = 20  # private mention messages one run sends (a run every 2 s: 10 a second,
# a third of Telegram's 30 a second overall, leaving room for reminders and replies)


# --------------------------------------------------------------------------- helpers
def moderator_ids(services: Services, chat_id: int) -> set[int]:
    """The group's moderators: configured ones and, if enabled, its admins (via ``role``)."""
    with services.db.transaction() as session:
        candidates = set(services.settings.moderators) | RosterRepository(session).admin_ids(
            chat_id
        )
    return {uid for uid in candidates if role(services, uid, chat_id) is Role.MODERATOR}


def load_members(services: Services, group: GroupConfig) -> list[Member]:
    moderators = moderator_ids(services, group.chat_id)
    with services.db.transaction() as session:
        return MentionRepository(session).members(group.chat_id, moderators)


def group_tags(services: Services, group: GroupConfig, members: list[Member]) -> dict[str, Tag]:
    settings = services.settings
    return rules.available_tags(
        group.mentions.tags, members, settings.organisations, settings.clusters
    )


def mention_of(user: User) -> str:
    """``@username`` (Telegram turns it into a mention) or a ``tg://user`` link."""
    if user.username:
        return "@" + esc_attr(user.username)
    return mention(user.id, truncate(user.display_name, NAME_LENGTH))
