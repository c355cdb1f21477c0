"""``octane web --processes N``: several web processes serving one port.

A Python process runs its event loop (HTTP parsing, JSON, validation) on one core, so
one web process leaves the machine's other cores idle while requests queue. Here one
listening socket per process is bound to the same port with ``SO_REUSEPORT``, then the
web processes are forked, each accepting from its own socket: the kernel spreads new
connections over the sockets by a hash of their addresses. (With one socket shared by
all, Linux wakes the same waiting process first, and a handful of busy keep-alive
connections all landed on one process while the other idled.) The parent keeps the
sockets, so a process started in place of a dead one serves the same socket and its
queue of waiting connections. The processes share nothing in memory; what
they must agree on is in the database (an API key is remembered for 1 s per process,
as with several ``octane web`` behind a load balancer). On SQLite their ingestion
writes take turns on a file lock beside the database
(:meth:`~octane.core.store.sqlite_writer.SQLiteWriter.run_exclusive`), while the others
go on parsing.

The parent only supervises: it forwards SIGINT and SIGTERM to the processes and waits
until they have stopped, and it starts a new process in place of one that died. One that
dies within seconds of its start, again and again, stops the whole command instead: a
broken configuration must fail loudly, not restart forever.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from types import FrameType

__all__ = [
    "QUICK_EXITS_ALLOWED",
    "QUICK_EXIT_SECONDS",
    "can_fork",
    "listening_sockets",
    "serve_in_processes",
]

log = logging.getLogger("octane")

QUICK_EXIT_SECONDS = 5.0
"""A process that ends this soon after its start counts as a failed start."""

QUICK_EXITS_ALLOWED = 3
"""After this many failed starts in a row the command stops with an error."""


def can_fork() -> bool:
    return hasattr(os, "fork")


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` TCP sockets listening on ``host:port`` together (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(
                socket.create_server((host, port), family=family, backlog=2048, reuse_port=True)
            )
            if port == 0:  # the first socket picked a free port: the others join it
                port = sockets[0].getsockname()[1]
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def serve_in_processes(
    sockets: Sequence[socket.socket], serve: Callable[[socket.socket], int]
) -> int:
    """Fork one process per socket, each running ``serve(its socket)`` (which returns an
    exit code), and supervise them until they all end; the command's exit code.

    Call it before this process starts threads or an event loop: a fork copies only the
    calling thread.
    """
    children: dict[int, tuple[int, float]] = {}  # pid -> (socket's index, when it started)
    stopping = False

    def stop_all(signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def start(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child: serve, then leave without running the parent's cleanup
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                for other, sock in enumerate(sockets):
                    if other != index:
                        sock.close()
                code = serve(sockets[index])
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        children[pid] = (index, time.monotonic())
        if stopping:  # a signal arrived while forking
            os.kill(pid, signal.SIGTERM)

    previous = {
        signum: signal.signal(signum, stop_all) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    code = 0
    failed_starts = 0
    try:
        for index in range(len(sockets)):
            start(index)
        while children:
            pid, status = os.wait()
            child = children.pop(pid, None)
            if child is None or stopping:
                continue
            index, started = child
            exit_code = os.waitstatus_to_exitcode(status)
            quick = time.monotonic() - started < QUICK_EXIT_SECONDS
            failed_starts = failed_starts + 1 if quick else 0
            if failed_starts >= QUICK_EXITS_ALLOWED:
                log.error(
                    "web process %s ended (exit code %s), the %s in a row to end within %s s "
                    "of its start; stopping the others",
                    pid,
                    exit_code,
                    failed_starts,
                    QUICK_EXIT_SECONDS,
                )
                code = 1
                stop_all()
                continue
            log.error("web process %s ended (exit code %s); starting another", pid, exit_code)
            start(index)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code
