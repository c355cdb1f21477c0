"""A stateful local fake of the parts of Stripe Octane uses, for tests and the demo.

It speaks Stripe's wire format (form-encoded requests with bracketed keys, JSON
answers, ``Stripe-Account`` for connected accounts, ``Idempotency-Key`` replays,
errors as ``{"error": {...}}`` with Stripe's status codes), and answers with
objects shaped like Stripe's published fixtures (``data/stripe_fixtures.json``, a
subset of ``openapi/fixtures3.json``), so the official SDK talks to it unchanged.

Served: Connect OAuth (``/oauth/authorize`` approves at once and redirects with a
code, ``/oauth/token``, ``/oauth/deauthorize``), customers (create, retrieve, update,
search by metadata), payment intents (create and confirm off-session, retrieve,
search by metadata), Checkout Sessions in setup mode (``complete_setup`` plays the
customer saving a card) and setup intents. Card outcomes follow Stripe's test payment methods:
``pm_card_visa`` succeeds; ``pm_card_chargeDeclined``,
``pm_card_chargeDeclinedInsufficientFunds``, ``pm_card_chargeDeclinedExpiredCard``
and ``pm_card_authenticationRequired`` decline. Webhook events are signed the way
Stripe signs them and posted to ``webhook_url``.

Invoices: create a draft, ``add_lines``, ``finalize`` (numbers it, computes tax with
``automatic_tax`` at ``tax_percent``, refusing negative lines as Stripe Tax does),
``send`` (recorded in ``sent_invoices``: Stripe emails it) and ``pay`` (charges the
customer's default card). Coupons can be created and applied as invoice discounts.

Requests are checked against the SDK's generated parameter types: an unknown
parameter is refused with Stripe's ``parameter_unknown`` error.

Faults for tests: ``rate_limit_next`` answers that many requests with 429;
``hang_after_recording`` makes the next payment-intent request
record the payment and then answer only after that many seconds (a client timeout
after Stripe charged).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from octane.testing.local_server import LocalServer

__all__ = ["FakeStripe", "sign_payload"]

FIXTURES = json.loads((Path(__file__).parent / "data" / "stripe_fixtures.json").read_text())[
    "resources"
]

DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", None, "Your card has expired."),
    "pm_card_authenticationRequired": (
        "authentication_required",
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    ),
}

Send = Callable[[dict[str, Any]], Awaitable[None]]

PARAMS: tuple[tuple[str, str, str, str], ...] = (
    ("POST", r"/v1/customers", "stripe.params", "CustomerCreateParams"),
    ("POST", r"/v1/customers/[^/]+", "stripe.params", "CustomerUpdateParams"),
    ("GET", r"/v1/customers/search", "stripe.params", "CustomerSearchParams"),
    ("POST", r"/v1/payment_intents", "stripe.params", "PaymentIntentCreateParams"),
    ("GET", r"/v1/payment_intents", "stripe.params", "PaymentIntentListParams"),
    ("POST", r"/v1/invoices", "stripe.params", "InvoiceCreateParams"),
    ("POST", r"/v1/invoices/[^/]+/add_lines", "stripe.params", "InvoiceAddLinesParams"),
    ("POST", r"/v1/invoices/[^/]+/finalize", "stripe.params", "InvoiceFinalizeInvoiceParams"),
    ("POST", r"/v1/invoices/[^/]+/send", "stripe.params", "InvoiceSendInvoiceParams"),
    ("POST", r"/v1/invoices/[^/]+/pay", "stripe.params", "InvoicePayParams"),
    ("POST", r"/v1/coupons", "stripe.params", "CouponCreateParams"),
    ("POST", r"/v1/checkout/sessions", "stripe.params.checkout", "SessionCreateParams"),
)
"""Which of the SDK's generated parameter types (``stripe/params``) each request must
fit: a parameter Stripe does not know is refused, as Stripe refuses it."""


def _known_parameters(method: str, path: str) -> frozenset[str] | None:
    import importlib

    for verb, pattern, module, name in PARAMS:
        if verb == method and re.fullmatch(pattern, path):
            spec = getattr(importlib.import_module(module), name)
            return frozenset(spec.__annotations__)
    return None


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value Stripe would send."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def decode_form(body: bytes) -> dict[str, Any]:
    """``a[b][0]=x`` form encoding into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = [key.split("[", 1)[0], *re.findall(r"\[([^\]]*)\]", key)]
        node: Any = root
        for part, following in itertools.pairwise(parts):
            node = (
                node.setdefault(part, [] if following.isdigit() else {})
                if isinstance(node, dict)
                else _list_slot(node, int(part), following)
            )
        last = parts[-1]
        if isinstance(node, list):
            index = int(last)
            while len(node) <= index:
                node.append(None)
            node[index] = value
        else:
            node[last] = value
    return root


def _list_slot(node: list[Any], index: int, following: str) -> Any:
    while len(node) <= index:
        node.append(None)
    if node[index] is None:
        node[index] = [] if following.isdigit() else {}
    return node[index]


class StripeError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body


def _error(status: int, kind: str, message: str, **extra: Any) -> StripeError:
    return StripeError(status, {"error": {"type": kind, "message": message, **extra}})


class FakeStripe(LocalServer):
    name = "fake Stripe server"

    """Serves from a thread on a free loopback port between :meth:`start` and :meth:`stop`."""

    def __init__(self, *, secret_key: str = "sk_test_platform", client_id: str = "ca_test") -> None:
        self.secret_key = secret_key
        self.client_id = client_id
        self.webhook_secret = "whsec_" + secrets.token_hex(16)
        self.webhook_url: str | None = None
        self.accounts: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, str] = {}
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        """Per account id: object id -> object."""
        self.idempotent: dict[tuple[str, str], tuple[str, int, dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.hang_after_recording = 0.0
        self.rate_limit_next = 0
        self.outage = False
        """While True, every API request answers 503 (Stripe is down)."""
        """Answer this many of the next API requests with 429, as Stripe does when busy."""
        self.tax_percent = 0
        """Stripe Tax's rate for invoices with automatic_tax (0: Stripe Tax not set up)."""
        self.sent_invoices: list[str] = []
        self._ids = itertools.count(1)

    # -- objects ------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}{secrets.token_hex(4)}"

    def _shaped(self, resource: str, **values: Any) -> dict[str, Any]:
        """A fixture's shape with our values: every key Stripe sends, nothing invented."""
        obj: dict[str, Any] = copy.deepcopy(FIXTURES[resource])
        obj["metadata"] = {}
        obj.update(values)
        obj["livemode"] = False
        return obj

    def store(self, account: str) -> dict[str, dict[str, Any]]:
        return self.objects.setdefault(account, {})

    def connect_account(self) -> str:
        """A connected account, as if a vendor had gone through Connect."""
        account = self.new_id("acct")
        self.accounts[account] = self._shaped("account", id=account, object="account")
        return account

    def add_card(self, account: str, customer_id: str, payment_method: str) -> None:
        """The customer saved a card (e.g. through a setup Checkout Session)."""
        customer = self.store(account)[customer_id]
        customer["invoice_settings"]["default_payment_method"] = payment_method

    def complete_setup(
        self, account: str, session_id: str, payment_method: str = "pm_card_visa"
    ) -> dict[str, Any]:
        """The customer entered a card on the setup page: the completed session (for a
        ``checkout.session.completed`` event). The card is *not* made the default: that
        is the integration's job, as on Stripe."""
        objects = self.store(account)
        session = objects[session_id]
        intent = self._shaped(
            "setup_intent",
            id=self.new_id("seti"),
            created=int(time.time()),
            customer=session["customer"],
            payment_method=payment_method,
            status="succeeded",
            usage="off_session",
            last_setup_error=None,
            next_action=None,
        )
        objects[intent["id"]] = intent
        session.update(status="complete", setup_intent=intent["id"])
        return session

    def refund(self, account: str, intent_id: str, amount: int) -> dict[str, Any]:
        """The vendor refunded ``amount`` of a payment in Stripe's dashboard: the charge as
        a ``charge.refunded`` event carries it (``amount_refunded`` is the running total)."""
        objects = self.store(account)
        intent = objects[intent_id]
        charge = objects.get(intent["latest_charge"]) or self._shaped(
            "charge",
            id=intent["latest_charge"],
            amount=intent["amount"],
            amount_captured=intent["amount"],
            amount_refunded=0,
            currency=intent["currency"],
            customer=intent["customer"],
            payment_intent=intent["id"],
            paid=True,
            status="succeeded",
        )
        charge["amount_refunded"] = min(charge["amount_refunded"] + amount, charge["amount"])
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        objects[charge["id"]] = charge
        return charge

    def payment_intents(self, account: str) -> list[dict[str, Any]]:
        return [o for o in self.store(account).values() if o["object"] == "payment_intent"]

    # -- webhooks -----------------------------------------------------------------

    def event(self, kind: str, obj: dict[str, Any], *, account: str | None) -> dict[str, Any]:
        event = self._shaped(
            "event",
            id=self.new_id("evt"),
            type=kind,
            created=int(time.time()),
            data={"object": obj},
            api_version="2026-10-28.endive",
            request={"id": None, "idempotency_key": None},
            pending_webhooks=1,
        )
        if account:
            event["account"] = account
        return event

    def signed(self, event: dict[str, Any], *, timestamp: int | None = None) -> tuple[bytes, str]:
        payload = json.dumps(event).encode()
        return payload, sign_payload(payload, self.webhook_secret, timestamp or int(time.time()))

    async def deliver(self, event: dict[str, Any]) -> httpx.Response:
        """Post a signed event to ``webhook_url``, as Stripe does."""
        assert self.webhook_url, "set webhook_url first"
        payload, signature = self.signed(event)
        async with httpx.AsyncClient() as client:
            return await client.post(
                self.webhook_url,
                content=payload,
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            )

    # -- ASGI -----------------------------------------------------------------------

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
        params = decode_form(body if method == "POST" else scope["query_string"])
        self.requests.append((method, path, params))
        try:
            status, answer, location = await self._route(method, path, params, headers)
        except StripeError as error:
            status, answer, location = error.status, error.body, None
        if location:
            await send(
                {
                    "type": "http.response.start",
                    "status": 302,
                    "headers": [(b"location", location.encode())],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        raw = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"request-id", self.new_id("req").encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    async def _route(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], str | None]:
        if path == "/oauth/authorize":
            return self._authorize(params)
        self._check_key(headers)
        if path == "/oauth/token":
            return 200, self._token(params), None
        if path == "/oauth/deauthorize":
            account = params.get("stripe_user_id", "")
            self.accounts.pop(account, None)
            return 200, {"stripe_user_id": account}, None
        if self.outage:
            raise _error(503, "api_error", "Stripe is temporarily unavailable.")
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            raise _error(
                429,
                "invalid_request_error",
                "Too many requests made to the API too quickly.",
                code="rate_limit",
            )
        account = headers.get("stripe-account", "")
        if account not in self.accounts:
            raise _error(
                403,
                "invalid_request_error",
                f"The provided key does not have access to account '{account}'.",
                code="account_invalid",
            )
        key = headers.get("idempotency-key")
        if method == "POST" and key:
            seen = self.idempotent.get((account, key))
            fingerprint = json.dumps([path, params], sort_keys=True)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                    )
                return seen[1], seen[2], None
            try:
                status, answer = await self._api(method, path, params, account)
            except StripeError as error:
                self.idempotent[(account, key)] = (fingerprint, error.status, error.body)
                raise
            self.idempotent[(account, key)] = (fingerprint, status, answer)
            if self.hang_after_recording and path.startswith("/v1/payment_intents"):
                delay, self.hang_after_recording = self.hang_after_recording, 0.0
                await asyncio.sleep(delay)
            return status, answer, None
        status, answer = await self._api(method, path, params, account)
        return status, answer, None

    def _check_key(self, headers: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.secret_key}":
            raise _error(401, "invalid_request_error", "Invalid API Key provided.")

    def _authorize(self, params: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        if params.get("client_id") != self.client_id:
            raise _error(400, "invalid_request", "No application matches the client_id.")
        account = self.connect_account()
        code = "ac_" + secrets.token_hex(12)
        self.codes[code] = account
        query = urlencode({"code": code, "state": params.get("state", ""), "scope": "read_write"})
        return 302, {}, f"{params['redirect_uri']}?{query}"

    def _token(self, params: dict[str, Any]) -> dict[str, Any]:
        account = self.codes.pop(params.get("code", ""), None)
        if params.get("grant_type") != "authorization_code" or account is None:
            raise _error(400, "invalid_grant", "Authorization code does not exist.")
        return {
            "access_token": "sk_test_" + secrets.token_hex(12),
            "livemode": False,
            "refresh_token": "rt_" + secrets.token_hex(12),
            "scope": "read_write",
            "stripe_publishable_key": "pk_test_" + secrets.token_hex(12),
            "stripe_user_id": account,
            "token_type": "bearer",
        }

    async def _api(
        self, method: str, path: str, params: dict[str, Any], account: str
    ) -> tuple[int, dict[str, Any]]:
        known = _known_parameters(method, path)
        for name in params:
            if known is not None and name not in known:
                raise _error(
                    400,
                    "invalid_request_error",
                    f"Received unknown parameter: {name}",
                    code="parameter_unknown",
                    param=name,
                )
        objects = self.store(account)
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "customers"]:
            if len(parts) == 2 and method == "POST":
                return 200, self._create_customer(objects, params)
            if parts[2:] == ["search"]:
                return 200, self._search(objects, "customer", params)
            return 200, self._customer(objects, parts[2], params if method == "POST" else None)
        if parts[:2] == ["v1", "payment_intents"]:
            if len(parts) == 2 and method == "POST":
                return self._create_payment_intent(objects, params)
            if parts[2:] == ["search"]:
                return 200, self._search(objects, "payment_intent", params)
            if len(parts) == 2:
                listed = [
                    o
                    for o in objects.values()
                    if o["object"] == "payment_intent"
                    and o["customer"] == params.get("customer", o["customer"])
                ]
                return 200, {
                    "object": "list",
                    "data": listed[::-1],
                    "has_more": False,
                    "url": "/v1/payment_intents",
                }
            found = objects.get(parts[2])
            if found is None or found["object"] != "payment_intent":
                raise _error(
                    404,
                    "invalid_request_error",
                    f"No such payment_intent: '{parts[2]}'",
                    code="resource_missing",
                )
            return 200, found
        if parts[:3] == ["v1", "checkout", "sessions"] and method == "POST":
            customer = objects.get(params.get("customer", ""))
            if params.get("mode") != "setup" or customer is None:
                raise _error(
                    400,
                    "invalid_request_error",
                    "The fake serves setup-mode sessions for an existing customer.",
                )
            session = self._shaped(
                "checkout.session",
                id=self.new_id("cs_test"),
                created=int(time.time()),
                mode="setup",
                customer=customer["id"],
                currency=params.get("currency"),
                success_url=params.get("success_url"),
                cancel_url=params.get("cancel_url"),
                metadata=params.get("metadata", {}),
                status="open",
                payment_status="no_payment_required",
                setup_intent=None,
                payment_intent=None,
                invoice=None,
                subscription=None,
            )
            session["url"] = f"{self.url}/c/setup/{session['id']}"
            objects[session["id"]] = session
            return 200, session
        if parts[:2] == ["v1", "setup_intents"] and len(parts) == 3:
            found = objects.get(parts[2])
            if found is None or found["object"] != "setup_intent":
                raise _error(
                    404,
                    "invalid_request_error",
                    f"No such setupintent: '{parts[2]}'",
                    code="resource_missing",
                )
            return 200, found
        if parts[:2] == ["v1", "coupons"] and method == "POST":
            coupon = self._shaped(
                "coupon",
                id=self.new_id("co"),
                amount_off=int(params["amount_off"]),
                currency=params.get("currency"),
                duration=params.get("duration", "once"),
                name=params.get("name"),
                percent_off=None,
                metadata=params.get("metadata", {}),
            )
            objects[coupon["id"]] = coupon
            return 200, coupon
        if parts[:2] == ["v1", "invoices"]:
            if len(parts) == 2 and method == "POST":
                return 200, self._create_invoice(objects, params)
            invoice = objects.get(parts[2])
            if invoice is None or invoice["object"] != "invoice":
                raise _error(
                    404,
                    "invalid_request_error",
                    f"No such invoice: '{parts[2]}'",
                    code="resource_missing",
                )
            action = parts[3] if len(parts) > 3 else None
            if action is None:
                return 200, invoice
            return self._invoice_action(objects, invoice, action, params)
        raise _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _create_invoice(self, objects: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        customer = objects.get(params.get("customer", ""))
        if customer is None:
            raise _error(400, "invalid_request_error", "No such customer.", param="customer")
        collection = params.get("collection_method", "charge_automatically")
        if collection == "send_invoice" and not params.get("days_until_due"):
            raise _error(
                400,
                "invalid_request_error",
                "Missing required param: days_until_due.",
                param="days_until_due",
            )
        discounts = [{"coupon": d["coupon"]} for d in params.get("discounts", []) or []]
        invoice = self._shaped(
            "invoice",
            id=self.new_id("in"),
            created=int(time.time()),
            customer=customer["id"],
            customer_email=customer["email"],
            customer_name=customer["name"],
            currency=params["currency"],
            collection_method=collection,
            days_until_due=int(params["days_until_due"]) if params.get("days_until_due") else None,
            auto_advance=params.get("auto_advance") == "true",
            automatic_tax={
                "enabled": (params.get("automatic_tax") or {}).get("enabled") == "true",
                "liability": {"type": "self"},
                "status": None,
                "disabled_reason": None,
                "provider": None,
            },
            description=params.get("description"),
            metadata=params.get("metadata", {}),
            discounts=discounts,
            status="draft",
            number=None,
            hosted_invoice_url=None,
            invoice_pdf=None,
            lines={"object": "list", "data": [], "has_more": False, "url": "/v1/invoices/lines"},
            subtotal=0,
            subtotal_excluding_tax=0,
            total=0,
            total_excluding_tax=0,
            total_taxes=[],
            total_discount_amounts=[],
            amount_due=0,
            amount_paid=0,
            amount_remaining=0,
            attempt_count=0,
            attempted=False,
            parent=None,
            status_transitions={
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
        )
        objects[invoice["id"]] = invoice
        return invoice

    def _invoice_action(
        self,
        objects: dict[str, Any],
        invoice: dict[str, Any],
        action: str,
        params: dict[str, Any],
    ) -> tuple[int, dict[str, Any]]:
        if action == "add_lines":
            if invoice["status"] != "draft":
                raise _error(400, "invalid_request_error", "The invoice is not a draft.")
            for line in params.get("lines", []):
                price = line.get("price_data")
                quantity = Decimal(line.get("quantity_decimal") or line.get("quantity") or 1)
                if price:  # Stripe rounds quantity x decimal unit amount to the minor unit
                    amount = int(
                        (quantity * Decimal(price["unit_amount_decimal"])).quantize(
                            Decimal(1), rounding=ROUND_HALF_UP
                        )
                    )
                else:
                    amount = int(line["amount"])
                item = self._shaped(
                    "line_item",
                    id=self.new_id("il"),
                    invoice=invoice["id"],
                    amount=amount,
                    currency=invoice["currency"],
                    description=line.get("description"),
                    metadata=line.get("metadata", {}),
                    period={k: int(v) for k, v in (line.get("period") or {}).items()}
                    or {"start": invoice["created"], "end": invoice["created"]},
                    subtotal=amount,
                    quantity=int(quantity) if quantity == quantity.to_integral() else None,
                    quantity_decimal=str(quantity),
                    pricing={
                        "type": "price_details",
                        "unit_amount_decimal": price["unit_amount_decimal"] if price else None,
                    },
                    discounts=[],
                    discount_amounts=[],
                    taxes=[],
                    parent=None,
                )
                invoice["lines"]["data"].append(item)
            subtotal = sum(item["amount"] for item in invoice["lines"]["data"])
            invoice.update(
                subtotal=subtotal,
                subtotal_excluding_tax=subtotal,
                total=subtotal,
                total_excluding_tax=subtotal,
                amount_due=subtotal,
                amount_remaining=subtotal,
            )
            return 200, invoice
        if action == "finalize":
            if invoice["status"] != "draft":
                raise _error(400, "invalid_request_error", "This invoice is already finalized.")
            self._finalize(objects, invoice)
            return 200, invoice
        if action == "send":
            if invoice["status"] != "open":
                raise _error(400, "invalid_request_error", "Only open invoices can be sent.")
            self.sent_invoices.append(invoice["id"])
            return 200, invoice
        if action == "pay":
            return self._pay(objects, invoice)
        raise _error(404, "invalid_request_error", f"Unrecognized invoice action '{action}'.")

    def _finalize(self, objects: dict[str, Any], invoice: dict[str, Any]) -> None:
        lines = invoice["lines"]["data"]
        automatic = invoice["automatic_tax"]["enabled"]
        if automatic and any(line["amount"] < 0 for line in lines):
            raise _error(
                400,
                "invalid_request_error",
                "Invoice items with negative amounts are not supported with "
                "automatic tax; use discounts.",
            )
        subtotal = sum(line["amount"] for line in lines)
        discount = sum(objects[d["coupon"]]["amount_off"] for d in invoice["discounts"])
        discount = min(discount, subtotal)
        taxable = subtotal - discount
        tax = (taxable * self.tax_percent * 2 + 100) // 200 if automatic else 0  # half up
        total = taxable + tax
        invoice.update(
            status="open" if total > 0 else "paid",
            number=f"{invoice['customer'][-6:].upper()}-{len(self.sent_invoices) + 1:04d}",
            hosted_invoice_url=f"{self.url}/i/{invoice['id']}",
            invoice_pdf=f"{self.url}/i/{invoice['id']}/pdf",
            subtotal=subtotal,
            total_discount_amounts=[{"amount": discount, "discount": "di_fake"}]
            if discount
            else [],
            total_excluding_tax=taxable,
            total_taxes=[
                {
                    "amount": tax,
                    "tax_behavior": "exclusive",
                    "tax_rate_details": {"tax_rate": "txr_fake"},
                    "taxability_reason": "standard_rated",
                    "taxable_amount": taxable,
                    "type": "tax_rate_details",
                }
            ]
            if automatic and tax
            else [],
            total=total,
            amount_due=total,
            amount_remaining=total,
        )
        invoice["automatic_tax"]["status"] = "complete" if automatic else None
        invoice["status_transitions"]["finalized_at"] = int(time.time())

    def _pay(self, objects: dict[str, Any], invoice: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if invoice["status"] == "paid":
            raise _error(
                400,
                "invalid_request_error",
                "Invoice is already paid.",
                code="invoice_already_paid",
            )
        if invoice["status"] != "open":
            raise _error(400, "invalid_request_error", "Only open invoices can be paid.")
        customer = objects[invoice["customer"]]
        method = customer["invoice_settings"]["default_payment_method"]
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        if method is None or method in DECLINES:
            code, decline, message = DECLINES.get(
                method or "",
                (
                    "invoice_payment_intent_requires_action",
                    None,
                    "The customer has no default payment method.",
                ),
            )
            raise StripeError(
                402,
                {
                    "error": {
                        "type": "card_error",
                        "code": code,
                        "decline_code": decline,
                        "message": message,
                    }
                },
            )
        invoice.update(status="paid", amount_paid=invoice["total"], amount_remaining=0)
        invoice["status_transitions"]["paid_at"] = int(time.time())
        return 200, invoice

    def _create_customer(self, objects: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        customer = self._shaped(
            "customer",
            id=self.new_id("cus"),
            created=int(time.time()),
            email=params.get("email"),
            name=params.get("name"),
            metadata=params.get("metadata", {}),
            discount=None,
            invoice_settings={
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
        )
        address = params.get("address") or {}
        customer["address"] = {
            k: address.get(k) for k in ("city", "country", "line1", "line2", "postal_code", "state")
        }
        objects[customer["id"]] = customer
        return customer

    def _customer(
        self, objects: dict[str, Any], customer_id: str, changes: dict[str, Any] | None
    ) -> dict[str, Any]:
        found: dict[str, Any] | None = objects.get(customer_id)
        if found is None or found["object"] != "customer":
            raise _error(
                404,
                "invalid_request_error",
                f"No such customer: '{customer_id}'",
                code="resource_missing",
                param="id",
            )
        if changes:
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(found.get(key), dict):
                    found[key].update(value)
                else:
                    found[key] = value
        return found

    @staticmethod
    def _search(objects: dict[str, Any], kind: str, params: dict[str, Any]) -> dict[str, Any]:
        match = re.fullmatch(r"metadata\['([^']+)'\]:'([^']*)'", params.get("query", ""))
        if match is None:
            raise _error(400, "invalid_request_error", "Only metadata['key']:'value' queries.")
        key, value = match.groups()
        found = [
            o
            for o in objects.values()
            if o["object"] == kind and o.get("metadata", {}).get(key) == value
        ]
        return {
            "object": "search_result",
            "data": found,
            "has_more": False,
            "next_page": None,
            "url": f"/v1/{kind}s/search",
        }

    def _create_payment_intent(
        self, objects: dict[str, Any], params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        customer = objects.get(params.get("customer", ""))
        if customer is None:
            raise _error(400, "invalid_request_error", "No such customer.", param="customer")
        method = (
            params.get("payment_method") or customer["invoice_settings"]["default_payment_method"]
        )
        intent = self._shaped(
            "payment_intent",
            id=self.new_id("pi"),
            created=int(time.time()),
            amount=int(params["amount"]),
            amount_received=0,
            currency=params["currency"],
            customer=customer["id"],
            payment_method=method,
            metadata=params.get("metadata", {}),
            description=params.get("description"),
            last_payment_error=None,
            next_action=None,
            latest_charge=None,
            status="requires_payment_method",
        )
        intent["client_secret"] = f"{intent['id']}_secret_{secrets.token_hex(8)}"
        objects[intent["id"]] = intent
        if method is None:
            raise _error(
                400,
                "invalid_request_error",
                "You must provide a payment method to confirm this PaymentIntent.",
                code="payment_intent_unexpected_state",
                payment_intent=intent,
            )
        if method in DECLINES:
            code, decline, message = DECLINES[method]
            failure = {
                "type": "card_error",
                "code": code,
                "decline_code": decline,
                "message": message,
                "payment_method": {"id": method},
            }
            intent["last_payment_error"] = failure
            raise StripeError(402, {"error": {**failure, "payment_intent": intent}})
        intent.update(
            status="succeeded", amount_received=intent["amount"], latest_charge=self.new_id("ch")
        )
        return 200, intent
