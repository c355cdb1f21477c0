"""Talking to the Paddle Billing API: one httpx client, a rate limiter, Paddle's errors.

Every request sends ``Authorization: Bearer <the vendor's key>`` and ``Paddle-Version:
1``. Paddle allows 240 requests a minute per IP and locks out a client that keeps
going: all requests of one Octane process to one Paddle environment share one
:class:`RateLimiter` (by default 200 in any 60 s), and a 429 pauses them all for
``Retry-After`` seconds before the request is sent again (a 429 was not processed,
so sending it again cannot do anything twice). Other failures are not retried here:
a timeout or a 5xx after a write may have happened on Paddle's side, so the caller
decides (a charge becomes ``unknown`` and is reconciled by lookup).
"""

from __future__ import annotations

import asyncio
import collections
import re
import threading
import time
import weakref
from typing import Any

import httpx

from octane.core.plugin_context import PluginContext

__all__ = [
    "PROVIDER",
    "PaddleApi",
    "PaddleError",
    "PaddleUnavailable",
    "RateLimiter",
    "existing_customer_id",
    "http_client",
]

PROVIDER = "paddle"
MAX_RETRY_AFTER = 120.0
"""A 429 asking for a longer pause than this is reported instead of waited out."""


class PaddleError(Exception):
    """Paddle answered with an error (4xx): its ``code`` and ``detail``."""

    def __init__(self, status: int, code: str, detail: str, errors: list[Any] | None = None):
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []
        fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in self.errors)
        super().__init__(f"{detail} ({code}{'; ' + fields if fields else ''})")


class PaddleUnavailable(Exception):
    """No clear answer: a timeout, a connection error, a 5xx, or 429s for too long."""


class RateLimiter:
    """At most ``max_requests`` starts in any ``window`` seconds (a sliding log).

    Thread-safe and loop-agnostic (a web app and a worker may run on different event
    loops in one process): the log is guarded by a thread lock and waiting is an
    ``asyncio.sleep`` outside it. Time is the monotonic clock, not the billing clock:
    Paddle counts real seconds.
    """

    def __init__(self, max_requests: int, window: float) -> None:
        self.max_requests = max_requests
        self.window = window
        self._starts: collections.deque[float] = collections.deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a slot now (0.0) or say how long to wait before trying again."""
        with self._lock:
            now = time.monotonic()
            if self._paused_until > now:
                return self._paused_until - now
            while self._starts and self._starts[0] <= now - self.window:
                self._starts.popleft()
            if len(self._starts) < self.max_requests:
                self._starts.append(now)
                return 0.0
            return self._starts[0] + self.window - now

    async def acquire(self) -> None:
        while True:
            wait = self._reserve()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Paddle said 429: nobody sends for ``seconds``."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def http_client(context: PluginContext) -> httpx.AsyncClient:
    """One pooled httpx client per Octane and event loop (a client belongs to its loop)."""
    clients: weakref.WeakKeyDictionary[Any, httpx.AsyncClient] = context.state.setdefault(
        "http_clients", weakref.WeakKeyDictionary()
    )
    loop = _running_loop()
    found = clients.get(loop)
    if found is None:
        found = httpx.AsyncClient(timeout=context.config.timeout_seconds)
        clients[loop] = found

        async def close(client: httpx.AsyncClient = found, owner: Any = loop) -> None:
            if _running_loop() is owner:  # a client can only be closed on its own loop
                await client.aclose()

        context.on_close(close)
    return found


def limiter(context: PluginContext, base_url: str) -> RateLimiter:
    """The limiter shared by every request to ``base_url`` from this Octane."""
    limiters: dict[str, RateLimiter] = context.state.setdefault("limiters", {})
    with context.state.setdefault("limiters_lock", threading.Lock()):
        if base_url not in limiters:
            config = context.config
            limiters[base_url] = RateLimiter(config.max_requests, config.rate_window_seconds)
        return limiters[base_url]


class PaddleApi:
    """The Paddle API as one vendor's key sees it."""

    def __init__(self, context: PluginContext, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.http = http_client(context)
        self.limiter = limiter(context, self.base_url)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The whole answer (``data`` and ``meta``); PaddleError or PaddleUnavailable."""
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Paddle-Version": "1",
            "Accept": "application/json",
        }
        waited = 0.0
        while True:
            await self.limiter.acquire()
            try:
                response = await self.http.request(
                    method, f"{self.base_url}{path}", json=body, params=params, headers=headers
                )
            except httpx.HTTPError as error:
                raise PaddleUnavailable(f"Paddle did not answer: {type(error).__name__}") from None
            if response.status_code == 429:
                retry_after = _seconds(response.headers.get("retry-after"))
                if waited + retry_after > MAX_RETRY_AFTER:
                    raise PaddleUnavailable("Paddle kept answering 429 (rate limited).")
                waited += retry_after
                self.limiter.pause(retry_after)
                continue
            if response.status_code >= 500:
                raise PaddleUnavailable(f"Paddle answered HTTP {response.status_code}.")
            try:
                answer: Any = response.json()
            except ValueError:
                raise PaddleUnavailable("Paddle's answer was not JSON.") from None
            if response.status_code >= 400:
                problem = answer.get("error") or {}
                raise PaddleError(
                    response.status_code,
                    str(problem.get("code", "unknown")),
                    str(problem.get("detail", response.reason_phrase)),
                    problem.get("errors"),
                )
            return dict(answer)

    async def data(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs))["data"]

    async def list_all(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """Every page of a list (cursor pagination with ``after``)."""
        found: list[dict[str, Any]] = []
        query = {**params, "per_page": "200"}
        while True:
            answer = await self.request("GET", path, params=query)
            found.extend(answer["data"])
            pagination = answer.get("meta", {}).get("pagination") or {}
            if not pagination.get("has_more") or not answer["data"]:
                return found
            query = {**query, "after": str(answer["data"][-1]["id"])}


def _seconds(value: str | None) -> float:
    try:
        return max(1.0, float(value or 1))
    except ValueError:
        return 60.0  # an HTTP date or garbage: wait a whole window


_EXISTING = re.compile(r"\b(ctm_[a-z\d]{26})\b")


def existing_customer_id(error: PaddleError) -> str | None:
    """The customer a 409 ``customer_already_exists`` names in its detail."""
    if error.code != "customer_already_exists":
        return None
    match = _EXISTING.search(error.detail)
    return match.group(1) if match else None
