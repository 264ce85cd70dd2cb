"""The console runs the real bot: a newcomer can try it without a token."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import main


def run_console(tmp_path: Path, lines: list[str]) -> str:
    script = tmp_path / "script.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["console", "--script", str(script)])
    assert result.exit_code == 0, result.output
    return result.output


def test_console_start_join_leave_and_roster(tmp_path: Path) -> None:
    output = run_console(
        tmp_path,
        [
            ":as olena",
            ":dm",
            "/start",
            ":as ivan",
            ":add pavlo",
            ":roster",
            ":leave pavlo",
            ":roster",
            ":clock +1d",
            ":quit",
        ],
    )
    assert "bot → [dm Olena]" in output and "Hello Olena!" in output
    assert "Ivan Koval adds Pavlo to the group" in output
    assert "Pavlo (@—) — restricted, joined by added" in output  # held until introduced
    assert "Pavlo (@—) — left, joined by added" in output
    assert "clock: 2026-11-24 09:00 UTC" in output
    assert "the bot raised" not in output


def test_console_reports_mistakes_politely(tmp_path: Path) -> None:
    output = run_console(tmp_path, [":join", ":press 3", ":clock +soon", ":leave nobody", ":frob"])
    assert "! missing NAME" in output
    assert "! no bot message with buttons" in output
    assert "! expected a duration" in output
    assert "! nobody called 'nobody'" in output
    assert "! unknown console command :frob" in output


def test_console_deadline_reminders(tmp_path: Path) -> None:
    output = run_console(
        tmp_path,
        [
            ":as ivan",
            ":dm",
            "/start",
            "/subscribe",
            ":press 1",
            ":press 1",
            ":clock +7d1h",
            ":press 1",
            ":quit",
        ],
    )
    assert "SitRep inputs (sitrep) is due Wed, 2 Dec 2026, 12:00 Kyiv time (in 2 days)" in output
    assert "is submitted for WASH (cluster)" in output
    assert "the bot raised" not in output


def test_console_speaks_the_person_language(tmp_path: Path) -> None:
    output = run_console(
        tmp_path,
        [":as olena", ":lang uk", ":dm", "/start", "/language", ":press 3", "/help", ":quit"],
    )
    assert "Olena's Telegram is now in 'uk'" in output
    assert "Вітаю, Olena!" in output
    assert "Désormais, je vous écris en" in output
    assert "Les commandes que vous pouvez utiliser ici" in output


def test_console_shows_the_buttons_of_an_edited_message(tmp_path: Path) -> None:
    # /subscribe edits its question into the organisation question: its buttons are printed.
    output = run_console(tmp_path, [":as ivan", ":dm", "/start", "/subscribe", ":press 1", ":quit"])
    after_press = output.split(":press 1", 1)[1]
    assert "bot edited message" in after_press and "And which organisation?" in after_press
    assert "[2] UNICEF" in after_press and "[11] No organisation" in after_press


def test_console_press_follows_a_link_to_the_bot_as_a_person_would(tmp_path: Path) -> None:
    output = run_console(tmp_path, [":as ivan", "/contact kate", ":press 1", ":quit"])
    # The search typed in the group travels in the link ("kate", base64url) and runs privately.
    assert "[1] Write to me privately  → https://t.me/imbot?start=contact_qa2F0ZQ" in output
    assert "Ivan Koval opens the link: /start contact_qa2F0ZQ in private" in output
    assert "bot → [dm Ivan]" in output.split(":press 1", 1)[1]
    assert "Send /contact followed" not in output.split(":press 1", 1)[1]
    assert "[Ivan @ dm] > :quit" in output  # the person is now in the private chat


def test_console_file_shows_the_last_document_as_text(tmp_path: Path) -> None:
    output = run_console(
        tmp_path, [":as ivan", ":dm", ":file", "/start", "/calendar", ":file", ":quit"]
    )
    assert "! the bot has sent no document in this chat" in output
    shown = output.split("/calendar", 1)[1].split(":file", 1)[1]
    assert "deadlines.ics" in shown and "BEGIN:VCALENDAR" in shown and "SitRep inputs" in shown


def test_console_file_in_another_language(tmp_path: Path) -> None:
    output = run_console(
        tmp_path, [":as olena", ":lang uk", ":dm", "/start", "/calendar", ":file", ":quit"]
    )
    assert "📎 deadlines.ics" in output and "BEGIN:VCALENDAR" in output
    assert "Вітаю, Olena!" in output


def test_console_help_is_grouped_by_topic(tmp_path: Path) -> None:
    output = run_console(
        tmp_path,
        [":as mira", ":dm", "/help", ":press 5", ":as olena", ":lang uk", "/help", ":quit"],
    )
    assert "• Moderation (/help moderation): /members" in output
    assert "/warn WHO REASON — Warn a member (repeated warnings escalate)" in output
    ukrainian = output.split(":lang uk", 1)[1]
    assert "Довідник контактів" in ukrainian and "/invite" not in ukrainian  # not a member


def test_the_readmes_first_ten_minutes_run_as_described(tmp_path: Path) -> None:
    """The README's walk-through for a new moderator, replayed line by line from the README;
    what each step says the person sees is checked (phrases written from the README)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The first ten minutes", 1)[1]
    script = section.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert script[0] == ":dm" and "/invite" in script and script[-1] == ":press 2"
    output = run_console(tmp_path, [*script, ":roster", ":quit"])
    assert "Moderation (/help moderation)" in output  # one line per topic, moderators included
    assert "/warn WHO REASON" in output  # /help moderation: the commands with what they do
    assert "Which cluster do they work with?" in output
    assert "Here is the personal link for Olena Petrenko. It works once" in output
    assert "Ivan Koval introduces Olena Petrenko — UNICEF, WASH IMO." in output
    assert "Your introduction is complete and you can now write in the group." in output
    assert "May colleagues find you" in output  # asked once whether to be listed
    assert "Olena Petrenko — UNICEF, in the country; sponsor Ivan Koval; complete" in output
    assert "Stranger joined Ukraine IM community without a known sponsor" in output
    assert "Stranger — needs a sponsor (moderators decide)" in output  # /pending
    assert "Removed. They can come back through a sponsor." in output
    assert "Stranger (@—) — removed" in output
    assert "the bot raised" not in output


def test_console_deadline_add_refuses_an_ambiguous_weekday(tmp_path: Path) -> None:
    output = run_console(
        tmp_path,
        [
            ":dm",
            "/deadline add",
            "wash-3w",
            "WASH 3W inputs",
            "https://example.org/3w",
            "clusters: WASH",
            "every 2nd Wednesday 12:00",
            "/cancel",
            "/language uk",
            "/deadline add",
            "wash-3w",
            "WASH 3W inputs",
            "https://example.org/3w",
            "clusters: WASH",
            "every 2nd Wednesday 12:00",
            ":quit",
        ],
    )
    assert "“every 2nd Wednesday” can be read two ways." in output
    assert "«every 2nd Wednesday» можна зрозуміти двояко." in output


def test_clock_runs_each_reminder_at_its_own_time(tmp_path: Path) -> None:
    """`:clock +3d` from Monday 09:00 UTC passes both reminders of Thursday's displacement
    figures (config/example.yaml: 12:00 Kyiv, remind 1d and 3h): each arrives as it would on a
    real Wednesday and Thursday morning — "in 1 day", then "in 3 hours" — instead of the first
    being dropped as missed by more than the 6 h catch-up window."""
    lines = [":as ivan", "#LANG", ":dm", "/start", "/subscribe", ":press 2", ":press 1"]
    english = run_console(tmp_path, [line for line in lines if line != "#LANG"] + [":clock +3d"])
    day = english.index("(displacement) is due Thu, 26 Nov 2026, 12:00 Kyiv time (in 1 day).")
    hours = english.index("(displacement) is due Thu, 26 Nov 2026, 12:00 Kyiv time (in 3 hours).")
    assert english.index("clock: 2026-11-26 09:00 UTC") < day < hours
    assert "the bot raised" not in english
    ukrainian = run_console(
        tmp_path, [":lang uk" if line == "#LANG" else line for line in lines] + [":clock +3d"]
    )
    day = ukrainian.index("12:00 за часом міста Київ (через 1 день).")
    assert day < ukrainian.index("12:00 за часом міста Київ (через 3 години).")


def test_clock_sends_every_at_all_batch_in_one_move(tmp_path: Path) -> None:
    """`@all` to 31 people, then `:clock +5m`: all six later batches of five arrive in that one
    move (12 a minute), where one sweep run per move used to send three. The batches speak the
    group's first language, whoever reads the console."""
    output = run_console(
        tmp_path, [":crowd 30", ":as ivan", ":group", "@all hello", ":clock +5m", ":quit"]
    )
    after = output[output.index("[Ivan @ group] > :clock +5m") :]
    for part in range(2, 8):
        assert f"📣 @all from Ivan Koval ({part}/7):" in after
    assert "the bot raised" not in output


def test_one_tap_on_i_sponsor_them_opens_the_introduction(tmp_path: Path) -> None:
    """A held newcomer: the moderator's "I sponsor them" takes them straight to the
    introduction in their private chat; no second button to find first."""
    output = run_console(tmp_path, [":join stranger", ":as mira", ":dm", ":press 1", ":quit"])
    after = output[output.index("[Mira @ dm] > :press 1") :]
    assert "Mira Moderator is taken to the private chat: /start intro_1" in after
    assert "What are their first and last name?" in after
    assert "the bot raised" not in output
    ukrainian = run_console(
        tmp_path, [":join stranger", ":as mira", ":lang uk", ":dm", ":press 1", ":quit"]
    )
    after = ukrainian[ukrainian.index("[Mira @ dm] > :press 1") :]
    assert "Mira Moderator is taken to the private chat: /start intro_1" in after
    assert "Які в людини ім’я та прізвище?" in after


def test_console_shows_a_press_answered_with_an_alert(tmp_path: Path) -> None:
    """Telegram shows a refused or expired press as an alert box: the console prints it."""
    output = run_console(
        tmp_path, [":as ivan", ":dm", "/forgetme", ":clock +25h", ":press 1", ":quit"]
    )
    assert (
        "· bot answered the press (alert): This question has expired; nothing was erased." in output
    )
