"""The supervisor of ``octane web --processes N`` gives up on processes that cannot start."""

from __future__ import annotations

import socket
from pathlib import Path

from octane.web_processes import QUICK_EXITS_ALLOWED, listening_sockets, serve_in_processes


def test_sockets_share_one_port() -> None:
    sockets = listening_sockets("127.0.0.1", 0, 3)
    try:
        assert len({sock.getsockname() for sock in sockets}) == 1
        assert all(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def test_processes_that_end_at_once_stop_the_command(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    sockets = listening_sockets("127.0.0.1", 0, 2)

    def serve(sock: socket.socket) -> int:
        with open(starts, "a") as out:  # each forked process notes its start
            out.write(f"{sock.getsockname()[1]}\n")
        return 3  # a process that cannot start (a broken configuration, say)

    try:
        code = serve_in_processes(sockets, serve)
    finally:
        for sock in sockets:
            sock.close()
    assert code == 1
    # Both started; then replacements until the failures in a row reached the limit.
    assert QUICK_EXITS_ALLOWED + 1 <= len(starts.read_text().split()) <= QUICK_EXITS_ALLOWED + 2
