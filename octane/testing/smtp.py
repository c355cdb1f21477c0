"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["SmtpServer", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.server.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """Start, stop (the server is down: connections are refused) and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[list[str], EmailMessage]] = []
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def stopped(self) -> bool:
        return self._controller is None

    @property
    def messages(self) -> list[EmailMessage]:
        return [message for _, message in self.received]
