"""What typed text keeps: everything readable, no control or invisible formatting characters.

Two invisible characters are part of writing and are kept: ZERO WIDTH NON-JOINER (U+200C), which
Persian needs between letters that must not join ("می‌خواهم"), and ZERO WIDTH JOINER (U+200D),
which glues emoji sequences (👩‍💻). Every other control or format character (category C: zero-width
space, byte-order mark, direction embeddings, overrides, isolates and marks) is removed.
"""

from __future__ import annotations

import unicodedata

JOINERS = frozenset({"\u200c", "\u200d"})


def strip_controls(text: str, keep: str = "") -> str:
    """``text`` without control and format characters, except the joiners and ``keep``."""
    return "".join(
        ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in JOINERS or ch in keep
    )
