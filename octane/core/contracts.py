"""The data that crosses the plugin boundary.

Hook implementations receive and return these immutable structs, never ORM rows:
a plugin cannot change stored state by mutating an argument, and the core can
validate what comes back. Amounts are ``int`` minor units of the invoice
currency; quantities and unit prices are ``Decimal``; times are aware UTC.

Fields may be added in later versions (always with defaults); none is renamed.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

__all__ = [
    "FAILURE_CODES",
    "AdjustmentLine",
    "AdjustmentStage",
    "AttemptView",
    "ChargeLine",
    "ComponentView",
    "CustomerView",
    "CycleView",
    "DeliveryChannelInfo",
    "DeliveryResult",
    "DeliveryStatus",
    "DraftInvoice",
    "FailureCode",
    "InvoiceView",
    "JobSpec",
    "Notification",
    "NotificationKind",
    "PaymentProviderInfo",
    "PaymentResult",
    "PaymentStatus",
    "PlanView",
    "SettingsPanel",
    "UsageTotal",
    "VendorView",
]


# --------------------------------------------------------------------------- views


class VendorView(msgspec.Struct, frozen=True, kw_only=True):
    """The tenant whose customer is being billed."""

    id: str
    name: str
    test_mode: bool = False
    tax_rate: Decimal | None = None
    """The vendor's tax percentage (a customer's own rate overrides it)."""


class CustomerView(msgspec.Struct, frozen=True, kw_only=True):
    """A vendor's customer, as plugins see it."""

    id: str
    name: str
    """The vendor's external id for the customer (unique per vendor)."""
    display_name: str = ""
    email: str | None = None
    currency: str = "USD"
    timezone: str = "UTC"
    address: dict[str, str] = msgspec.field(default_factory=dict)
    tax_rate: Decimal | None = None
    provider_ids: dict[str, str] = msgspec.field(default_factory=dict)
    """Provider name -> that provider's id for this customer (e.g. ``{"stripe": "cus_..."}``)."""
    payment_config: dict[str, Any] = msgspec.field(default_factory=dict)
    """Provider name -> settings of that provider for this customer (e.g. the sandbox's
    scripted outcomes)."""


class Tier(msgspec.Struct, frozen=True, kw_only=True):
    up_to: Decimal | None
    unit_price: Decimal = Decimal(0)
    flat_fee: Decimal = Decimal(0)


class ComponentView(msgspec.Struct, frozen=True, kw_only=True):
    """One metered component of a price plan."""

    meter: str
    model: str
    """``flat``, ``per_unit``, ``graduated``, ``volume`` or ``package``."""
    unit_price: Decimal = Decimal(0)
    included_units: Decimal = Decimal(0)
    tiers: tuple[Tier, ...] = ()
    package_size: Decimal | None = None
    package_price: Decimal | None = None
    flat_amount: Decimal | None = None
    minimum_charge: Decimal | None = None


class PlanView(msgspec.Struct, frozen=True, kw_only=True):
    """A price plan. Money values here are Decimals in major units (prices, not amounts)."""

    id: str
    name: str
    currency: str
    period: str
    fixed_fee: Decimal = Decimal(0)
    minimum_charge: Decimal = Decimal(0)
    trial_days: int = 0
    components: tuple[ComponentView, ...] = ()


class CycleView(msgspec.Struct, frozen=True, kw_only=True):
    """One billing period ``[period_start, period_end)`` of one subscription."""

    id: str
    subscription_id: str
    period_start: datetime
    period_end: datetime
    state: str
    fixed_fee_share: str | None = None
    """For a partial cycle (first or last), the prorated share of the fixed fee as an exact
    fraction such as ``"16/31"`` (by seconds); None for a full cycle."""


class UsageTotal(msgspec.Struct, frozen=True, kw_only=True):
    """A meter's aggregated quantity over a cycle's period."""

    meter: str
    quantity: Decimal
    unit: str = ""


# ------------------------------------------------------------------------ invoices


class ChargeLine(msgspec.Struct, frozen=True, kw_only=True):
    """A charge returned by ``compute_charges``. ``amount`` is already rounded."""

    kind: str
    """``usage``, ``fixed_fee``, ``minimum`` or a plugin's own kind (e.g. ``seats``)."""
    description: str
    amount: int
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    meter: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    """Free-form breakdown shown on the invoice, e.g. the tiers a graduated price used."""
    source: str = ""
    """Filled in by the core with the name of the plugin that returned the line."""


class AdjustmentStage(enum.StrEnum):
    """The fixed order in which adjustments are applied (see ``apply_adjustments``)."""

    TRIAL = "trial"
    DISCOUNT = "discount"
    TAX = "tax"
    CREDIT = "credit"


class AdjustmentLine(msgspec.Struct, frozen=True, kw_only=True):
    """An adjustment returned by ``apply_adjustments``: negative reduces the total."""

    kind: str
    description: str
    amount: int
    reference: str | None = None
    """The id of what produced it (a coupon redemption, a credit grant...)."""
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    source: str = ""
    stage: str = ""
    """Filled in by the core with the stage (trial, discount, tax, credit) that produced it."""


class DraftInvoice(msgspec.Struct, frozen=True, kw_only=True):
    """An invoice being computed: charges so far and the adjustments of earlier stages."""

    vendor: VendorView
    customer: CustomerView
    cycle: CycleView
    currency: str
    charges: tuple[ChargeLine, ...] = ()
    adjustments: tuple[AdjustmentLine, ...] = ()

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.charges)

    @property
    def total(self) -> int:
        return self.subtotal + sum(line.amount for line in self.adjustments)


class InvoiceView(msgspec.Struct, frozen=True, kw_only=True):
    """An invoice as delivery channels, renderers and payment providers see it.

    Finalized invoices come from their stored lines; a draft (``status`` "draft",
    ``number`` None) carries the figures recomputed at the moment of the call.
    """

    id: str
    number: str | None
    status: str
    currency: str
    total: int
    amount_due: int
    period_start: datetime
    period_end: datetime
    issued_at: datetime | None
    due_at: datetime | None
    customer: CustomerView
    vendor: VendorView
    charges: tuple[ChargeLine, ...] = ()
    adjustments: tuple[AdjustmentLine, ...] = ()
    subtotal: int = 0
    """The charges before adjustments."""
    tax: int = 0
    """The sum of the tax adjustments."""
    amount_paid: int = 0
    credit_remaining: int | None = None
    """The customer's usable credit balance in this currency after this invoice."""


# ------------------------------------------------------------------------ payments


class PaymentStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"
    """Accepted by the provider, outcome later (a webhook or a reconciliation says)."""
    FAILED = "failed"
    UNKNOWN = "unknown"
    """May or may not have gone through (timeout, 5xx): reconciled, never retried blindly."""


class FailureCode(enum.StrEnum):
    """Provider-neutral payment failure codes."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INCORRECT_DETAILS = "incorrect_details"
    AUTHENTICATION_REQUIRED = "authentication_required"
    FRAUD_SUSPECTED = "fraud_suspected"
    NO_PAYMENT_METHOD = "no_payment_method"
    PROCESSING_ERROR = "processing_error"
    PROVIDER_ERROR = "provider_error"
    OTHER = "other"


FAILURE_CODES: dict[FailureCode, tuple[str, str, bool]] = {
    # code: (what happened, what the customer can do, worth retrying automatically)
    FailureCode.CARD_DECLINED: (
        "The card was declined.",
        "Contact your bank or use another payment method.",
        False,
    ),
    FailureCode.INSUFFICIENT_FUNDS: (
        "The card has insufficient funds.",
        "Add funds or use another payment method; we will try again.",
        True,
    ),
    FailureCode.EXPIRED_CARD: ("The card has expired.", "Update your card details.", False),
    FailureCode.INCORRECT_DETAILS: (
        "The card details are incorrect.",
        "Check the number, expiry date and security code.",
        False,
    ),
    FailureCode.AUTHENTICATION_REQUIRED: (
        "The bank asked the cardholder to authenticate the payment.",
        "Follow the payment link we sent to confirm the payment.",
        False,
    ),
    FailureCode.FRAUD_SUSPECTED: (
        "The payment was blocked as potentially fraudulent.",
        "Contact your bank or use another payment method.",
        False,
    ),
    FailureCode.NO_PAYMENT_METHOD: (
        "There is no payment method on file.",
        "Add a payment method.",
        False,
    ),
    FailureCode.PROCESSING_ERROR: (
        "The payment could not be processed.",
        "No action needed; we will try again.",
        True,
    ),
    FailureCode.PROVIDER_ERROR: (
        "The payment provider reported an error.",
        "No action needed; we will try again.",
        True,
    ),
    FailureCode.OTHER: ("The payment failed.", "Contact us or use another payment method.", True),
}


class PaymentResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``collect_payment`` and ``reconcile_payment`` return."""

    status: PaymentStatus
    provider_reference: str | None = None
    """The provider's id for the payment (``pi_...``, ``txn_...``), when it has one."""
    failure_code: FailureCode | None = None
    """Required when ``status`` is FAILED."""
    failure_message: str | None = None
    """The provider's own wording, shown to the vendor."""


class AttemptView(msgspec.Struct, frozen=True, kw_only=True):
    """A payment attempt the core created and persisted before calling the plugin."""

    id: str
    invoice_id: str
    attempt_number: int
    amount: int
    currency: str
    idempotency_key: str
    """Send this to the provider (header, metadata) so a retried call cannot charge twice."""


class PaymentProviderInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A payment provider a plugin offers (returned by ``register_payment_providers``)."""

    name: str
    display_name: str
    supports_provider_invoicing: bool = False
    """Whether "Invoicing via Payment Provider" can send invoices through it."""
    plugin: str = ""
    """Filled in by the core."""


# ------------------------------------------------------------------------ delivery


class DeliveryStatus(enum.StrEnum):
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    FAILED = "failed"


class DeliveryResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``deliver_invoice`` returns: the delivery leaves "in flight"."""

    status: DeliveryStatus
    reference: str | None = None
    """E.g. the email Message-ID or the provider's invoice id."""
    error: str | None = None
    retryable: bool = True
    """For FAILED: whether the core should try again later."""


class DeliveryChannelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery channel a plugin offers (returned by ``register_delivery_channels``)."""

    name: str
    display_name: str
    plugin: str = ""


# ------------------------------------------------------------------ notifications


class NotificationKind(enum.StrEnum):
    PAYMENT_FAILED = "payment_failed"
    """A charge failed; another is scheduled."""
    PAYMENT_FINAL_FAILURE = "payment_final_failure"
    """The last scheduled charge failed: the invoice is uncollectible."""
    PAYMENT_RECEIVED = "payment_received"


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    """A message to the customer about an invoice (``send_notification``)."""

    id: str
    """Deterministic (kind and attempt): a re-sent notification carries the same id."""
    kind: NotificationKind
    invoice: InvoiceView
    attempt: AttemptView | None = None
    failure_code: FailureCode | None = None
    message: str = ""
    """What happened, in a sentence for the customer."""
    remedy: str = ""
    """What the customer can do about it."""
    next_attempt_at: datetime | None = None
    """When the next charge is scheduled (payment_failed)."""


# ------------------------------------------------------------------ registrations


class SettingsPanel(msgspec.Struct, frozen=True, kw_only=True):
    """A portal settings panel contributed by a plugin."""

    name: str
    title: str
    template: str
    """Template path inside the plugin's template folder, e.g. ``stripe/panel.html``."""
    section: str = "general"
    """``payment_provider``, ``delivery`` or ``general``: where the portal lists it."""
    order: int = 100


class JobSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A background job a plugin contributes to the SAQ worker."""

    name: str
    """Must start with the plugin's name and a colon, e.g. ``stripe:process_event``."""
    function: Callable[..., Awaitable[Any]]
    cron: str | None = None
    """A cron expression to run it periodically, or None for enqueue-only."""
    timeout: int = 60
    retries: int = 5
