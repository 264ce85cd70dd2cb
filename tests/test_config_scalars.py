"""Any YAML scalar where a date, a duration or a time is expected: a config error naming the
file and line, exit 2 — never a traceback (PyYAML itself turns date-shaped scalars into dates)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main

TEMPLATE = """\
timezone: UTC
groups:
  - chat_id: -100123
    title: Test group
    membership:
      daily_at: {daily_at}
      departure_grace: {grace}
deadlines:
  - id: sitrep
    title: SitRep
    rule: FREQ=WEEKLY;BYDAY=MO;BYHOUR=9
    starts: {starts}
    remind: [{remind}]
"""
FIELDS = ("daily_at", "grace", "starts", "remind")
LINES = {"daily_at": 6, "grace": 7, "starts": 12, "remind": 13}
VALID = {"daily_at": '"09:00"', "grace": "3d", "starts": "2026-03-02", "remind": "3h"}

digits = st.integers(min_value=0, max_value=99999).map(str)
date_shaped = st.builds(
    lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}",
    st.integers(0, 9999),
    st.integers(0, 99),
    st.integers(0, 99),
)
timestamp_shaped = st.builds(
    lambda day, h, mi: f"{day} {h}:{mi:02d}:00", date_shaped, st.integers(0, 99), st.integers(0, 99)
)
time_shaped = st.builds(lambda h, m: f"{h}:{m:02d}", st.integers(0, 99), st.integers(0, 99))
duration_shaped = st.builds(
    lambda n, unit: f"{n}{unit}",
    st.integers(-5, 10**12),
    st.sampled_from(["s", "m", "h", "d", "w", "y", ""]),
)
plain = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12
).map(lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
scalars = st.one_of(
    date_shaped,
    timestamp_shaped,
    time_shaped,
    duration_shaped,
    digits,
    plain,
    st.sampled_from(
        ["null", "~", "true", "no", ".inf", "-.nan", "0x1F", "1e400", "''", "[]", "{}"]
    ),
)

runner = CliRunner()


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(FIELDS), value=scalars)
def test_any_scalar_is_valid_or_a_config_error_with_file_and_line(field: str, value: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "imbot.yaml"
        path.write_text(TEMPLATE.format(**{**VALID, field: value}), encoding="utf-8")
        result = runner.invoke(main, ["check-config", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert "valid" in result.output
        return
    assert result.exit_code == 2, result.output
    # A field's own error names its line; a rule across fields (a reminder longer than the
    # recurrence) is reported at the document's line 1 with the deadline's name.
    assert re.search(rf"{re.escape(str(path))}:({LINES[field]}|1): ", result.output), result.output


def test_the_template_with_valid_values_is_valid() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "imbot.yaml"
        path.write_text(TEMPLATE.format(**VALID), encoding="utf-8")
        result = runner.invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0, result.output


def test_month_13_and_30_february_name_their_line() -> None:
    for impossible in ("2026-13-01", "2026-02-30"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "imbot.yaml"
            path.write_text(TEMPLATE.format(**{**VALID, "starts": impossible}), encoding="utf-8")
            result = runner.invoke(main, ["check-config", str(path)])
        assert result.exit_code == 2
        assert f"{path}:12: '{impossible}' is not a date" in result.output
