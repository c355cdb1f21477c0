"""Per-customer payment provider settings (``payment_config``), and the sandbox's script.

``payment_config`` maps a provider name to that provider's settings for the customer.
The core checks the shape; the built-in sandbox's settings are checked here too,
because a scripted outcome with a typo would otherwise only show up as a failed
charge weeks later.

The sandbox script: ``{"sandbox": {"outcomes": [...], "unknown_resolves_to": ...,
"delivery": ...}}``.
Attempt *n* uses ``outcomes[n-1]`` (the last one repeats): ``succeed``,
``fail:<failure code>``, ``unknown`` (the charge happens but the answer is lost) or
``pending`` (the outcome arrives later). ``unknown_resolves_to`` (``succeeded`` by
default, or ``failed``) is what reconciliation finds for ``unknown`` and ``pending``.
``delivery`` (``deliver`` by default, or ``fail``) is what the sandbox delivery channel
does with the customer's invoices and notifications.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from octane.core.contracts import FailureCode
from octane.core.errors import ValidationError

__all__ = ["SandboxScript", "sandbox_script", "validate_payment_config"]

_SIMPLE = ("succeed", "unknown", "pending")


@dataclass(frozen=True)
class SandboxScript:
    outcomes: tuple[str, ...] = ("succeed",)
    unknown_resolves_to: str = "succeeded"
    delivery: str = "deliver"

    def outcome_for(self, attempt_number: int) -> str:
        return self.outcomes[min(attempt_number, len(self.outcomes)) - 1]


def sandbox_script(raw: object, *, field: str = "payment_config.sandbox") -> SandboxScript:
    if not isinstance(raw, Mapping):
        raise ValidationError("The sandbox settings must be an object.", field=field)
    unknown = set(raw) - {"outcomes", "unknown_resolves_to", "delivery"}
    if unknown:
        raise ValidationError(
            f"Unknown sandbox setting '{sorted(unknown)[0]}'; use outcomes, "
            "unknown_resolves_to and delivery.",
            field=f"{field}.{sorted(unknown)[0]}",
        )
    outcomes = raw.get("outcomes", ["succeed"])
    if not isinstance(outcomes, list) or not 1 <= len(outcomes) <= 20:
        raise ValidationError(
            "outcomes must be a list of 1 to 20 outcomes.", field=f"{field}.outcomes"
        )
    codes = {code.value for code in FailureCode}
    for index, outcome in enumerate(outcomes):
        ok = outcome in _SIMPLE or (
            isinstance(outcome, str)
            and outcome.startswith("fail:")
            and outcome.removeprefix("fail:") in codes
        )
        if not ok:
            raise ValidationError(
                f"{outcome!r} is not an outcome; use succeed, unknown, pending or "
                f"fail:<code> with a code among {', '.join(sorted(codes))}.",
                field=f"{field}.outcomes[{index}]",
            )
    resolves = raw.get("unknown_resolves_to", "succeeded")
    if resolves not in ("succeeded", "failed"):
        raise ValidationError(
            "unknown_resolves_to is succeeded or failed.", field=f"{field}.unknown_resolves_to"
        )
    delivery = raw.get("delivery", "deliver")
    if delivery not in ("deliver", "fail"):
        raise ValidationError("delivery is deliver or fail.", field=f"{field}.delivery")
    return SandboxScript(outcomes=tuple(outcomes), unknown_resolves_to=resolves, delivery=delivery)


def validate_payment_config(raw: object) -> dict[str, Any]:
    if not isinstance(raw, Mapping) or len(raw) > 20:
        raise ValidationError(
            "payment_config is an object of at most 20 providers.", field="payment_config"
        )
    for provider, settings in raw.items():
        if not isinstance(settings, Mapping):
            raise ValidationError(
                "Each provider's settings must be an object.", field=f"payment_config.{provider}"
            )
    if "sandbox" in raw:
        sandbox_script(raw["sandbox"])
    return dict(raw)
