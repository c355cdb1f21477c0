"""The plugin's configuration: the ``[plugins.examplepay]`` block of ``octane.toml``.

::

    [plugins.examplepay]
    api_base = "https://api.examplepay.test"
    api_key = { "$env" = "EXAMPLEPAY_API_KEY" }
    webhook_secret = { "$env" = "EXAMPLEPAY_WEBHOOK_SECRET" }
    timeout_seconds = 10

Octane resolves the ``$env`` placeholders, then decodes the block into
:class:`ExamplePayConfig`: an unknown key or a wrong type stops start-up with a message
naming ``plugins.examplepay.<key>``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["PROVIDER", "ExamplePayConfig"]

PROVIDER = "examplepay"
"""The payment provider's name (and the plugin's): vendors choose it in their invoice settings."""


class ExamplePayConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.examplepay]``: how to reach the ExamplePay API and check its webhooks."""

    api_base: Annotated[
        str, msgspec.Meta(description="ExamplePay's API address (tests point it at the fake).")
    ] = "https://api.examplepay.test"
    api_key: Annotated[
        str | None,
        msgspec.Meta(description='The secret API key: { "$env" = "EXAMPLEPAY_API_KEY" }.'),
    ] = None
    webhook_secret: Annotated[
        str | None,
        msgspec.Meta(description="The secret ExamplePay signs webhook events with."),
    ] = None
    timeout_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=120,
            description="How long to wait for ExamplePay before the answer counts as lost.",
        ),
    ] = 10.0
