"""The database disappears for a while under a running `imbot run`: no crash, no loss, no double.

The shared PostgreSQL is never stopped (other people use it): the process reaches it through a
small TCP proxy that the test cuts — every open connection dropped, new ones refused — and
later restores, which is what a database restart or a network cut looks like to the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from simulation.http import FakeTelegramServer
from tests.processes import (
    BotProcess,
    deliveries,
    needs_postgresql,
    outbox_statuses,
    seed_partners,
    wait_for,
    write_config,
)

OUTAGE = 30.0  # seconds, as the issue says


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.open()

    def _run(self, coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)  # type: ignore[arg-type]

    def open(self) -> None:
        async def start() -> None:
            self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

        self._run(start())

    def cut(self) -> None:
        async def close() -> None:
            assert self.server is not None
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()

        self._run(close())

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}


@pytest.mark.postgresql
@needs_postgresql
def test_a_database_outage_is_survived_without_loss_or_duplicate(
    database_url: str, tmp_path: Path, server: FakeTelegramServer
) -> None:
    partners = seed_partners(database_url, server.telegram, 120)
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    config = write_config(tmp_path, lease="3m")  # marks retried for up to 60 s
    bot = BotProcess("bot", config, through_proxy, server.url("bot"), tmp_path)
    try:
        wait_for(lambda: len(server.sent("bot")) >= 25, 90, f"sending\n{bot.output()[-2000:]}")
        proxy.cut()
        time.sleep(OUTAGE)
        assert bot.process.poll() is None, bot.output()[-3000:]  # still running
        proxy.open()
        wait_for(
            lambda: len(deliveries(server, partners)) == len(partners),
            90,
            f"every reminder after the outage\n{bot.output()[-3000:]}",
        )
        wait_for(lambda: outbox_statuses(database_url) == {"sent": len(partners)}, 40, "marked")
        counts = deliveries(server, partners)
        assert max(counts.values()) == 1, counts.most_common(3)
        log = bot.output()
        assert "unreachable" in log or "database failed" in log  # it said so, clearly
        assert bot.terminate() == 0, log[-3000:]
    finally:
        bot.stop_quietly()
        proxy.stop()
