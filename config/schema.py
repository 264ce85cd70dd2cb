"""The configuration schema. Every key is documented in ``config/example.yaml``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from moderation.deadlines import Audience, Deadline, DeadlineError, check_id, parse_starts
from moderation.deadlines import validate as validate_deadline
from moderation.discipline import (
    TELEGRAM_MAX_RESTRICTION,
    TELEGRAM_MIN_RESTRICTION,
    BannedMatcher,
    LadderError,
    PatternError,
    Penalty,
    Step,
    validate_ladder,
)
from moderation.durations import parse_duration
from moderation.mentions import NOTIFYING_MENTIONS, TagKind


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; expected an IANA name such as Europe/Kyiv or UTC"
        ) from None
    return name


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _local_time(value: object) -> object:
    # YAML reads an unquoted 10:00 as the number 600 (base 60): insist on a quoted "HH:MM".
    if not isinstance(value, str | time):
        raise ValueError('expected a local time written in quotes, such as "09:00"')
    return value


LocalTime = Annotated[time, BeforeValidator(_local_time)]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]
# The languages the bot has catalogs for (i18n.LANGUAGES).
Language = Literal["en", "uk", "fr", "ar"]


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
    # The membership lifecycle (departures, expiry, check-ins, retention).
    daily_at: LocalTime = time(9, 0)
    departure_grace: Duration = timedelta(days=3)
    expiry_notice: Duration = timedelta(days=7)
    sponsor_grace: Duration = timedelta(days=7)
    checkin_grace: Duration = timedelta(days=14)
    checkin_removes: bool = False
    retention: Duration = timedelta(days=365)

    @model_validator(mode="after")
    def _reminders_before_deadline(self) -> MembershipPolicy:
        for reminder in self.introduction_reminders:
            if reminder >= self.introduction_deadline:
                raise ValueError(
                    "introduction_reminders must all come before introduction_deadline"
                )
        return self


def _batch_size(value: int) -> int:
    if not 1 <= value <= NOTIFYING_MENTIONS:
        raise ValueError(
            f"expected 1 to {NOTIFYING_MENTIONS} mentions per message: Telegram notifies only "
            f"the first {NOTIFYING_MENTIONS} mentions of a message, the others would not be "
            "notified"
        )
    return value


class MentionsPolicy(StrictModel):
    """@all, @moderators, tags and names (see "Mentions" in the README)."""

    all: Literal["everyone", "moderators", "off"] = "everyone"
    all_cooldown: Duration = timedelta(minutes=10)
    anywhere: bool = False
    tags: list[TagKind] = Field(
        default_factory=lambda: [TagKind.ORGANISATION, TagKind.CLUSTER], max_length=3
    )
    tags_by: Literal["everyone", "moderators"] = "everyone"
    tag_cooldown: Duration = timedelta(minutes=2)
    names: bool = True
    # Telegram notifies only the first five mentions of a message (moderation.mentions).
    batch_size: Annotated[int, AfterValidator(_batch_size)] = NOTIFYING_MENTIONS
    per_minute: int = Field(default=12, ge=1, le=20)
    # People who started the bot and chose nothing with /tags are reached privately.
    private_default: bool = False


def _topic_ref(value: object) -> object:
    # A topic by id (the number in its t.me/c/…/ID link) or by its name as shown in the group.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("expected a topic id (a whole number) or a topic name in quotes")
    if isinstance(value, int) and value < 1:
        raise ValueError("a topic id is a positive whole number")
    if isinstance(value, str) and not value.strip():
        raise ValueError("a topic name must not be empty")
    return value


TopicRef = Annotated[int | ShortText, BeforeValidator(_topic_ref)]


class TopicsPolicy(StrictModel):
    """Where the bot posts in a forum group (one with topics); unset: where the trigger was,
    else General. Ignored in a group without topics."""

    introductions: TopicRef | None = None
    deadlines: TopicRef | None = None
    moderation: TopicRef | None = None


class GroupConfig(StrictModel):
    chat_id: int = Field(lt=0, description="Telegram chat id of the group (negative)")
    title: ShortText
    timezone: TimeZoneName | None = None
    membership: MembershipPolicy = MembershipPolicy()
    mentions: MentionsPolicy = MentionsPolicy()
    topics: TopicsPolicy = TopicsPolicy()
    # Delete Telegram's "X joined the group" / "X left the group" messages.
    delete_service_messages: bool = False
    # What the bot writes in the group: one language, or two side by side (["uk", "en"]).
    # Also the private-chat language of members who chose none and whose Telegram is in a
    # language the bot does not speak (the first one).
    languages: Annotated[list[Language], Field(min_length=1, max_length=2)] = Field(
        default_factory=lambda: list[Language](["en"])
    )

    @model_validator(mode="after")
    def _distinct_languages(self) -> GroupConfig:
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("languages must not repeat a language")
        return self


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
    # How long an override keeps showing what it revealed (it ends sooner if overrides are
    # turned off or the moderator loses the role).
    override_expiry: Duration = timedelta(days=7)
    # "Put me in touch" requests one person may have waiting at once.
    max_pending_asks: int = Field(default=5, ge=1, le=100)
    page_size: int = Field(default=5, ge=1, le=10)
    import_max_bytes: int = Field(default=2_000_000, ge=1_000, le=20_000_000)
    import_max_rows: int = Field(default=200_000, ge=1, le=1_000_000)
    default_phone_region: str | None = Field(default=None, min_length=2, max_length=2)


def _check_deadline_id(text: str) -> str:
    check_id(text)
    return text


DeadlineId = Annotated[str, AfterValidator(_check_deadline_id)]


class AudienceConfig(StrictModel):
    """Who a deadline concerns. ``all`` means every configured cluster/organisation."""

    everyone: bool = False
    clusters: Literal["all"] | list[ShortText] | None = None
    organisations: Literal["all"] | list[ShortText] | None = None

    @model_validator(mode="after")
    def _something(self) -> AudienceConfig:
        if not self.everyone and not self.clusters and not self.organisations:
            raise ValueError(
                "audience needs everyone: true, clusters (a list or 'all') or organisations"
            )
        return self

    def to_audience(self) -> Audience:
        return Audience(
            everyone=self.everyone,
            clusters=tuple(self.clusters) if isinstance(self.clusters, list) else None,
            organisations=(
                tuple(self.organisations) if isinstance(self.organisations, list) else None
            ),
            all_clusters=self.clusters == "all",
            all_organisations=self.organisations == "all",
        )


def _date_not_number(value: object) -> object:
    # pydantic would read a bare number as a Unix timestamp: ``starts: 1`` is a typo, not 1970.
    if isinstance(value, int | float | bool):
        raise ValueError("expected a date such as 2026-03-02 or a local date-time 2026-03-02 09:00")
    return value


class DeadlineConfig(StrictModel):
    id: DeadlineId
    title: ShortText
    description: Annotated[str, Field(max_length=1000)] = ""
    rule: Annotated[str, Field(min_length=1, max_length=300)]
    starts: Annotated[date | datetime, BeforeValidator(_date_not_number)]
    timezone: TimeZoneName | None = None
    remind: list[Duration] = Field(default_factory=list, max_length=6)
    overdue_after: Duration | None = None
    audience: AudienceConfig = AudienceConfig(everyone=True)
    paused: bool = False

    def to_deadline(self, default_timezone: str) -> Deadline:
        try:
            starts = parse_starts(self.starts)
        except DeadlineError as exc:
            raise ValueError(str(exc)) from None
        return Deadline(
            id=self.id,
            title=self.title,
            rule=self.rule,
            starts=starts,
            timezone=self.timezone or default_timezone,
            remind=tuple(sorted(set(self.remind), reverse=True)),
            overdue_after=self.overdue_after,
            description=self.description,
            audience=self.audience.to_audience(),
            paused=self.paused,
        )


class ReminderPolicy(StrictModel):
    catch_up_window: Duration = timedelta(hours=6)
    snooze: Duration = timedelta(hours=2)
    moderator_digest: bool = True
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 500
    # Reminders being sent at once by one dispatcher run. One at a time, a network round trip
    # of 50-100 ms caps the pace near 10-12/s; a few under way let the rate limiter reach
    # Telegram's 30/s. More than 30 cannot help (30 a second is the ceiling).
    in_flight: Annotated[int, Field(ge=1, le=30)] = 8
    group_digest: bool = True
    # How long a claimed reminder stays with the process that claimed it; after a crash
    # another replica sends it once this has passed.
    lease: Duration = timedelta(minutes=5)
    # A reminder or mention message whose send began is never taken over by another replica
    # before this has passed (its sender may be stalled, not dead); taken over after it, it is
    # counted as "possibly sent twice".
    stall_limit: Duration = timedelta(minutes=10)


class EscalationStep(StrictModel):
    warnings: int = Field(ge=1, le=100)
    action: Literal["mute", "remove", "ban"]
    duration: Duration | None = None

    def to_step(self) -> Step:
        return Step(self.warnings, Penalty(self.action), self.duration)


class FloodPolicy(StrictModel):
    messages: int = Field(default=8, ge=2, le=100)
    per: Duration = timedelta(seconds=30)
    mute: Duration = timedelta(minutes=10)


class ReportRate(StrictModel):
    """How many messages one member may /report within ``per``."""

    reports: int = Field(default=5, ge=1, le=100)
    per: Duration = timedelta(hours=1)


class ChannelsPolicy(StrictModel):
    """Posts sent as a channel (see "Posts sent as a channel" in the README)."""

    # A channel not linked to a member: allow (moderated like a member), hold (its posts are
    # removed with a note, as a newcomer is held read-only) or ban (blocked from posting).
    unlinked: Literal["allow", "hold", "ban"] = "hold"
    # channel id → the member who posts as it; the link counts while that member is in the group.
    linked: dict[Annotated[int, Field(lt=0)], Annotated[int, Field(gt=0)]] = Field(
        default_factory=dict, max_length=1000
    )


class ModerationPolicy(StrictModel):
    """Moderators' tools and automatic noise control (see the README's Moderation section)."""

    admin_cache: Duration = timedelta(minutes=5)
    warning_window: Duration = timedelta(days=30)
    escalation: list[EscalationStep] = Field(
        default_factory=lambda: [
            EscalationStep(warnings=3, action="mute", duration=timedelta(hours=24)),
            EscalationStep(warnings=4, action="remove"),
        ],
        max_length=10,
    )
    max_mute: Duration = timedelta(days=30)
    reason_max: int = Field(default=200, ge=20, le=1000)
    purge_max: int = Field(default=50, ge=1, le=100)
    flood: FloodPolicy | None = FloodPolicy()
    banned_words: list[str] = Field(default_factory=list, max_length=500)
    banned_patterns: list[str] = Field(default_factory=list, max_length=100)
    block_links_until_introduced: bool = True
    block_media_until_introduced: bool = True
    notice_cooldown: Duration = timedelta(minutes=10)
    offtopic_link: str | None = Field(default=None, pattern=r"^(https://t\.me/|tg://)\S{1,200}$")
    log_chat_id: int | None = None
    channels: ChannelsPolicy = ChannelsPolicy()
    # /report (see "Reports" in the README): a member's reports are rate-limited; after
    # ``report_hide_after`` distinct reporters (0: never) the message is deleted pending review;
    # the Mute button of a report mutes for ``report_mute``.
    report_rate: ReportRate = ReportRate()
    report_hide_after: int = Field(default=0, ge=0, le=100)
    report_mute: Duration = timedelta(hours=24)

    @model_validator(mode="after")
    def _valid_rules(self) -> ModerationPolicy:
        if self.max_mute > TELEGRAM_MAX_RESTRICTION:
            raise ValueError("max_mute can be at most 366d (Telegram's longest restriction)")
        if not TELEGRAM_MIN_RESTRICTION <= self.report_mute <= self.max_mute:
            raise ValueError("report_mute must be between 30s and max_mute")
        try:
            validate_ladder(self.ladder(), self.max_mute)
        except LadderError as exc:
            raise ValueError(f"escalation: {exc}") from None
        try:
            BannedMatcher.build(self.banned_words, self.banned_patterns)
        except PatternError as exc:
            raise ValueError(f"banned_words/banned_patterns: {exc}") from None
        return self

    def ladder(self) -> list[Step]:
        return [step.to_step() for step in self.escalation]

    def matcher(self) -> BannedMatcher:
        return BannedMatcher.build(self.banned_words, self.banned_patterns)


class HttpSettings(StrictModel):
    """The bot's own HTTP server, in every mode: webhook, health, metrics, calendar feeds."""

    listen: str = "127.0.0.1"
    # 0 picks a free port (tests); the port in use is logged at start.
    port: int = Field(default=8080, ge=0, le=65535)
    # The public HTTPS base people's calendar apps (and Telegram) reach this server at, e.g.
    # https://bot.example.org; without it the bot cannot offer subscription links.
    public_url: Annotated[str, Field(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")] | None = None
    # /readyz says "not ready" when no update arrived for this long (unset: not checked).
    ready_window: Duration | None = None


# An http:// or https:// address with a host and an optional path (no query, no fragment).
WebAddress = Annotated[str, Field(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")]


class MiniAppSettings(StrictModel):
    """The Mini App (web/miniapp.py), served at /app by the bot's HTTP server."""

    # The public HTTPS address of /app as Telegram opens it, e.g. https://bot.example.org/app;
    # unset: no "Open" buttons and no menu button (the chat stays the only way).
    url: Annotated[str, Field(pattern=r"^https://[^\s/?#]+(/[^\s?#]*)?$")] | None = None
    # How old Telegram's signed initData (its auth_date) may be before it is refused.
    max_age: Duration = Field(default=timedelta(hours=1))

    @model_validator(mode="after")
    def _sane_window(self) -> MiniAppSettings:
        if not timedelta(minutes=1) <= self.max_age <= timedelta(days=1):
            raise ValueError("miniapp.max_age: expected between 1m and 24h")
        return self


class FormSettings(StrictModel):
    """Guided forms (/invite, the newcomer's confirmation, /profile, /deadline add|edit)."""

    # How long a form waits for the next answer; after that an answer is told the form
    # expired and offered "Start again". (The departure "yes" flow waits 7 days, its own.)
    ttl: Duration = Field(default=timedelta(hours=24), gt=timedelta(0))
    # How long an expired form is kept so a late answer still hears that it expired; then
    # the "forms" sweep removes it (a later answer finds no form).
    keep_expired: Duration = Field(default=timedelta(days=7), ge=timedelta(0))


class Settings(StrictModel):
    timezone: TimeZoneName = "UTC"
    moderators: list[Annotated[int, Field(gt=0)]] = Field(default_factory=list)
    group_admins_are_moderators: bool = True
    organisations: list[ShortText] = Field(default_factory=list)
    allow_unlisted_organisations: bool = True
    clusters: list[ShortText] = Field(default_factory=list)
    groups: list[GroupConfig] = Field(min_length=1)
    bot_api_url: str | None = None
    # Where the Bot API server serves files; default: bot_api_url with /file before its last part.
    bot_api_file_url: WebAddress | None = None
    # A self-hosted Bot API server started with --local: getFile answers paths on its own disk,
    # which the bot reads directly (the disk must be shared with the bot).
    bot_api_local: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Per-sweep interval overrides, e.g. {deadline-dispatch: 10s}; names checked at start-up.
    sweep_every: dict[str, Duration] = Field(default_factory=dict)
    contacts: ContactsPolicy = ContactsPolicy()
    reminders: ReminderPolicy = ReminderPolicy()
    deadlines: list[DeadlineConfig] = Field(default_factory=list)
    moderation: ModerationPolicy = ModerationPolicy()
    http: HttpSettings = HttpSettings()
    miniapp: MiniAppSettings = MiniAppSettings()
    forms: FormSettings = FormSettings()

    @model_validator(mode="after")
    def _unique_groups(self) -> Settings:
        seen: set[int] = set()
        for group in self.groups:
            if group.chat_id in seen:
                raise ValueError(f"duplicate group chat_id {group.chat_id}")
            seen.add(group.chat_id)
        return self

    @model_validator(mode="after")
    def _valid_deadlines(self) -> Settings:
        ids: set[str] = set()
        for index, item in enumerate(self.deadlines):
            where = f"deadlines[{index}] ({item.id})"
            if item.id in ids:
                raise ValueError(f"{where}: duplicate deadline id {item.id!r}")
            ids.add(item.id)
            audience = item.audience
            for name, known, kind in (
                (audience.clusters, self.clusters, "clusters"),
                (audience.organisations, self.organisations, "organisations"),
            ):
                if isinstance(name, list):
                    unknown = [n for n in name if n not in known]
                    if unknown:
                        raise ValueError(
                            f"{where}: audience {kind} {unknown} are not in the top-level "
                            f"{kind} list {list(known)}"
                        )
            try:
                validate_deadline(item.to_deadline(self.timezone))
            except DeadlineError as exc:
                raise ValueError(f"{where}: {exc}") from None
        return self

    def deadline_definitions(self) -> list[Deadline]:
        return [d.to_deadline(self.timezone) for d in self.deadlines]

    def group(self, chat_id: int) -> GroupConfig | None:
        # Asked several times for every group message: a dict, not a scan of the list. The
        # index remembers the list it was built from, so a model_copy with other groups
        # (which copies the cached index too) builds its own.
        groups, index = self._group_index
        if groups is not self.groups:
            del self.__dict__["_group_index"]
            groups, index = self._group_index
        return index.get(chat_id)

    @cached_property
    def _group_index(self) -> tuple[list[GroupConfig], dict[int, GroupConfig]]:
        return self.groups, {g.chat_id: g for g in self.groups}

    def group_timezone(self, group: GroupConfig) -> ZoneInfo:
        return ZoneInfo(group.timezone or self.timezone)
