"""The texts of /start and /help, composed from the typed ``HelpPlan`` (``moderation.help``
decides who is offered which commands; no database and no sending here)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.render import esc
from i18n import N_, _
from moderation.help import HelpPlan, Topic
from moderation.permissions import CommandSpec, Role, Where

TOPIC_TITLES = {
    Topic.JOINING: N_("Joining and leaving"),
    Topic.MENTIONS: N_("Mentions"),
    Topic.DEADLINES: N_("Deadlines"),
    Topic.DIRECTORY: N_("Contact directory"),
    Topic.MODERATION: N_("Moderation"),
}
HELP_BUTTON = "help:"  # callback data: help:<topic> or help:all


def command_line(spec: CommandSpec) -> str:
    usage = f" {esc(_(spec.usage))}" if spec.usage else ""
    return _(
        "{command} — {description}",
        command=f"/{spec.name}{usage}",
        description=esc(_(spec.description)),
    )


def help_text(plan: HelpPlan, user_role: Role, chat_where: Where) -> str:
    """The short /help: the basics, then one line per topic naming its commands."""
    lines = [_("<b>Commands you can use here</b>")]
    lines.extend(command_line(spec) for spec in plan.basics)
    if plan.topics:
        lines.append(_("More, by topic: send /help and a topic, or tap a button."))
        for topic, specs in plan.topics.items():
            lines.append(
                _(
                    "• {topic} ({command}): {commands}",
                    topic=f"<b>{esc(_(TOPIC_TITLES[topic]))}</b>",
                    command=f"/help {topic.value}",
                    commands=" ".join(f"/{spec.name}" for spec in specs),
                )
            )
    if chat_where is Where.GROUP:
        lines.append(_("Write to me privately for the commands that work there."))
    if user_role is Role.MODERATOR:
        lines.append(_("You are a moderator, so moderator commands are included."))
    return "\n".join(lines)


def topic_text(plan: HelpPlan, topic: Topic) -> str:
    lines = [f"<b>{esc(_(TOPIC_TITLES[topic]))}</b>"]
    lines.extend(command_line(spec) for spec in plan.topics[topic])
    lines.append(_("Send /help to see every topic."))
    return "\n".join(lines)


def topic_buttons(plan: HelpPlan, showing: Topic | None) -> InlineKeyboardMarkup | None:
    buttons = [
        InlineKeyboardButton(_(TOPIC_TITLES[topic]), callback_data=f"{HELP_BUTTON}{topic.value}")
        for topic in plan.topics
        if topic is not showing
    ]
    if showing is not None:
        buttons.append(InlineKeyboardButton(_("All topics"), callback_data=f"{HELP_BUTTON}all"))
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def unknown_topic_text(plan: HelpPlan) -> str:
    return _(
        "I have no help topic by that name. The topics are: {topics}.",
        topics=", ".join(topic.value for topic in plan.topics) or "—",
    )


def start_text(first_name: str, plan: HelpPlan, user_role: Role) -> str:
    """/start in private chat: what the bot does, then the short /help."""
    intro = _(
        "Hello {name}! I help run the <b>information management community group</b>: I know "
        "who sponsored whom, make sure newcomers are introduced, and keep the member list up "
        "to date. Send /language to choose the language I write to you in.",
        name=esc(first_name),
    )
    return f"{intro}\n\n{help_text(plan, user_role, Where.PRIVATE)}"
