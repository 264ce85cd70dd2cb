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
