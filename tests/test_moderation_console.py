"""The moderators' toolkit is playable in ``imbot console``."""

from __future__ import annotations

from pathlib import Path

from tests.test_console import run_console


def test_console_moderation(tmp_path: Path) -> None:
    output = run_console(
        tmp_path,
        [
            ":as ivan",
            "Anyone watching the match tonight?",
            ":as mira",
            ":reply 2 /offtopic",
            ":reply 2 /warn Please keep it on topic",
            "/mute @ivan_k abc",
            "/mute Ivan Koval 30m Cooling off",
            ":as ivan",
            "can I talk?",
            ":clock +31m",
            "can I talk now?",
            ":as mira",
            ":right delete off",
            ":photo",
            ":right delete on",
            "/purge 2",
            ":dm",
            "/audit @ivan_k",
            ":quit",
        ],
    )
    assert "(message #2; :reply to it by number)" in output
    assert "A friendly nudge from the moderators" in output
    assert "Ivan Koval was warned: Please keep it on topic" in output
    assert "“abc” is not a duration" in output
    assert "bot restricted Ivan Koval (read-only)" in output
    assert "CHAT_WRITE_FORBIDDEN" in output
    assert "the bot's right can_delete_messages is off" in output
    assert "Deleted 2 messages of the bot." in output
    assert "automatic: mute ended for Ivan Koval" in output
    assert "the bot raised" not in output


def test_console_mute_names_its_length_in_words_and_its_zone(tmp_path: Path) -> None:
    # The console's clock starts on 23 Nov 2026 at 09:00 UTC: 11:00 in Kyiv (the example zone).
    output = run_console(
        tmp_path,
        [
            ":as ivan",
            "hello",
            ":as mira",
            "/mute Ivan Koval 30m Cooling off",
            "/warns @ivan_k",
            ":dm",
            "/language uk",
            "/audit @ivan_k",
            ":quit",
        ],
    )
    assert "Ivan Koval is muted for 30 minutes, until 23 Nov 2026, 11:30 Kyiv time." in output
    assert "0 warnings in the last 30 days" in output
    assert "23 лист. 2026\u202fр., 11:00 за часом міста Київ · Mira Moderator" in output
    assert "(30 хвилин)" in output
