"""This process's Prometheus metrics, in its own registry (never the library's global one).

Counters and the latency histogram are moved where the work happens (the update processor,
the message log, the rate limiter, the database engine); the values that live in the database
(outbox depth and age, sweep lag, replicas) are read when ``/metrics`` is scraped (web/metrics.py).
Labels carry kinds, methods and sweep names only: never a person, a chat or a text.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

UPDATE_KINDS = (
    "message",
    "edited_message",
    "callback_query",
    "chat_member",
    "my_chat_member",
    "chat_join_request",
)


def update_kind(update: object) -> str:
    """The kind of a Telegram update (one of ``UPDATE_KINDS``), else ``other``."""
    for kind in UPDATE_KINDS:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, resident memory, open fds
        self.updates = Counter(
            "imbot_updates", "Telegram updates handled, by kind.", ["kind"], registry=r
        )
        self.update_seconds = Histogram(
            "imbot_update_handling_seconds",
            "Time to handle one update (every handler it reaches).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.messages_sent = Counter(
            "imbot_messages_sent",
            "Messages the bot sent (Bot API send* and forwardMessage calls that succeeded).",
            ["method"],
            registry=r,
        )
        self.flood_limited = Counter(
            "imbot_telegram_429",
            "Bot API answers 429 Too Many Requests (flood limit).",
            registry=r,
        )
        self.retry_wait = Counter(
            "imbot_telegram_retry_wait_seconds",
            "Seconds spent waiting as 429 answers asked before retrying.",
            registry=r,
        )
        self.database_errors = Counter(
            "imbot_database_errors", "Database statements or connections that failed.", registry=r
        )
        for kind in (*UPDATE_KINDS, "other"):
            self.updates.labels(kind)  # present from the start, at zero
