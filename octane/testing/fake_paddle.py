"""A stateful local fake of the parts of the Paddle Billing API Octane uses.

It follows Paddle's published OpenAPI document (v1) in the shapes Octane reads:
``{"data": ..., "meta": {"request_id": ...}}`` bodies, amounts as strings in the
currency's minor unit, cursor pagination (``after``, ``per_page``,
``meta.pagination``), and errors as ``{"error": {"type", "code", "detail",
"documentation_url", "errors"?}, "meta"}``. Requests need ``Authorization: Bearer
<key>`` and ``Paddle-Version: 1``; bodies with unknown or missing fields are refused
with ``bad_request`` naming the field.

Served: customers (create, get, list by email/id; a second customer with one email
is a 409 ``customer_already_exists`` naming the existing ``ctm_``), addresses and
businesses of a customer, transactions (non-catalog items, ``custom_data``,
``collection_mode: manual`` with ``billing_details``, ``status: billed`` numbers the
invoice and "emails" it (``emailed_invoices``); billed transactions are immutable
except for cancelling; list by ``id``, ``customer_id``, ``subscription_id``,
``status``), the invoice PDF (``GET /transactions/{id}/invoice`` answers a URL that
expires after an hour on :attr:`now`), subscriptions (made by :meth:`add_subscription`,
as a customer's checkout would) with one-time charges (``POST
/subscriptions/{id}/charge``, ``effective_from: immediately``), and ``/event-types``
(the harmless call behind "test connection").

Limits: 240 requests per rolling window of 60 s per client IP (both adjustable so
tests run fast); over the limit, 429 ``too_many_requests`` with ``Retry-After``, and
a client that keeps going past twice the limit is locked out for a whole window
(:attr:`throttled`, :attr:`lockouts` count them).

Faults for tests: ``declines[sub_id] = "<payment error code>"`` makes that
subscription's charges fail (the charge answers 400 ``subscription_payment_declined``
-- Paddle's exact code here is unverified -- and a ``past_due`` transaction with the
failed payment is recorded); ``hang_after_recording`` makes the next charge record
the payment and then answer only after that many seconds. Tax: ``tax_percent`` of
each item, exclusive, rounded half up (Paddle as merchant of record).

Webhooks: :meth:`notification` builds an event, :meth:`signed` signs it the way
Paddle does (``Paddle-Signature: ts=<unix>;h1=<hex HMAC-SHA256 of "ts:body">``).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import itertools
import json
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl

from octane.testing.local_server import LocalServer

__all__ = ["FakePaddle", "sign_payload"]

Send = Callable[[dict[str, Any]], Awaitable[None]]
DOCS = "https://developer.paddle.com/v1/errors"
PDF_LIFETIME = 3600
MANUAL_CURRENCIES = ("USD", "EUR", "GBP")

# The request fields the fake accepts per operation (Paddle's schemas, the parts in use).
CUSTOMER_FIELDS = {"email", "name", "custom_data", "locale"}
ADDRESS_FIELDS = {
    "country_code",
    "postal_code",
    "first_line",
    "second_line",
    "city",
    "region",
    "description",
    "custom_data",
}
BUSINESS_FIELDS = {"name", "company_number", "tax_identifier", "contacts", "custom_data"}
TRANSACTION_FIELDS = {
    "items",
    "status",
    "customer_id",
    "address_id",
    "business_id",
    "custom_data",
    "currency_code",
    "collection_mode",
    "discount_id",
    "billing_details",
    "billing_period",
}
CHARGE_FIELDS = {"effective_from", "items", "on_payment_failure"}
ITEM_FIELDS = {"quantity", "price", "price_id"}
PRICE_FIELDS = {
    "description",
    "name",
    "product",
    "product_id",
    "unit_price",
    "tax_mode",
    "custom_data",
    "quantity",
    "billing_cycle",
    "trial_period",
    "unit_price_overrides",
}


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Paddle-Signature`` header Paddle would send for ``payload``."""
    signed = f"{timestamp}:".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"ts={timestamp};h1={digest}"


class PaddleError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        kind: str = "request_error",
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body: dict[str, Any] = {
            "type": kind,
            "code": code,
            "detail": detail,
            "documentation_url": f"{DOCS}/shared/{code}",
        }
        if errors:
            self.body["errors"] = errors
        self.headers = headers or {}


def _bad_field(field: str, message: str) -> PaddleError:
    return PaddleError(
        400,
        "bad_request",
        "Invalid request.",
        errors=[{"field": field, "message": message}],
    )


def _check_fields(
    body: Any, allowed: set[str], required: tuple[str, ...], *, prefix: str = ""
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad_field(prefix or "(root)", "must be an object")
    for key in body:
        if key not in allowed:
            raise _bad_field(f"{prefix}{key}", "property is not allowed")
    for key in required:
        if body.get(key) in (None, ""):
            raise _bad_field(f"{prefix}{key}", "is required")
    return body


def _minor(value: Any, field: str) -> int:
    if not isinstance(value, str) or not value.isdigit():
        raise _bad_field(field, "must be a string of digits (an amount in minor units)")
    return int(value)


class FakePaddle(LocalServer):
    name = "fake Paddle server"

    """Serves from a thread on a free loopback port between :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        *,
        api_key: str = "pdl_sdbx_apikey_01test_fakepaddlekey",
        rate_limit: int = 240,
        window_seconds: float = 60.0,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = "pdl_ntf_01fake_" + secrets.token_hex(16)
        self.rate_limit = rate_limit
        self.window_seconds = window_seconds
        self.customers: dict[str, dict[str, Any]] = {}
        self.addresses: dict[str, dict[str, Any]] = {}
        self.businesses: dict[str, dict[str, Any]] = {}
        self.transactions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.pdf_links: dict[str, tuple[str, float]] = {}
        self.requests: list[tuple[str, str]] = []
        self.emailed_invoices: list[str] = []
        self.declines: dict[str, str] = {}
        self.outage = False
        """While True, every API request answers 503 (Paddle is down)."""
        self.hang_after_recording = 0.0
        self.tax_percent = 0
        self.throttled = 0
        """How many requests got a 429."""
        self.lockouts = 0
        self.time_offset = 0.0
        """Seconds added to the real time (to let invoice links expire in a test)."""
        self._hits: dict[str, collections.deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._invoice_numbers = itertools.count(1)

    def now(self) -> float:
        return time.time() + self.time_offset

    def _iso(self, at: float | None = None) -> str:
        moment = datetime.fromtimestamp(self.now() if at is None else at, UTC)
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def new_id(self, prefix: str) -> str:
        """An id shaped like Paddle's: ``<prefix>_`` and 26 lowercase letters and digits."""
        alphabet = string.ascii_lowercase + string.digits
        serial = f"{next(self._ids):06d}"
        return f"{prefix}_{serial}" + "".join(secrets.choice(alphabet) for _ in range(20))

    # -- set-up helpers for tests ---------------------------------------------------

    def add_subscription(self, customer_id: str, currency: str = "USD") -> str:
        """An active subscription with a saved card, as if the customer went through
        Paddle Checkout once."""
        sub_id = self.new_id("sub")
        customer = self.customers[customer_id]
        self.subscriptions[sub_id] = {
            "id": sub_id,
            "status": "active",
            "customer_id": customer_id,
            "address_id": next(
                (a["id"] for a in self.addresses.values() if a["customer_id"] == customer["id"]),
                None,
            ),
            "business_id": None,
            "currency_code": currency,
            "collection_mode": "automatic",
            "created_at": self._iso(),
            "updated_at": self._iso(),
            "custom_data": None,
            "items": [],
        }
        return sub_id

    def pay_checkout(self, transaction_id: str) -> dict[str, Any]:
        """The customer paid on Paddle Checkout: the completed transaction (for a
        ``transaction.completed`` notification)."""
        transaction = self.transactions[transaction_id]
        transaction["status"] = "completed"
        transaction["payments"] = [
            {
                "amount": transaction["details"]["totals"]["grand_total"],
                "status": "captured",
                "payment_attempt_id": self.new_id("pay"),
                "error_code": None,
                "created_at": self._iso(),
            }
        ]
        return transaction

    def adjustment(
        self, transaction_id: str, amount: int, *, action: str = "refund", status: str = "approved"
    ) -> dict[str, Any]:
        """The vendor refunded (part of) a transaction in Paddle's dashboard: the adjustment
        entity ``adjustment.created`` carries (amounts as strings in minor units)."""
        transaction = self.transactions[transaction_id]
        return {
            "id": self.new_id("adj"),
            "action": action,
            "type": "partial",
            "transaction_id": transaction_id,
            "subscription_id": transaction.get("subscription_id"),
            "customer_id": transaction.get("customer_id"),
            "reason": "Requested by the customer",
            "credit_applied_to_balance": None,
            "currency_code": transaction.get("currency_code"),
            "status": status,
            "items": [],
            "totals": {
                "subtotal": str(amount),
                "tax": "0",
                "total": str(amount),
                "fee": "0",
                "earnings": str(amount),
                "currency_code": transaction.get("currency_code"),
            },
            "payout_totals": None,
            "tax_rates_used": [],
            "created_at": self._iso(),
            "updated_at": self._iso(),
        }

    # -- webhooks -------------------------------------------------------------------

    def notification(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_id": self.new_id("evt"),
            "event_type": event_type,
            "occurred_at": self._iso(),
            "notification_id": self.new_id("ntf"),
            "data": data,
        }

    def signed(
        self, event: dict[str, Any], *, timestamp: int | None = None, secret: str | None = None
    ) -> tuple[bytes, str]:
        payload = json.dumps(event).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        return payload, sign_payload(payload, secret or self.webhook_secret, ts)

    # -- ASGI -------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        query = dict(parse_qsl(scope["query_string"].decode()))
        request_id = secrets.token_hex(16)
        if path.startswith("/invoice-pdf/"):
            await self._serve_pdf(path.rsplit("/", 1)[1], send)
            return
        self.requests.append((method, path))
        extra: dict[str, str] = {}
        try:
            self._throttle((scope.get("client") or ("?", 0))[0])
            self._authenticate(headers)
            if self.outage:
                raise PaddleError(
                    503,
                    "service_unavailable",
                    "Paddle is temporarily unavailable.",
                    kind="api_error",
                )
            parsed: Any = None
            if body:
                try:
                    parsed = json.loads(body)
                except ValueError:
                    raise PaddleError(400, "bad_request", "Invalid JSON body.") from None
            status, data, meta = await self._route(method, path, query, parsed)
            answer: dict[str, Any] = {"data": data, "meta": {"request_id": request_id, **meta}}
        except PaddleError as error:
            status, extra = error.status, error.headers
            answer = {"error": error.body, "meta": {"request_id": request_id}}
        raw = json.dumps(answer).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"request-id", request_id.encode()),
            *((k.encode(), v.encode()) for k, v in extra.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": raw})

    async def _serve_pdf(self, token: str, send: Send) -> None:
        found = self.pdf_links.get(token)
        if found is None or found[1] < self.now():
            status, body, kind = 403, b"<Error><Code>AccessDenied</Code></Error>", b"text/xml"
        else:
            number = self.transactions[found[0]]["invoice_number"]
            status, kind = 200, b"application/pdf"
            body = b"%PDF-1.4\n% Paddle invoice " + number.encode() + b"\n%%EOF\n"
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]}
        )
        await send({"type": "http.response.body", "body": body})

    def _throttle(self, ip: str) -> None:
        now = time.monotonic()
        locked = self._locked_until.get(ip, 0.0)
        if locked > now:
            self.throttled += 1
            raise self._too_many(locked - now)
        hits = self._hits.setdefault(ip, collections.deque())
        while hits and hits[0] <= now - self.window_seconds:
            hits.popleft()
        hits.append(now)
        if len(hits) > self.rate_limit:
            self.throttled += 1
            if len(hits) > 2 * self.rate_limit:  # it kept going: locked out for a window
                self.lockouts += 1
                self._locked_until[ip] = now + self.window_seconds
                raise self._too_many(self.window_seconds)
            raise self._too_many(hits[0] + self.window_seconds - now)

    @staticmethod
    def _too_many(wait: float) -> PaddleError:
        return PaddleError(
            429,
            "too_many_requests",
            "IP address exceeded the allowed rate limit. Retry after the number of seconds "
            "in the Retry-After header.",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )

    def _authenticate(self, headers: dict[str, str]) -> None:
        auth = headers.get("authorization", "")
        if not auth:
            raise PaddleError(
                401,
                "authentication_missing",
                "Authentication header included, but incorrectly formatted.",
            )
        scheme, _, key = auth.partition(" ")
        if scheme != "Bearer" or not key:
            raise PaddleError(
                403,
                "authentication_malformed",
                "Authentication header included, but incorrectly formatted.",
            )
        if not hmac.compare_digest(key, self.api_key):
            raise PaddleError(403, "forbidden", "You aren't permitted to perform this request.")
        if headers.get("paddle-version") != "1":
            raise PaddleError(
                400,
                "invalid_version",
                "The Paddle-Version header is missing or not a supported version (1).",
            )

    # -- routing ------------------------------------------------------------------------

    async def _route(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if parts == ["event-types"] and method == "GET":
            names = ["transaction.billed", "transaction.completed", "transaction.paid"]
            return 200, [{"name": n, "group": "Transaction"} for n in names], {}
        if parts[0] == "customers":
            return self._customers(method, parts[1:], query, body)
        if parts[0] == "transactions":
            return self._transactions(method, parts[1:], query, body)
        if parts[0] == "subscriptions" and len(parts) >= 2:
            return await self._subscriptions(method, parts[1:], body)
        raise PaddleError(404, "not_found", f"Route {method} {path} not found.")

    @staticmethod
    def _page(
        items: list[dict[str, Any]], query: dict[str, str]
    ) -> tuple[list[Any], dict[str, Any]]:
        per_page = min(int(query.get("per_page", "50")), 200)
        after = query.get("after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[:per_page]
        has_more = len(items) > per_page
        return page, {
            "pagination": {
                "per_page": per_page,
                "next": f"?after={page[-1]['id']}" if page else None,
                "has_more": has_more,
                "estimated_total": len(items),
            }
        }

    def _customers(
        self, method: str, rest: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, Any]]:
        if not rest:
            if method == "POST":
                return 201, self._create_customer(body), {}
            found = list(self.customers.values())
            if "email" in query:
                emails = set(query["email"].split(","))
                found = [c for c in found if c["email"] in emails]
            if "id" in query:
                ids = set(query["id"].split(","))
                found = [c for c in found if c["id"] in ids]
            page, meta = self._page(found, query)
            return 200, page, meta
        customer = self.customers.get(rest[0])
        if customer is None:
            raise PaddleError(404, "entity_not_found", f"Customer '{rest[0]}' not found.")
        if len(rest) == 1:
            return 200, customer, {}
        store, fields, required, prefix = {
            "addresses": (self.addresses, ADDRESS_FIELDS, ("country_code",), "add"),
            "businesses": (self.businesses, BUSINESS_FIELDS, ("name",), "biz"),
        }.get(rest[1], (None, set(), (), ""))
        if store is None:
            raise PaddleError(404, "not_found", "Route not found.")
        if method == "POST":
            data = _check_fields(body, fields, required)
            if (
                rest[1] == "addresses"
                and data["country_code"] in ("US", "GB", "CA")
                and not data.get("postal_code")
            ):
                raise _bad_field("postal_code", "is required for this country")
            entity = {
                "id": self.new_id(prefix),
                "customer_id": customer["id"],
                "status": "active",
                "created_at": self._iso(),
                "updated_at": self._iso(),
                "custom_data": None,
                **data,
            }
            store[entity["id"]] = entity
            return 201, entity, {}
        found = [e for e in store.values() if e["customer_id"] == customer["id"]]
        page, meta = self._page(found, query)
        return 200, page, meta

    def _create_customer(self, body: Any) -> dict[str, Any]:
        data = _check_fields(body, CUSTOMER_FIELDS, ("email",))
        for existing in self.customers.values():
            if existing["email"].lower() == str(data["email"]).lower():
                raise PaddleError(
                    409,
                    "customer_already_exists",
                    f"customer email conflicts with customer of id {existing['id']}",
                )
        customer = {
            "id": self.new_id("ctm"),
            "name": data.get("name"),
            "email": data["email"],
            "marketing_consent": False,
            "status": "active",
            "custom_data": data.get("custom_data"),
            "locale": data.get("locale", "en"),
            "created_at": self._iso(),
            "updated_at": self._iso(),
            "import_meta": None,
        }
        self.customers[customer["id"]] = customer
        return customer

    # -- transactions ---------------------------------------------------------------

    def _transactions(
        self, method: str, rest: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, Any]]:
        if not rest:
            if method == "POST":
                return 201, self._create_transaction(body, origin="api"), {}
            found = list(self.transactions.values())
            for key in ("id", "customer_id", "subscription_id", "status"):
                if key in query:
                    wanted = set(query[key].split(","))
                    found = [t for t in found if t.get(key) in wanted]
            page, meta = self._page(found, query)
            return 200, page, meta
        transaction = self.transactions.get(rest[0])
        if transaction is None:
            raise PaddleError(404, "entity_not_found", f"Transaction '{rest[0]}' not found.")
        if len(rest) == 1 and method == "GET":
            return 200, transaction, {}
        if len(rest) == 1 and method == "PATCH":
            data = _check_fields(body, TRANSACTION_FIELDS, ())
            billed = transaction["status"] in ("billed", "paid", "completed", "past_due")
            if billed and data != {"status": "canceled"}:
                raise PaddleError(
                    400,
                    "transaction_immutable",
                    "Billed or completed transactions cannot be changed, only canceled.",
                )
            transaction.update(data, updated_at=self._iso())
            return 200, transaction, {}
        if rest[1:] == ["invoice"] and method == "GET":
            if transaction["status"] not in ("billed", "paid", "completed", "past_due"):
                raise PaddleError(
                    400,
                    "transaction_invoice_pdf_not_available",
                    "An invoice PDF is available once the transaction is billed or completed.",
                )
            token = secrets.token_urlsafe(24)
            self.pdf_links[token] = (transaction["id"], self.now() + PDF_LIFETIME)
            return 200, {"url": f"{self.url}/invoice-pdf/{token}"}, {}
        raise PaddleError(404, "not_found", "Route not found.")

    def _items(self, items: Any, currency: str | None) -> tuple[list[dict[str, Any]], str]:
        if not isinstance(items, list) or not items or len(items) > 100:
            raise _bad_field("items", "must be a list of 1 to 100 items")
        out = []
        for index, item in enumerate(items):
            prefix = f"items[{index}]."
            _check_fields(item, ITEM_FIELDS, ("quantity", "price"), prefix=prefix)
            price = _check_fields(
                item["price"], PRICE_FIELDS, ("description", "unit_price"), prefix=f"{prefix}price."
            )
            if not price.get("product") and not price.get("product_id"):
                raise _bad_field(f"{prefix}price.product", "product or product_id is required")
            unit = price["unit_price"]
            amount = _minor(unit.get("amount"), f"{prefix}price.unit_price.amount")
            code = unit.get("currency_code")
            currency = currency or code
            if code != currency:
                raise _bad_field(
                    f"{prefix}price.unit_price.currency_code", "must match currency_code"
                )
            quantity = item["quantity"]
            if not isinstance(quantity, int) or quantity < 1:
                raise _bad_field(f"{prefix}quantity", "must be an integer of at least 1")
            subtotal = amount * quantity
            tax = int(
                (Decimal(subtotal) * self.tax_percent / 100).quantize(
                    Decimal(1), rounding=ROUND_HALF_UP
                )
            )
            if price.get("tax_mode") == "internal":  # the price includes the tax
                tax = int(
                    (Decimal(subtotal) * self.tax_percent / (100 + self.tax_percent)).quantize(
                        Decimal(1), rounding=ROUND_HALF_UP
                    )
                )
                subtotal -= tax
            out.append(
                {
                    "price": {"id": self.new_id("pri"), **price},
                    "quantity": quantity,
                    "totals": {"subtotal": subtotal, "tax": tax, "total": subtotal + tax},
                }
            )
        assert currency is not None
        return out, currency

    def _create_transaction(
        self, body: Any, *, origin: str, subscription: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        data = _check_fields(body, TRANSACTION_FIELDS, ("items",))
        items, currency = self._items(data["items"], data.get("currency_code"))
        mode = data.get("collection_mode", "automatic")
        customer_id = data.get("customer_id")
        if customer_id and customer_id not in self.customers:
            raise _bad_field("customer_id", "customer not found")
        address_id = data.get("address_id")
        if address_id and self.addresses.get(address_id, {}).get("customer_id") != customer_id:
            raise _bad_field("address_id", "address not found for this customer")
        status = data.get("status")
        if mode == "manual":
            if currency not in MANUAL_CURRENCIES:
                raise _bad_field("currency_code", "manual collection supports USD, EUR or GBP")
            if not data.get("billing_details"):
                raise _bad_field("billing_details", "is required for manual collection")
            if not customer_id or not address_id:
                raise _bad_field("customer_id", "customer and address are required")
            if not self.customers[customer_id].get("name"):
                raise _bad_field("customer_id", "the customer needs a name to be invoiced")
        if status not in (None, "billed"):
            raise _bad_field("status", "only billed can be set on create")
        subtotal = sum(i["totals"]["subtotal"] for i in items)
        tax = sum(i["totals"]["tax"] for i in items)
        transaction = {
            "id": self.new_id("txn"),
            "status": status or ("ready" if customer_id and address_id else "draft"),
            "customer_id": customer_id,
            "address_id": address_id,
            "business_id": data.get("business_id"),
            "custom_data": data.get("custom_data"),
            "origin": origin,
            "collection_mode": mode,
            "subscription_id": subscription["id"] if subscription else None,
            "invoice_id": None,
            "invoice_number": None,
            "billing_details": data.get("billing_details"),
            "billing_period": data.get("billing_period"),
            "currency_code": currency,
            "discount_id": None,
            "created_at": self._iso(),
            "updated_at": self._iso(),
            "billed_at": None,
            "items": [{"price": i["price"], "quantity": i["quantity"]} for i in items],
            "details": {
                "totals": {
                    "subtotal": str(subtotal),
                    "discount": "0",
                    "tax": str(tax),
                    "total": str(subtotal + tax),
                    "credit": "0",
                    "balance": str(subtotal + tax),
                    "grand_total": str(subtotal + tax),
                    "fee": None,
                    "earnings": None,
                    "currency_code": currency,
                },
                "line_items": [
                    {
                        "id": self.new_id("txnitm"),
                        "price_id": i["price"]["id"],
                        "quantity": i["quantity"],
                        "totals": {k: str(v) for k, v in i["totals"].items()},
                        "product": i["price"].get("product"),
                    }
                    for i in items
                ],
            },
            "payments": [],
            "checkout": {
                "url": f"{self.url}/checkout?_ptxn=PLACEHOLDER" if mode == "automatic" else None
            },
        }
        if transaction["checkout"]["url"]:
            transaction["checkout"]["url"] = transaction["checkout"]["url"].replace(
                "PLACEHOLDER", transaction["id"]
            )
        if status == "billed":
            self._bill(transaction)
        self.transactions[transaction["id"]] = transaction
        return transaction

    def _bill(self, transaction: dict[str, Any]) -> None:
        number = f"{datetime.now(UTC).year}-{next(self._invoice_numbers):05d}"
        transaction.update(
            status="billed",
            billed_at=self._iso(),
            invoice_number=number,
            invoice_id=self.new_id("inv"),
        )
        if transaction["collection_mode"] == "manual":
            self.emailed_invoices.append(transaction["id"])

    async def _subscriptions(
        self, method: str, rest: list[str], body: Any
    ) -> tuple[int, Any, dict[str, Any]]:
        subscription = self.subscriptions.get(rest[0])
        if subscription is None:
            raise PaddleError(404, "entity_not_found", f"Subscription '{rest[0]}' not found.")
        if len(rest) == 1 and method == "GET":
            return 200, subscription, {}
        if rest[1:] != ["charge"] or method != "POST":
            raise PaddleError(404, "not_found", "Route not found.")
        data = _check_fields(body, CHARGE_FIELDS, ("effective_from", "items"))
        if data["effective_from"] not in ("immediately", "next_billing_period"):
            raise _bad_field("effective_from", "must be immediately or next_billing_period")
        if subscription["status"] != "active":
            raise PaddleError(
                400,
                "subscription_locked_pending_changes"
                if subscription["status"] == "past_due"
                else "subscription_is_canceled_action_invalid",
                f"The subscription is {subscription['status']}.",
            )
        transaction = self._create_transaction(
            {
                "items": data["items"],
                "customer_id": subscription["customer_id"],
                "address_id": subscription["address_id"],
                "currency_code": subscription["currency_code"],
            },
            origin="subscription_charge",
            subscription=subscription,
        )
        decline = self.declines.get(subscription["id"])
        payment = {
            "payment_attempt_id": self.new_id("pay"),
            "amount": transaction["details"]["totals"]["grand_total"],
            "status": "error" if decline else "captured",
            "error_code": decline,
            "created_at": self._iso(),
            "captured_at": None if decline else self._iso(),
            "method_details": {"type": "card", "card": {"type": "visa", "last4": "4242"}},
        }
        transaction["payments"] = [payment]
        self._bill(transaction)
        transaction["status"] = "past_due" if decline else "completed"
        if self.hang_after_recording:
            wait, self.hang_after_recording = self.hang_after_recording, 0.0
            await asyncio.sleep(wait)
        if decline:
            raise PaddleError(
                400,
                "subscription_payment_declined",
                f"The payment for the one-time charge was declined ({decline}).",
            )
        return 200, subscription, {}
