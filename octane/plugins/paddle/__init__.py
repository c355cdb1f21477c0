"""The ``paddle`` plugin: the Paddle Billing API over httpx.

Status: configuration (API base addresses, for tests and sandbox) exists;
per-vendor connection, customer sync, invoicing and charging are built on the
invoice lifecycle.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from octane import hookimpl

__all__ = ["PaddleConfig", "plugin_config_schema"]


class PaddleConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.paddle]``: deployment-wide Paddle settings (credentials are per vendor)."""

    sandbox_api_base: Annotated[
        str, msgspec.Meta(description="Paddle's sandbox API address (tests use a local fake).")
    ] = "https://sandbox-api.paddle.com"
    live_api_base: Annotated[str, msgspec.Meta(description="Paddle's live API address.")] = (
        "https://api.paddle.com"
    )


@hookimpl
def plugin_config_schema() -> type[PaddleConfig]:
    return PaddleConfig
