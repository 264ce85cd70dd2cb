"""The configuration schema. Every key is documented in ``config/example.yaml``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from moderation.durations import parse_duration


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; expected an IANA name such as Europe/Kyiv or UTC"
        ) from None
    return name


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]


class StrictModel(BaseModel):
    # Unknown keys are errors: a typo must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class MembershipPolicy(StrictModel):
    introduction_deadline: Duration = timedelta(hours=72)
    introduction_reminders: list[Duration] = Field(
        default_factory=lambda: [timedelta(hours=24), timedelta(hours=48)]
    )
    restrict_until_introduced: bool = True
    out_of_country_max: Duration = timedelta(days=90)
    checkin_every: Duration = timedelta(days=90)
    invite_link_valid: Duration = timedelta(days=7)
    join_request_timeout: Duration = timedelta(hours=24)
    join_requests_to: Literal["group", "moderators"] = "group"

    @model_validator(mode="after")
    def _reminders_before_deadline(self) -> MembershipPolicy:
        for reminder in self.introduction_reminders:
            if reminder >= self.introduction_deadline:
                raise ValueError(
                    "introduction_reminders must all come before introduction_deadline"
                )
        return self


class GroupConfig(StrictModel):
    chat_id: int = Field(lt=0, description="Telegram chat id of the group (negative)")
    title: ShortText
    timezone: TimeZoneName | None = None
    membership: MembershipPolicy = MembershipPolicy()


ContactLevel = Literal["public", "cluster", "coordinators", "private"]


class ContactLevels(StrictModel):
    """Default sharing level of each contact field; each person may change theirs."""

    name: ContactLevel = "public"
    organisation: ContactLevel = "public"
    role: ContactLevel = "public"
    clusters: ContactLevel = "public"
    location: ContactLevel = "cluster"
    phone: ContactLevel = "private"
    email: ContactLevel = "coordinators"
    telegram: ContactLevel = "cluster"
    focal_point: ContactLevel = "public"


class LookupRate(StrictModel):
    count: int = Field(default=20, ge=1, le=10_000)
    per: Duration = timedelta(hours=1)


class ContactsPolicy(StrictModel):
    levels: ContactLevels = ContactLevels()
    request_timeout: Duration = timedelta(hours=72)
    lookup_rate: LookupRate = LookupRate()
    moderator_override: bool = False
    page_size: int = Field(default=5, ge=1, le=10)
    import_max_bytes: int = Field(default=2_000_000, ge=1_000, le=20_000_000)
    default_phone_region: str | None = Field(default=None, min_length=2, max_length=2)


class Settings(StrictModel):
    timezone: TimeZoneName = "UTC"
    moderators: list[Annotated[int, Field(gt=0)]] = Field(default_factory=list)
    group_admins_are_moderators: bool = True
    organisations: list[ShortText] = Field(default_factory=list)
    allow_unlisted_organisations: bool = True
    clusters: list[ShortText] = Field(default_factory=list)
    groups: list[GroupConfig] = Field(min_length=1)
    bot_api_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    contacts: ContactsPolicy = ContactsPolicy()

    @model_validator(mode="after")
    def _unique_groups(self) -> Settings:
        seen: set[int] = set()
        for group in self.groups:
            if group.chat_id in seen:
                raise ValueError(f"duplicate group chat_id {group.chat_id}")
            seen.add(group.chat_id)
        return self

    def group(self, chat_id: int) -> GroupConfig | None:
        return next((g for g in self.groups if g.chat_id == chat_id), None)

    def group_timezone(self, group: GroupConfig) -> ZoneInfo:
        return ZoneInfo(group.timezone or self.timezone)
