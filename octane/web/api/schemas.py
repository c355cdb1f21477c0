"""Request and response bodies of the JSON API (msgspec structs: also the OpenAPI schema).

Decimal values travel as strings (``"0.00042"``) or integers; a JSON number with a
fraction is refused, because binary floats cannot hold money exactly. Amounts in
responses are integers in the currency's minor unit (cents), with a decimal string
beside them where useful.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

__all__ = [
    "ERROR_RESPONSES",
    "BatchIn",
    "BatchOut",
    "CorrectionIn",
    "CorrectionOut",
    "CouponIn",
    "CouponOut",
    "CreditIn",
    "CreditsOut",
    "CustomerIn",
    "CustomerOut",
    "CustomerPage",
    "CustomerPatch",
    "ErrorBody",
    "LedgerOut",
    "MeasurementIn",
    "MeasurementOut",
    "MeterIn",
    "MeterOut",
    "PlanIn",
    "PlanOut",
    "RedeemIn",
    "RedemptionOut",
    "SubscriptionIn",
    "SubscriptionOut",
    "TaxSettings",
    "UsageOut",
]

DecimalText = Annotated[
    str | int,
    msgspec.Meta(description='A decimal as a string ("0.00042") or an integer; never a float.'),
]


class ErrorDetail(msgspec.Struct):
    code: str
    """A stable machine-readable code, e.g. ``validation_error``, ``idempotency_conflict``."""
    message: str
    """A sentence for people."""
    field: str | None
    """The input field the error is about (a dotted path), or null."""


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


def _error(description: str, code: str, message: str, field: str | None) -> ResponseSpec:
    return ResponseSpec(
        data_container=ErrorBody,
        description=description,
        examples=[
            Example(
                summary=code,
                value={"error": {"code": code, "message": message, "field": field}},
            )
        ],
    )


ERROR_RESPONSES: dict[int, ResponseSpec] = {
    401: _error(
        "Missing, invalid or revoked API key", "invalid_api_key", "The API key is not valid.", None
    ),
    404: _error(
        "Unknown resource (or another vendor's)",
        "not_found",
        "There is no customer 'acme'.",
        "customer",
    ),
    409: _error(
        "Conflicts with stored state",
        "idempotency_conflict",
        "A measurement with id 'evt-1' already exists with different content.",
        "id",
    ),
    422: _error(
        "Invalid input",
        "float_not_allowed",
        'Must be a decimal string such as "12.50" or an integer, not a JSON number '
        "with a fraction.",
        "unit_price",
    ),
}


# --------------------------------------------------------------------- customers


class CustomerIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[
        str,
        msgspec.Meta(
            description="Your own id for the customer; unique; letters, digits and . _ : @ -",
            examples=["acme"],
        ),
    ]
    currency: Annotated[str, msgspec.Meta(description="ISO 4217 code", examples=["USD"])]
    display_name: str = ""
    email: str | None = None
    timezone: Annotated[
        str,
        msgspec.Meta(
            description="IANA time zone; billing periods follow the customer's calendar",
            examples=["Europe/Berlin"],
        ),
    ] = "UTC"
    address: dict[str, str] = msgspec.field(default_factory=dict)
    tax_rate: Annotated[
        DecimalText | None,
        msgspec.Meta(description='Tax percentage overriding the vendor\'s, e.g. "19"'),
    ] = None
    invoice_settings: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="Overrides of the vendor's invoice settings for this customer",
            examples=[{"invoice_grace_period": "P3D", "auto_charge": False}],
        ),
    ] = msgspec.field(default_factory=dict)
    provider_ids: Annotated[
        dict[str, str], msgspec.Meta(description='Payment provider ids, e.g. {"stripe": "cus_..."}')
    ] = msgspec.field(default_factory=dict)
    payment_config: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="Per-provider settings for this customer; the sandbox provider's "
            "scripted outcomes, one per attempt: succeed, fail:<failure code>, unknown, pending",
            examples=[{"sandbox": {"outcomes": ["fail:insufficient_funds", "succeed"]}}],
        ),
    ] = msgspec.field(default_factory=dict)


class CustomerPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    display_name: str | msgspec.UnsetType = msgspec.UNSET
    email: str | msgspec.UnsetType | None = msgspec.UNSET
    currency: str | msgspec.UnsetType = msgspec.UNSET
    timezone: str | msgspec.UnsetType = msgspec.UNSET
    address: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    tax_rate: DecimalText | msgspec.UnsetType | None = msgspec.UNSET
    invoice_settings: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    provider_ids: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    payment_config: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class CustomerOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    display_name: str
    email: str | None
    currency: str
    timezone: str
    address: dict[str, str]
    tax_rate: str | None
    invoice_settings: dict[str, Any]
    provider_ids: dict[str, str]
    payment_config: dict[str, Any]
    created_at: datetime


class CustomerPage(msgspec.Struct, kw_only=True):
    data: list[CustomerOut]
    has_more: bool
    """True when more customers follow; pass the last name as ``starting_after``."""


# ------------------------------------------------------------------------ meters


class MeterIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(examples=["api_calls"])]
    aggregation: Literal["sum", "count", "max", "last", "unique_count"]
    unit: str = ""
    unique_label: Annotated[
        str | None,
        msgspec.Meta(description="For unique_count: the label whose distinct values are counted"),
    ] = None


class MeterOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    aggregation: str
    unique_label: str | None
    unit: str
    created_at: datetime


# ------------------------------------------------------------------- price plans


class TierIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    up_to: Annotated[
        DecimalText | None,
        msgspec.Meta(description="Upper bound (inclusive) of the tier; null for the last tier"),
    ]
    unit_price: DecimalText = "0"
    flat_fee: DecimalText = "0"


class ComponentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    meter: str
    model: Annotated[
        str,
        msgspec.Meta(
            description="flat, per_unit, graduated, volume or package", examples=["graduated"]
        ),
    ]
    unit_price: DecimalText = "0"
    included_units: DecimalText = "0"
    tiers: list[TierIn] = msgspec.field(default_factory=list)
    package_size: DecimalText | None = None
    package_price: DecimalText | None = None
    flat_amount: DecimalText | None = None
    minimum_charge: DecimalText | None = None


class PlanIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(examples=["growth"])]
    currency: Annotated[str, msgspec.Meta(examples=["USD"])]
    period: Literal["day", "week", "month", "quarter", "year"]
    fixed_fee: DecimalText = "0"
    minimum_charge: DecimalText = "0"
    trial_days: int = 0
    components: list[ComponentIn] = msgspec.field(default_factory=list)


class PlanOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    currency: str
    period: str
    fixed_fee: str
    minimum_charge: str
    trial_days: int
    components: list[dict[str, Any]]
    created_at: datetime


# ------------------------------------------------------------------ subscriptions


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    price_plan: str
    starts_at: Annotated[datetime, msgspec.Meta(description="RFC 3339 with an offset")]
    billing_anchor: Annotated[
        datetime | None,
        msgspec.Meta(description="Where periods are counted from (default: starts_at)"),
    ] = None


class CycleOut(msgspec.Struct, kw_only=True):
    id: str
    period_start: datetime
    period_end: datetime
    state: str
    """open, grace or invoiced."""
    grace_ends_at: datetime | None


class SubscriptionOut(msgspec.Struct, kw_only=True):
    id: str
    customer: str
    price_plan: str
    period: str
    starts_at: datetime
    ends_at: datetime | None
    billing_anchor: datetime
    trial_ends_at: datetime | None
    current_cycle: CycleOut | None


# ------------------------------------------------------------------ measurements


class MeasurementIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    meter: str
    customer: str
    value: DecimalText
    time: Annotated[
        str,
        msgspec.Meta(
            description="RFC 3339 with an offset; at most 5 minutes in the future",
            examples=["2026-11-24T10:15:00Z"],
        ),
    ]
    labels: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="String keys to string values (checked per key, so errors name it)",
            examples=[{"region": "eu-west-1"}],
        ),
    ] = msgspec.field(default_factory=dict)
    id: Annotated[
        str | None,
        msgspec.Meta(
            description="Idempotency key, unique per vendor (generated when absent)",
            examples=["evt-2026-11-24-0001"],
        ),
    ] = None


class MeasurementOut(msgspec.Struct, kw_only=True):
    id: str
    status: Literal["created", "duplicate"]


class BatchIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    measurements: Annotated[
        list[Any],
        msgspec.Meta(
            max_length=10_000,
            description="At most 10,000 measurements, each shaped like the single endpoint's body",
        ),
    ]


class ItemErrorOut(msgspec.Struct, kw_only=True):
    index: int
    code: str
    field: str | None
    message: str


class BatchOut(msgspec.Struct, kw_only=True):
    accepted: int
    """Newly stored measurements."""
    duplicates: int
    """Measurements already stored with the same id and content (stored once)."""
    errors: list[ItemErrorOut]
    """The refused items; every other item was stored."""


class CorrectionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    value: DecimalText | None = None
    void: bool = False
    reason: str = ""


class CorrectionOut(msgspec.Struct, kw_only=True):
    id: str
    correction_id: str
    value: str | None
    voided: bool
    reason: str
    corrected_by: str


class UsageLineOut(msgspec.Struct, kw_only=True):
    kind: str
    description: str
    meter: str | None
    amount: int
    amount_decimal: str
    source: str
    """The plugin that computed the line (``pricing`` for the built-in pricing)."""


class UsageAdjustmentOut(msgspec.Struct, kw_only=True):
    kind: str
    description: str
    amount: int
    amount_decimal: str
    source: str
    reference: str | None


class UsageMeterOut(msgspec.Struct, kw_only=True):
    meter: str | None
    aggregation: str | None
    unit: str
    quantity: str
    amount: int
    amount_decimal: str


class UsageOut(msgspec.Struct, kw_only=True):
    customer: str
    currency: str
    cycle: CycleOut
    meters: list[UsageMeterOut]
    lines: list[UsageLineOut]
    accrued_total: int
    """Undiscounted charges so far, in minor units (credits and discounts apply at invoicing)."""
    accrued_total_decimal: str
    adjustments: list[UsageAdjustmentOut] = msgspec.field(default_factory=list)
    """What the invoice would apply now: trial, discounts, tax, credits, in that order."""
    estimated_total: int = 0
    """The invoice total if the cycle were invoiced now (adjustments included)."""
    estimated_total_decimal: str = "0"


class LedgerEntryOut(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    """accrual, charge, credit, discount, trial, tax, payment, refund or reversal."""
    amount: int
    currency: str
    description: str
    cycle: str | None
    invoice: str | None
    effective_at: datetime


class LedgerOut(msgspec.Struct, kw_only=True):
    customer: str
    entries: list[LedgerEntryOut]
    """Newest first; pass the last entry's effective_at as ``before`` for the next page."""
    totals: dict[str, int]
    """Sum of all the customer's entries per kind, in minor units."""
    problems: list[str]
    """Broken ledger invariants for this customer (empty when everything adds up)."""


class CreditIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    amount: Annotated[
        DecimalText, msgspec.Meta(description='In major units, e.g. "25.00"', examples=["25.00"])
    ]
    currency: Annotated[str, msgspec.Meta(description="Must be the customer's currency")]
    expires_at: datetime | None = None
    description: str = ""


class CreditGrantOut(msgspec.Struct, kw_only=True):
    id: str
    amount: int
    remaining: int
    """What is left after the invoices that drew on it."""
    description: str
    expires_at: datetime | None
    created_at: datetime
    usable: bool
    """False once expired or used up."""


class CreditsOut(msgspec.Struct, kw_only=True):
    customer: str
    currency: str
    balance: int
    """Usable credit now, in minor units."""
    balance_decimal: str
    grants: list[CreditGrantOut]


class TaxSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    tax_rate: Annotated[
        DecimalText | None,
        msgspec.Meta(
            description="Percentage (0-100) applied to the total after trials and discounts; "
            "a customer's own tax_rate overrides it; null for none",
            examples=["19"],
        ),
    ]


class CouponIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    code: Annotated[str, msgspec.Meta(examples=["LAUNCH20"])]
    percent_off: DecimalText | None = None
    amount_off: Annotated[
        DecimalText | None, msgspec.Meta(description="In major units of ``currency``")
    ] = None
    currency: str | None = None
    duration: Literal["once", "repeating", "forever"] = "once"
    duration_cycles: int | None = None
    expires_at: Annotated[
        datetime | None, msgspec.Meta(description="No new redemptions after this time")
    ] = None
    max_redemptions: int | None = None
    applies_to: Annotated[
        list[str],
        msgspec.Meta(description="Meter names: the discount applies to those components only"),
    ] = msgspec.field(default_factory=list)


class CouponOut(msgspec.Struct, kw_only=True):
    id: str
    code: str
    percent_off: str | None
    amount_off: int | None
    currency: str | None
    duration: str
    duration_cycles: int | None
    expires_at: datetime | None
    max_redemptions: int | None
    times_redeemed: int
    applies_to: list[str]
    created_at: datetime


class RedeemIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    code: str


class RedemptionOut(msgspec.Struct, kw_only=True):
    id: str
    code: str
    customer: str
    created_at: datetime
