"""The ``stripe`` plugin: Stripe Connect, invoicing via Stripe, off-session charging, webhooks.

Status: configuration (the platform's keys) and the installation check exist;
Connect onboarding, customer sync, invoicing and charging are built on the
invoice lifecycle. The ``stripe`` SDK is imported lazily, only when used.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated

import msgspec

from octane import hookimpl
from octane.core.errors import MissingDependencyError

__all__ = ["StripeConfig", "check_compatibility", "plugin_config_schema", "require_sdk"]


class StripeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.stripe]``: the platform account that vendors connect to."""

    secret_key: Annotated[
        str | None,
        msgspec.Meta(description='The platform\'s secret key: { "$env" = "STRIPE_SECRET_KEY" }.'),
    ] = None
    connect_client_id: Annotated[
        str | None, msgspec.Meta(description="The Connect OAuth client id (ca_...).")
    ] = None
    webhook_secret: Annotated[
        str | None,
        msgspec.Meta(description="The signing secret of the Connect webhook endpoint (whsec_...)."),
    ] = None
    api_base: Annotated[
        str | None,
        msgspec.Meta(description="Override Stripe's API address (tests use a local fake)."),
    ] = None


def require_sdk() -> None:
    """Raise a MissingDependencyError naming the pip command if the SDK is absent."""
    if importlib.util.find_spec("stripe") is None:
        raise MissingDependencyError("stripe", "stripe", purpose="the Stripe plugin")


@hookimpl
def check_compatibility() -> list[str]:
    try:
        require_sdk()
    except MissingDependencyError as exc:
        return [exc.message]
    return []


@hookimpl
def plugin_config_schema() -> type[StripeConfig]:
    return StripeConfig
