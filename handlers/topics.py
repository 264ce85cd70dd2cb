"""Forum groups (topics): where the bot posts, stated once.

Every message the bot writes in a group on its own initiative goes through ``send_to_group``:
in a group with topics it goes to the topic the configuration names for its purpose
(``groups[].topics``), else to the topic of the message that caused it, else General; in a
group without topics it is an ordinary message. Answers made with ``Message.reply_text`` go
to the topic of the message they answer (python-telegram-bot passes its thread id).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, Message, Update
from telegram.error import TelegramError
from telegram.ext import TypeHandler

from handlers.order import Stage
from moderation.topics import Purpose, pick_thread
from runtime.context import App, BotContext, Services

log = logging.getLogger(__name__)


def thread_of(message: object) -> int | None:
    """The topic a message is in; None for General, a plain group or a private chat (or a
    message Telegram no longer shows the bot)."""
    if not isinstance(message, Message) or not message.is_topic_message:
        return None
    return message.message_thread_id


def replied_to(message: Message | None) -> Message | None:
    """The message a message really replies to: in a topic, Telegram sends the topic's creation
    as the ``reply_to_message`` of every message that answers nothing else; that is no reply."""
    replied = message.reply_to_message if message is not None else None
    if replied is None or replied.forum_topic_created is not None:
        return None
    return replied


async def answer_in_topic(update: Update, text: str, **kwargs: Any) -> Message | None:
    """A new message (not a reply) in the chat of the update, in the topic it came from."""
    chat = update.effective_chat
    if chat is None:
        return None
    thread = thread_of(update.effective_message)
    if thread is not None:
        kwargs["message_thread_id"] = thread
    return await chat.send_message(text, **kwargs)


async def is_forum(bot: Bot, services: Services, chat_id: int) -> bool:
    """Whether the group has topics: as last seen in an update, else asked once (getChat)."""
    known = services.topics.forums.get(chat_id)
    if known is not None:
        return known
    try:
        chat = await bot.get_chat(chat_id)
    except TelegramError as exc:
        log.warning("cannot tell whether %s has topics: %s", chat_id, exc)
        return False  # not remembered: asked again next time
    services.topics.learn(chat_id, bool(chat.is_forum))
    return bool(chat.is_forum)


async def thread_for(
    bot: Bot,
    services: Services,
    chat_id: int,
    purpose: Purpose | None = None,
    trigger: object = None,
) -> int | None:
    """The ``message_thread_id`` for a post in ``chat_id`` (None: General or no topics)."""
    group = services.settings.group(chat_id)
    configured = getattr(group.topics, purpose.value) if group and purpose else None
    trigger_thread = thread_of(trigger)
    if configured is None and trigger_thread is None:
        return None  # General, or a plain group: nothing to ask
    return pick_thread(
        await is_forum(bot, services, chat_id),
        configured,
        services.topics.known(chat_id),
        trigger_thread,
    )


async def send_to_group(
    bot: Bot,
    services: Services,
    chat_id: int,
    text: str,
    *,
    purpose: Purpose | None = None,
    trigger: object = None,
    **kwargs: Any,
) -> Message:
    """Post in a group, in the topic ``pick_thread`` chooses (see the module's docstring)."""
    thread = await thread_for(bot, services, chat_id, purpose, trigger)
    if thread is not None:
        kwargs["message_thread_id"] = thread
    return await bot.send_message(chat_id, text, **kwargs)


async def learn_topics(update: Update, context: BotContext) -> None:
    """Remember whether a group has topics and the names of the topics seen.

    A topic's name comes with its creation and renaming (service messages), and with every
    message in it that replies to nothing else: Telegram sends the topic's creation message as
    its ``reply_to_message``.
    """
    message = update.effective_message
    chat = update.effective_chat
    services = context.services
    if chat is None or services.settings.group(chat.id) is None:
        return
    topics = services.topics
    if topics.forums.get(chat.id) != bool(chat.is_forum):
        topics.learn(chat.id, bool(chat.is_forum))
    thread = thread_of(message)
    if thread is None:
        return
    assert isinstance(message, Message)
    for carrier in (message, message.reply_to_message):
        if carrier is None:
            continue
        created, edited = carrier.forum_topic_created, carrier.forum_topic_edited
        if created is not None:
            topics.name(chat.id, created.name, thread)
        elif edited is not None and edited.name:
            topics.name(chat.id, edited.name, thread)


def register(app: App) -> None:
    app.add_handler(TypeHandler(Update, learn_topics), group=Stage.TOPICS)
