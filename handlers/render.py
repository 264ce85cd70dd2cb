"""Rendering for Telegram's HTML parse mode. Everything a user typed goes through ``esc``.

``esc`` escapes the markup characters and isolates each line in Unicode isolates (U+2068 FIRST
STRONG ISOLATE … U+2069 POP DIRECTIONAL ISOLATE), after removing stray direction controls
(embeddings and overrides U+202A–U+202E, marks U+200E/U+200F/U+061C, and any isolate that is
not closed on its line). A name like ``"\\u202eevil"`` then keeps its direction to itself and
the rest of the bot's line reads the right way round. ``esc_attr`` only escapes: for attribute
values (``href``) and for tokens a person copies back to the bot (ids, links, commands), where
an invisible character would be in the way.
"""

from __future__ import annotations

import html
import re

# Telegram rejects longer messages; keep a margin for markup added around user text.
MAX_MESSAGE = 4096

FSI, PDI = "\u2068", "\u2069"
_OPENERS = frozenset("\u2066\u2067\u2068")
# Direction controls nobody needs in a name or a note: embeddings, overrides, marks.
_DIRECTION_MARKS = re.compile("[\u202a-\u202e\u200e\u200f\u061c]")


def _balanced(line: str) -> str:
    """``line`` without the isolate openers and closers that have no partner on the line."""
    stack: list[int] = []
    keep = [True] * len(line)
    for index, char in enumerate(line):
        if char in _OPENERS:
            stack.append(index)
            keep[index] = False
        elif char == PDI:
            if stack:
                keep[stack.pop()] = True
            else:
                keep[index] = False
    return "".join(char for char, kept in zip(line, keep, strict=True) if kept)


def strip_direction_controls(text: str) -> str:
    """Remove embeddings, overrides, marks and unpaired isolates (line by line)."""
    return "\n".join(_balanced(line) for line in _DIRECTION_MARKS.sub("", text).split("\n"))


def esc(text: object) -> str:
    """Escape a value for HTML and isolate each of its lines (see the module's docstring)."""
    escaped = html.escape(strip_direction_controls(str(text)), quote=True)
    return "\n".join(f"{FSI}{line}{PDI}" if line else line for line in escaped.split("\n"))


def esc_attr(text: object) -> str:
    """Escape for an attribute value or a copyable token: no isolates, controls removed."""
    return html.escape(strip_direction_controls(str(text)), quote=True)


def mention(user_id: int, name: str) -> str:
    """A mention that works for people without a username (a channel, whose id is negative,
    cannot be mentioned: its name in bold)."""
    if user_id < 0:
        return f"<b>{esc(name)}</b>"
    return f'<a href="tg://user?id={int(user_id)}">{esc(name)}</a>'


def truncate(text: str, limit: int) -> str:
    """Shorten plain (unescaped) text for display."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


_TAG = re.compile(r"<(/?)([a-zA-Z-]+)[^>]*>")
_HALF = re.compile(r"(<[^>]*|&[#\w]*)$")  # a tag or an entity cut in half at the end


def cut_line(line: str, limit: int) -> str:
    """An over-long line's start that still parses: no tag or entity cut in half, every tag
    left open closed, every isolate popped, then an ellipsis; at most ``limit`` characters."""
    room = limit - 1
    while True:
        head = _HALF.sub("", line[: max(room, 0)])
        open_tags: list[str] = []
        for found in _TAG.finditer(head):
            if not found.group(1):
                open_tags.append(found.group(2).lower())
            elif open_tags and open_tags[-1] == found.group(2).lower():
                open_tags.pop()
        isolates = 0
        for char in head:
            if char in _OPENERS:
                isolates += 1
            elif char == PDI and isolates:
                isolates -= 1
        tail = "".join(f"</{tag}>" for tag in reversed(open_tags)) + PDI * isolates + "…"
        if len(head) + len(tail) <= limit or room <= 0:
            return head + tail
        room -= len(head) + len(tail) - limit


def chunk_lines(lines: list[str], limit: int = MAX_MESSAGE - 96) -> list[str]:
    """Join lines into as few messages as fit under Telegram's length limit (a line longer
    than a whole message is cut with ``cut_line``, so the message still parses)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = line if len(line) <= limit else cut_line(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks
