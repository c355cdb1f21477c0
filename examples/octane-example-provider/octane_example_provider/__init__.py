"""``examplepay``: an Octane payment provider plugin for ExamplePay, an imaginary gateway.

Written the way a third party writes one, from ``docs/plugins.md`` and Octane's public
modules only. Every hook Octane calls is in this module; the work is in
:mod:`~octane_example_provider.gateway` (the HTTP API) and
:mod:`~octane_example_provider.webhooks` (the signed events).

* ``collect_payment`` charges ``attempt.amount`` under ``attempt.idempotency_key``;
  ``reconcile_payment`` looks a charge up by that key and never charges.
* ``POST /webhooks/examplepay`` verifies each event, records it once and settles the
  attempt it is about.
* :mod:`~octane_example_provider.fake` is a local fake of ExamplePay for tests.

Enable it in ``octane.toml``::

    [plugins]
    enabled = ["examplepay"]

    [plugins.examplepay]
    api_key = { "$env" = "EXAMPLEPAY_API_KEY" }
    webhook_secret = { "$env" = "EXAMPLEPAY_WEBHOOK_SECRET" }
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from octane import hookimpl
from octane.core.contracts import (
    AttemptView,
    CustomerView,
    JobSpec,
    PaymentProviderInfo,
    PaymentResult,
    SettingsPanel,
    VendorView,
)
from octane.core.plugin_context import PluginContext

# Only light imports here: httpx and Litestar are imported inside the hooks that use them,
# so a missing package is reported by check_compatibility instead of failing the import.
from octane_example_provider.config import PROVIDER, ExamplePayConfig

__all__ = [
    "ExamplePayConfig",
    "__version__",
    "check_compatibility",
    "collect_payment",
    "plugin_config_schema",
    "reconcile_payment",
    "register_jobs",
    "register_payment_providers",
    "register_routes",
    "register_settings_panels",
    "register_template_dirs",
]

__version__ = "0.1.0"
OCTANE_SINCE = (0, 1)
"""The oldest Octane version whose hooks this plugin was written against."""


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


@hookimpl
def check_compatibility() -> list[str]:
    """Say what is wrong instead of raising: Octane lists the plugin as incompatible."""
    import octane

    errors = []
    if _version_tuple(octane.__version__) < OCTANE_SINCE:
        since = ".".join(map(str, OCTANE_SINCE))
        errors.append(
            f"examplepay needs Octane {since} or later (this is {octane.__version__}): "
            "pip install -U octane-billing"
        )
    if importlib.util.find_spec("httpx") is None:
        errors.append("The package 'httpx' is needed by examplepay: pip install httpx")
    return errors


@hookimpl
def plugin_config_schema() -> type[ExamplePayConfig]:
    return ExamplePayConfig


@hookimpl
def register_payment_providers() -> list[PaymentProviderInfo]:
    return [PaymentProviderInfo(name=PROVIDER, display_name="ExamplePay")]


@hookimpl
async def collect_payment(
    attempt: AttemptView, vendor: VendorView, customer: CustomerView, context: PluginContext
) -> PaymentResult:
    from octane_example_provider.gateway import collect

    return await collect(context.config, attempt, vendor, customer)


@hookimpl
async def reconcile_payment(attempt: AttemptView, context: PluginContext) -> PaymentResult:
    from octane_example_provider.gateway import reconcile

    return await reconcile(context.config, attempt)


@hookimpl
def register_routes() -> list[Any]:
    from octane_example_provider.webhooks import webhook

    return [webhook]


@hookimpl
def register_jobs() -> list[JobSpec]:
    from octane_example_provider.webhooks import process_event_job, process_pending_job

    return [
        JobSpec(name="examplepay:process_event", function=process_event_job),
        JobSpec(name="examplepay:process_pending", function=process_pending_job, cron="* * * * *"),
    ]


@hookimpl
def register_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def register_settings_panels() -> list[SettingsPanel]:
    return [
        SettingsPanel(
            name=PROVIDER,
            title="ExamplePay",
            template="examplepay/panel.html",
            section="payment_provider",
        )
    ]
