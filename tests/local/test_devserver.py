"""The embedded dev server: it starts, or says why not, whatever the machine is doing."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from amendments.local.devserver import DevServer
from amendments.simulator.server import free_port
from amendments.temporal.connection import DATA_CONVERTER

# It starts Temporal dev servers.
pytestmark = pytest.mark.temporal


class FlakyFirstStart(DevServer):
    """A dev server whose first start exits at once, as when a port it picked itself was taken
    between its check and its bind; the next start is the real one."""

    marker: Path = Path()

    def command(self) -> list[str]:
        if self.marker.exists():
            return super().command()
        self.marker.touch()
        script = "import sys; print('listen tcp: bind: address already in use'); sys.exit(1)"
        return [sys.executable, "-c", script]


async def refusal(server: DevServer) -> str:
    """What starting `server` says when it fails (it must fail)."""
    server.start()
    try:
        with pytest.raises(RuntimeError) as raised:
            await server.connect(None, DATA_CONVERTER)
    finally:
        server.stop()
    return str(raised.value)


async def test_a_dev_server_that_exits_before_it_answers_is_started_again(
    tmp_path: Path,
) -> None:
    server = FlakyFirstStart("127.0.0.1", free_port(), free_port(), log=tmp_path / "temporal.log")
    server.marker = tmp_path / "started-once"
    server.start()
    try:
        client = await server.connect(None, DATA_CONVERTER)
        assert (await client.service_client.check_health()) is not None
    finally:
        server.stop()
    assert server.marker.exists()
    assert "address already in use" in (tmp_path / "temporal.log").read_text()


async def test_a_taken_port_we_named_is_said_at_once_with_the_servers_words(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = await refusal(
            DevServer("127.0.0.1", port, free_port(), log=tmp_path / "temporal.log")
        )
    assert f"exited before it answered on 127.0.0.1:{port} (1 start(s))" in message
    assert "exit status 1" in message
    assert f"can't set frontend port {port}" in message
    assert f"can't set frontend port {port}" in (tmp_path / "temporal.log").read_text()


async def test_a_dev_server_that_keeps_exiting_is_given_up_after_three_starts(
    tmp_path: Path,
) -> None:
    class AlwaysExits(DevServer):
        def command(self) -> list[str]:
            return [sys.executable, "-c", "import sys; sys.exit(3)"]

    message = await refusal(AlwaysExits("127.0.0.1", free_port(), free_port()))
    assert "(3 start(s))" in message
    assert message.count("exit status 3: (no output)") == 3
