"""Piccolo tables: the stored form of the domain model.

Conventions, so that every table reads the same way:

* Every row belongs to exactly one vendor (``vendor`` foreign key) and every query
  filters on it. Foreign keys ``RESTRICT`` deletes: financial records are never
  cascaded away. On PostgreSQL the two highest-volume tables, ledger entries and
  invoice lines, check their vendor together with their customer or invoice (one
  composite foreign key, ``migrations/octane_2026_12_01t13_50_00_000000.py``).
* Primary keys are prefixed random strings (``cus_...``, ``inv_...``, see
  :mod:`octane.core.ids`), except for high-volume append-only tables
  (measurements, ledger entries) which use integers.
* Amounts are ``BigInt`` minor units; Decimals (unit prices, rates, quantities in
  configuration) are stored as strings, because SQLite's NUMERIC affinity would
  turn them into floats. Measurement values are stored as integer millionths
  (``value_micros``) so that SUM/MAX run exactly in SQL on both databases.
* Times are ``Timestamptz`` written from the clock abstraction; the database's
  own ``now()`` is never relied on.
* The invariants (one measurement per idempotency key, one invoice per cycle, one
  payment attempt per attempt number, one webhook per event id...) are unique
  indexes created by the migrations (``migrations/octane_2026_11_24t13_01_00_000000.py``
  lists them), because Piccolo's composite constraints cannot be created on SQLite.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

__all__ = [
    "TABLES",
    "ApiKey",
    "AuditLog",
    "BillingCycle",
    "Coupon",
    "CouponRedemption",
    "CreditGrant",
    "Customer",
    "Invoice",
    "InvoiceLine",
    "InvoiceSequence",
    "LedgerEntry",
    "Measurement",
    "Meter",
    "OutboundMessage",
    "PaymentAttempt",
    "PortalLoginFailure",
    "PortalSession",
    "PortalUser",
    "PricePlan",
    "ProviderAccount",
    "SandboxCharge",
    "Subscription",
    "Vendor",
    "WebhookEvent",
]

_ID = 40


def _id() -> Varchar:
    return Varchar(length=_ID, primary_key=True)


def _fk(table: type[Table] | str, *, null: bool = False) -> ForeignKey[Table]:
    return ForeignKey(table, on_delete=OnDelete.restrict, null=null)


def _time(*, null: bool = False) -> Timestamptz:
    return Timestamptz(null=null, default=None)


class Vendor(Table, tablename="vendor"):
    """A tenant: a company billing its own customers with Octane."""

    id = _id()
    name = Varchar(length=200)
    email = Varchar(length=320)
    created_at = _time()
    test_clock_now = _time(null=True)
    """Set for vendors in test mode: their frozen "now", advanced explicitly."""
    invoice_settings = JSON(default={})
    branding = JSON(default={})
    tax_rate = Varchar(length=40, null=True, default=None)
    invoice_number_format = Varchar(length=100, default="{prefix}-{year}-{number:06d}")
    invoice_prefix = Varchar(length=20, default="INV")


class ApiKey(Table, tablename="api_key"):
    """A vendor's API key. Only its SHA-256 is stored; the key is shown once."""

    id = _id()
    vendor = _fk(Vendor)
    name = Varchar(length=200, default="")
    prefix = Varchar(length=32)
    """The first characters of the key, to find the row without storing the key."""
    key_hash = Varchar(length=64)
    created_at = _time()
    revoked_at = _time(null=True)
    last_used_at = _time(null=True)


class PortalUser(Table, tablename="portal_user"):
    """A person who logs into the portal for one vendor."""

    id = _id()
    vendor = _fk(Vendor)
    email = Varchar(length=320)
    password_hash = Varchar(length=255)
    created_at = _time()
    last_login_at = _time(null=True)


class PortalSession(Table, tablename="portal_session"):
    """A logged-in portal session, kept server-side so it can be ended at once.

    The cookie carries a random token; ``id`` is its HMAC under the secret key, so a
    database dump holds no usable session.
    """

    id = Varchar(length=64, primary_key=True)
    vendor = _fk(Vendor)
    user = _fk(PortalUser)
    csrf_token = Varchar(length=64)
    created_at = _time()
    last_seen_at = _time()
    ip = Varchar(length=64, default="")


class PortalLoginFailure(Table, tablename="portal_login_failure"):
    """A failed portal login, counted per (email, address) to throttle guessing."""

    id = BigSerial(primary_key=True)
    key = Varchar(length=64)
    """SHA-256 of the lower-cased email and the client address."""
    at = _time()


class Customer(Table, tablename="customer"):
    """A vendor's customer; ``name`` is the vendor's own external id for it."""

    id = _id()
    vendor = _fk(Vendor)
    name = Varchar(length=200)
    display_name = Varchar(length=200, default="")
    email = Varchar(length=320, null=True, default=None)
    currency = Varchar(length=3)
    timezone = Varchar(length=64, default="UTC")
    address = JSON(default={})
    tax_rate = Varchar(length=40, null=True, default=None)
    invoice_settings = JSON(default={})
    """Per-customer overrides of the vendor's invoice settings."""
    provider_ids = JSON(default={})
    payment_config = JSON(default={})
    created_at = _time()


class Meter(Table, tablename="meter"):
    id = _id()
    vendor = _fk(Vendor)
    name = Varchar(length=200)
    aggregation = Varchar(length=20)
    unique_label = Varchar(length=100, null=True, default=None)
    unit = Varchar(length=50, default="")
    created_at = _time()


class PricePlan(Table, tablename="price_plan"):
    """A plan; components (meter, model, prices, tiers) are a JSON list of Decimal strings."""

    id = _id()
    vendor = _fk(Vendor)
    name = Varchar(length=200)
    currency = Varchar(length=3)
    period = Varchar(length=10)
    fixed_fee = Varchar(length=40, default="0")
    minimum_charge = Varchar(length=40, default="0")
    trial_days = Integer(default=0)
    components = JSON(default=[])
    created_at = _time()


class Subscription(Table, tablename="subscription"):
    id = _id()
    vendor = _fk(Vendor)
    customer = _fk(Customer)
    plan = _fk(PricePlan)
    starts_at = _time()
    ends_at = _time(null=True)
    billing_anchor = _time()
    trial_ends_at = _time(null=True)
    created_at = _time()


class BillingCycle(Table, tablename="billing_cycle"):
    """One period ``[period_start, period_end)`` of a subscription: open, grace, invoiced."""

    id = _id()
    vendor = _fk(Vendor)
    customer = _fk(Customer)
    subscription = _fk(Subscription)
    period_start = _time()
    period_end = _time()
    state = Varchar(length=20, default="open")
    grace_ends_at = _time(null=True)
    accrued_amount = BigInt(default=0)
    """Undiscounted revenue accrued so far (mirrors the latest accrual entries)."""
    created_at = _time()


class Measurement(Table, tablename="measurement"):
    """A usage measurement. Append-only: a correction is a new row pointing at the original."""

    id = BigSerial(primary_key=True)
    vendor = _fk(Vendor)
    customer = _fk(Customer)
    meter = _fk(Meter)
    key = Varchar(length=255)
    """The idempotency key: the client's ``id``, or one generated by Octane."""
    value_micros = BigInt()
    time = _time()
    labels = JSON(default={})
    content_hash = Varchar(length=64)
    corrects = BigInt(null=True, default=None)
    """The id of the original measurement this row corrects (corrections form no chains)."""
    voided = Boolean(default=False)
    correction_reason = Text(default="")
    corrected_by = Varchar(length=200, default="")
    received_at = _time()
    stage = Integer(default=1)
    """1 once the row is in the usage index; 0 for a row just written by SQLite ingestion,
    not yet there. Batches are written at stage 0, which keeps them out of the usage index
    (the costly part of a write, see ``ix_measurement_usage``), and the writer settles them
    into it thousands at a time (:mod:`octane.core.store.bulk`). Usage queries read both
    stages (:func:`octane.core.metering.measurements_in`)."""


class Invoice(Table, tablename="invoice"):
    id = _id()
    vendor = _fk(Vendor)
    customer = _fk(Customer)
    subscription = _fk(Subscription)
    cycle = _fk(BillingCycle)
    number = Varchar(length=100, null=True, default=None)
    status = Varchar(length=20, default="draft")
    currency = Varchar(length=3)
    period_start = _time()
    period_end = _time()
    subtotal = BigInt(default=0)
    tax = BigInt(default=0)
    total = BigInt(default=0)
    amount_due = BigInt(default=0)
    amount_paid = BigInt(default=0)
    created_at = _time()
    finalized_at = _time(null=True)
    due_at = _time(null=True)
    collect_at = _time(null=True)
    """When the payment grace period ends and collection may start."""
    paid_at = _time(null=True)
    voided_at = _time(null=True)
    void_reason = Text(default="")
    delivery_channel = Varchar(length=50, null=True, default=None)
    delivery_status = Varchar(length=20, null=True, default=None)
    delivery_reference = Varchar(length=255, null=True, default=None)
    delivery_error = Text(default="")
    delivered_at = _time(null=True)
    delivery_attempts = Integer(default=0)
    delivery_sends = Integer(default=0)
    """How many times the vendor asked to send the invoice again (``resend``): each
    resend is a new message; retries of one send are not."""
    delivery_next_at = _time(null=True)
    """When the sweep should look at the delivery again: a failed delivery's retry time,
    or the end of an in-flight delivery's lease (a crashed sender is retried after it)."""
    next_payment_at = _time(null=True)
    """When the next charge is due: the end of the payment grace period, then each retry
    of the schedule; null when nothing is to be charged automatically."""
    provider = Varchar(length=50, null=True, default=None)
    provider_invoice_id = Varchar(length=255, null=True, default=None)
    provider_invoice_url = Text(default="")
    """The provider's page for the invoice (where the customer can pay it)."""
    provider_invoice_pdf = Text(default="")
    """The provider's PDF of the invoice, when the provider invoiced."""
    pdf_path = Text(default="")
    settings_snapshot = JSON(default={})
    """The effective invoice settings at finalization, so later edits don't rewrite history."""


class InvoiceLine(Table, tablename="invoice_line"):
    id = BigSerial(primary_key=True)
    vendor = _fk(Vendor)
    invoice = _fk(Invoice)
    position = Integer()
    section = Varchar(length=20, default="charge")
    """``charge`` (from compute_charges) or ``adjustment`` (from apply_adjustments)."""
    kind = Varchar(length=50)
    """A charge's kind (usage, fixed_fee, ...) or an adjustment's stage (trial, discount...)."""
    description = Text()
    meter = Varchar(length=200, null=True, default=None)
    quantity = Varchar(length=60, null=True, default=None)
    unit_price = Varchar(length=60, null=True, default=None)
    amount = BigInt()
    details = JSON(default={})
    source = Varchar(length=100, default="")
    reference = Varchar(length=100, null=True, default=None)


class InvoiceSequence(Table, tablename="invoice_sequence"):
    """The next gapless invoice number per vendor and series, taken in the finalizing txn."""

    id = BigSerial(primary_key=True)
    vendor = _fk(Vendor)
    series = Varchar(length=50, default="default")
    next_number = BigInt(default=1)


class LedgerEntry(Table, tablename="ledger_entry"):
    """The revenue ledger: append-only (the database refuses UPDATE and DELETE)."""

    id = BigSerial(primary_key=True)
    vendor = _fk(Vendor)
    customer = _fk(Customer)
    cycle = _fk(BillingCycle, null=True)
    invoice = _fk(Invoice, null=True)
    kind = Varchar(length=20)
    """accrual, charge, credit, discount, trial, tax, payment, refund or reversal."""
    amount = BigInt()
    currency = Varchar(length=3)
    description = Text(default="")
    source_ref = Varchar(length=200, null=True, default=None)
    effective_at = _time()
    created_at = _time()


class CreditGrant(Table, tablename="credit_grant"):
    id = _id()
    vendor = _fk(Vendor)
    customer = _fk(Customer)
    amount = BigInt()
    currency = Varchar(length=3)
    description = Text(default="")
    expires_at = _time(null=True)
    created_at = _time()


class Coupon(Table, tablename="coupon"):
    id = _id()
    vendor = _fk(Vendor)
    code = Varchar(length=100)
    percent_off = Varchar(length=20, null=True, default=None)
    amount_off = BigInt(null=True, default=None)
    currency = Varchar(length=3, null=True, default=None)
    duration = Varchar(length=20, default="once")
    duration_cycles = Integer(null=True, default=None)
    expires_at = _time(null=True)
    max_redemptions = Integer(null=True, default=None)
    times_redeemed = Integer(default=0)
    """Moved by a guarded update, so concurrent redemptions never exceed max_redemptions."""
    applies_to = JSON(default=[])
    created_at = _time()


class CouponRedemption(Table, tablename="coupon_redemption"):
    id = _id()
    vendor = _fk(Vendor)
    customer = _fk(Customer)
    coupon = _fk(Coupon)
    created_at = _time()


class PaymentAttempt(Table, tablename="payment_attempt"):
    id = _id()
    vendor = _fk(Vendor)
    invoice = _fk(Invoice)
    attempt_number = Integer()
    provider = Varchar(length=50)
    status = Varchar(length=20, default="pending")
    amount = BigInt()
    currency = Varchar(length=3)
    idempotency_key = Varchar(length=255)
    failure_code = Varchar(length=50, null=True, default=None)
    failure_message = Text(default="")
    provider_reference = Varchar(length=255, null=True, default=None)
    created_at = _time()
    completed_at = _time(null=True)
    next_retry_at = _time(null=True)


class SandboxCharge(Table, tablename="sandbox_charge"):
    """The ``sandbox`` provider's own record of charges (what a real provider would keep),
    one per idempotency key: how tests count successful charges per invoice."""

    id = _id()
    vendor = _fk(Vendor)
    invoice = Varchar(length=_ID)
    idempotency_key = Varchar(length=255)
    amount = BigInt()
    currency = Varchar(length=3)
    status = Varchar(length=20)
    """succeeded, failed or pending: what really happened at the "provider"."""
    failure_code = Varchar(length=50, null=True, default=None)
    created_at = _time()


class OutboundMessage(Table, tablename="outbound_message"):
    """A message a delivery channel sent (or began to send), one per message id.

    Channels record a message here *before* handing it to the outside world, and mark
    it sent after: a re-run finds ``sent`` and does not send again. A row left
    ``sending`` by a crash is sent again with the same message id, which lets the
    recipient's side recognise the duplicate.
    """

    id = BigSerial(primary_key=True)
    vendor = _fk(Vendor)
    invoice = Varchar(length=_ID, null=True, default=None)
    channel = Varchar(length=50)
    kind = Varchar(length=50)
    """``invoice``, a notification kind, or ``test``."""
    message_id = Varchar(length=255)
    recipient = Varchar(length=320)
    status = Varchar(length=20, default="sending")
    created_at = _time()
    sent_at = _time(null=True)


class ProviderAccount(Table, tablename="provider_account"):
    """A vendor's account at a payment provider (a connected Stripe account, Paddle
    credentials), one per vendor and provider."""

    id = _id()
    vendor = _fk(Vendor)
    provider = Varchar(length=50)
    account_id = Varchar(length=255, default="")
    """The provider's id of the vendor's account (``acct_...``); empty if none."""
    status = Varchar(length=20, default="connected")
    """``connected`` or ``disconnected`` (by the vendor, or by the provider)."""
    secrets = Text(default="")
    """Credentials encrypted with the deployment's secret key; never shown again."""
    details = JSON(default={})
    connected_at = _time()
    disconnected_at = _time(null=True)


class WebhookEvent(Table, tablename="webhook_event"):
    """A provider event, recorded once per (provider, event id) before it is processed."""

    id = BigSerial(primary_key=True)
    vendor = _fk(Vendor, null=True)
    provider = Varchar(length=50)
    event_id = Varchar(length=255)
    event_type = Varchar(length=100)
    payload = Text()
    status = Varchar(length=20, default="received")
    error = Text(default="")
    received_at = _time()
    processed_at = _time(null=True)


class AuditLog(Table, tablename="audit_log"):
    """Who did what: append-only like the ledger."""

    id = BigSerial(primary_key=True)
    vendor = _fk(Vendor, null=True)
    actor = Varchar(length=320)
    action = Varchar(length=100)
    target = Varchar(length=200, default="")
    details = JSON(default={})
    at = _time()


TABLES: tuple[type[Table], ...] = (
    Vendor,
    ApiKey,
    PortalUser,
    PortalSession,
    PortalLoginFailure,
    Customer,
    Meter,
    PricePlan,
    Subscription,
    BillingCycle,
    Measurement,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    LedgerEntry,
    CreditGrant,
    Coupon,
    CouponRedemption,
    PaymentAttempt,
    SandboxCharge,
    OutboundMessage,
    ProviderAccount,
    WebhookEvent,
    AuditLog,
)
