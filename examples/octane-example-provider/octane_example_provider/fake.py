"""A local fake of ExamplePay for tests: a real HTTP server the plugin's real client talks to.

Built on :class:`octane.testing.local_server.LocalServer` (served by uvicorn from a thread
on a free loopback port)::

    fake = FakeExamplePay()
    fake.start()
    fake.script("payer_globex", "decline:no_funds", "succeed")  # first charge, then the rest
    ... # point [plugins.examplepay] at fake.block()
    fake.stop()

What it does like the real gateway:

* ``POST /v1/charges`` needs the API key and an ``Idempotency-Key``; the same key returns
  the first charge (never a second one), and the same key with a different body is
  refused with 409.
* Outcomes are scripted per payer, one per new charge, the last one repeating:
  ``succeed``, ``decline`` or ``decline:<code>`` (ExamplePay's decline codes, e.g.
  ``no_funds``), ``lose`` (the charge succeeds and is recorded, then the answer takes
  :attr:`hang_seconds`: longer than the client's timeout) and ``error`` (a 503, nothing
  recorded). A payer with no script succeeds.
* ``GET /v1/charges?idempotency_key=...`` finds a charge by its key.
* :meth:`event` and :meth:`signed` make the signed webhook events ExamplePay would send.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from octane.core.clock import SystemClock
from octane.testing.local_server import LocalServer

from octane_example_provider.webhooks import SIGNATURE_HEADER, sign

__all__ = ["FakeExamplePay"]

Send = Callable[[dict[str, Any]], Awaitable[None]]

DECLINE_MESSAGES = {
    "refused": "The card was refused by the issuer.",
    "no_funds": "The card has insufficient funds.",
    "card_expired": "The card has expired.",
}


class FakeExamplePay(LocalServer):
    name = "fake ExamplePay"

    def __init__(self, *, clock: Any = None) -> None:
        self.api_key = f"ek_test_{secrets.token_hex(8)}"
        self.webhook_secret = f"ewhsec_{secrets.token_hex(16)}"
        self.hang_seconds = 2.5
        """How long a ``lose`` outcome holds its answer (set the client's timeout below it)."""
        self.charges: list[dict[str, Any]] = []
        """Every charge recorded, in order (declined ones included)."""
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self._clock = clock or SystemClock()
        self._by_key: dict[str, tuple[str, dict[str, Any]]] = {}
        self._scripts: dict[str, list[str]] = {}
        self._ids = itertools.count(1)

    # -- what tests use ---------------------------------------------------------------

    def block(self, **overrides: Any) -> dict[str, Any]:
        """A ``[plugins.examplepay]`` block pointing at this fake."""
        return {
            "api_base": self.url,
            "api_key": self.api_key,
            "webhook_secret": self.webhook_secret,
            "timeout_seconds": 1.0,
            **overrides,
        }

    def script(self, payer: str, *outcomes: str) -> None:
        """What the payer's next charges do, in order; the last outcome repeats."""
        for outcome in outcomes:
            kind = outcome.partition(":")[0]
            if kind not in ("succeed", "decline", "lose", "error"):
                raise ValueError(f"unknown outcome {outcome!r}")
        self._scripts[payer] = list(outcomes)

    def charges_of(self, payer: str, status: str | None = None) -> list[dict[str, Any]]:
        return [
            charge
            for charge in self.charges
            if charge["payer"] == payer and (status is None or charge["status"] == status)
        ]

    def event(self, kind: str, charge: dict[str, Any]) -> dict[str, Any]:
        """An event about ``charge`` (``charge.succeeded``, ``charge.declined``)."""
        return {
            "id": f"evt_{next(self._ids):06d}{secrets.token_hex(4)}",
            "type": kind,
            "created": int(self._clock.now().timestamp()),
            "data": dict(charge),
        }

    def signed(
        self, event: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers ExamplePay would POST for ``event`` (``secret`` to forge)."""
        payload = json.dumps(event).encode()
        when = int(self._clock.now().timestamp()) if timestamp is None else timestamp
        header = sign(payload, secret or self.webhook_secret, when)
        return payload, {SIGNATURE_HEADER: header, "Content-Type": "application/json"}

    # -- the API ------------------------------------------------------------------------

    def _next_outcome(self, payer: str) -> str:
        script = self._scripts.get(payer)
        if not script:
            return "succeed"
        return script.pop(0) if len(script) > 1 else script[0]

    def _charge(self, body: dict[str, Any], key: str, outcome: str) -> dict[str, Any]:
        kind, _, code = outcome.partition(":")
        charge: dict[str, Any] = {
            "id": f"ch_{next(self._ids):06d}{secrets.token_hex(4)}",
            "status": "declined" if kind == "decline" else "succeeded",
            "amount": body["amount"],
            "currency": body["currency"],
            "payer": body["payer"],
            "description": body.get("description", ""),
            "metadata": dict(body.get("metadata") or {}),
            "idempotency_key": key,
            "decline_code": None,
            "decline_message": None,
            "created": int(self._clock.now().timestamp()),
        }
        if kind == "decline":
            code = code or "refused"
            charge["decline_code"] = code
            charge["decline_message"] = DECLINE_MESSAGES.get(code, "The payment was declined.")
        return charge

    async def _create(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        key = headers.get("idempotency-key", "")
        if not key:
            return _error(400, "idempotency_key_missing", "The Idempotency-Key header is required.")
        try:
            body = json.loads(raw)
            if not isinstance(body["amount"], int) or isinstance(body["amount"], bool):
                raise TypeError
            if body["amount"] <= 0 or not isinstance(body["payer"], str):
                raise TypeError
            str(body["currency"])
        except (ValueError, KeyError, TypeError):
            return _error(
                400,
                "invalid_request",
                "amount (a positive integer), currency and payer are required.",
            )
        fingerprint = json.dumps(body, sort_keys=True)
        seen = self._by_key.get(key)
        if seen is not None:  # the same request again: the first answer, no new charge
            if seen[0] != fingerprint:
                return _error(409, "idempotency_mismatch", "This key was used with other data.")
            return 200, seen[1]
        outcome = self._next_outcome(body["payer"])
        if outcome == "error":
            return _error(503, "unavailable", "ExamplePay is temporarily unavailable.")
        charge = self._charge(body, key, outcome)
        self._by_key[key] = (fingerprint, charge)  # recorded before any await: no race
        self.charges.append(charge)
        if outcome == "lose":
            await asyncio.sleep(self.hang_seconds)
        return 200, charge

    def _find(self, query: bytes) -> tuple[int, dict[str, Any]]:
        keys = parse_qs(query.decode()).get("idempotency_key", [])
        found = [self._by_key[key][1] for key in keys if key in self._by_key]
        return 200, {"data": found}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        self.requests.append((method, path, headers))
        if headers.get("authorization") != f"Bearer {self.api_key}":
            status, answer = _error(401, "invalid_api_key", "The API key is not valid.")
        elif (method, path) == ("POST", "/v1/charges"):
            status, answer = await self._create(headers, raw)
        elif (method, path) == ("GET", "/v1/charges"):
            status, answer = self._find(scope["query_string"])
        else:
            status, answer = _error(404, "not_found", f"No route {method} {path}.")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}
