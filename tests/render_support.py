"""What the render tests share (tests/test_feature_render.py,
tests/test_feature_render_deadlines.py): the group's time zone, a fixed now, and the isolates
``esc`` wraps each typed text in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
FSI, PDI = "\u2068", "\u2069"
