"""Rendering for Telegram's HTML parse mode. Everything a user typed goes through ``esc``."""

from __future__ import annotations

import html

# Telegram rejects longer messages; keep a margin for markup added around user text.
MAX_MESSAGE = 4096


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def mention(user_id: int, name: str) -> str:
    """A mention that works for people without a username."""
    return f'<a href="tg://user?id={int(user_id)}">{esc(name)}</a>'


def truncate(text: str, limit: int) -> str:
    """Shorten plain (unescaped) text for display."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chunk_lines(lines: list[str], limit: int = MAX_MESSAGE - 96) -> list[str]:
    """Join lines into as few messages as fit under Telegram's length limit."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = line if len(line) <= limit else line[:limit]
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks
