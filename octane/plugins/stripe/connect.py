"""Stripe Connect onboarding: the OAuth authorize URL, the callback, and disconnecting.

The ``state`` sent through Stripe is a token signed with a key derived from the
deployment's secret key, naming the vendor and an expiry: the callback accepts a
code only for the vendor that asked for it, within ten minutes, and refuses a
forged or altered state.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from octane.core.errors import PermissionDeniedError, PluginError, ValidationError
from octane.core.plugin_context import PluginContext
from octane.core.provider_accounts import connect_account, disconnect_account, find_account
from octane.plugins.stripe.client import PROVIDER, stripe_client

__all__ = [
    "STATE_LIFETIME",
    "authorize_url",
    "complete",
    "disconnect",
    "make_state",
    "read_state",
    "session_binding",
]

STATE_LIFETIME = timedelta(minutes=10)
log = logging.getLogger("octane.stripe")


def _key(secret_key: str) -> bytes:
    if not secret_key:
        raise PluginError("Octane has no secret key to sign the Stripe Connect state with.")
    return hashlib.sha256(b"octane-stripe-connect\x00" + secret_key.encode()).digest()


def session_binding(csrf_token: str) -> str:
    """What ties a state to one portal session, without revealing anything about it."""
    return hashlib.sha256(b"octane-stripe-binding\x00" + csrf_token.encode()).hexdigest()[:24]


def make_state(secret_key: str, vendor_id: str, now: datetime, binding: str = "") -> str:
    """A signed state naming the vendor, an expiry and (from the portal) the session."""
    expires = int((now + STATE_LIFETIME).timestamp())
    payload = f"{vendor_id}.{expires}.{secrets.token_hex(8)}.{binding}"
    mac = hmac.new(_key(secret_key), payload.encode(), hashlib.sha256).hexdigest()
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=") + "." + mac


def read_state(secret_key: str, state: str, now: datetime) -> tuple[str, str]:
    """The vendor the state was made for and its session binding ("" when started through
    the API); PermissionDeniedError if forged or expired."""
    encoded, _, mac = state.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        vendor_id, expires, _nonce, binding = payload.split(".")
        expected = hmac.new(_key(secret_key), payload.encode(), hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, mac)
    except (ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise PermissionDeniedError(
            "The Stripe Connect state is not one Octane issued; start again from Octane.",
            code="invalid_state_token",
            field="state",
        )
    if int(expires) < now.timestamp():
        raise PermissionDeniedError(
            "The Stripe Connect link has expired; start again from Octane.",
            code="expired_state_token",
            field="state",
        )
    return vendor_id, binding


def authorize_url(
    context: PluginContext, vendor_id: str, redirect_uri: str, now: datetime, binding: str = ""
) -> str:
    if not context.config.connect_client_id:
        raise PluginError(
            "plugins.stripe.connect_client_id is not set (the platform's ca_... id).",
            field="plugins.stripe.connect_client_id",
        )
    url: str = stripe_client(context).oauth.authorize_url(
        {
            "response_type": "code",
            "scope": "read_write",
            "state": make_state(context.secret_key, vendor_id, now, binding),
            "redirect_uri": redirect_uri,
        }
    )
    return url


async def complete(
    context: PluginContext, code: str, state: str, now: datetime, session: str | None
) -> str:
    """Exchange the callback's code for the vendor's account id and store it.

    ``session`` is the binding of the browser's portal session (None without one): a
    state started from the portal is only accepted back in the same session.
    """
    import stripe

    vendor_id, binding = read_state(context.secret_key, state, now)
    if binding and binding != session:
        raise PermissionDeniedError(
            "This Stripe connection was started in another portal session; start again "
            "from Settings > Payment provider.",
            code="state_session_mismatch",
            field="state",
        )
    client = stripe_client(context)
    try:
        token = await asyncio.to_thread(
            client.oauth.token, {"grant_type": "authorization_code", "code": code}
        )
    except stripe.StripeError as error:  # OAuth errors included (a used or unknown code)
        raise ValidationError(
            f"Stripe did not accept the authorization: {error.user_message or error}. "
            "Start again from Octane.",
            code="stripe_connect_failed",
            field="code",
        ) from None
    await connect_account(vendor_id, PROVIDER, account_id=str(token.stripe_user_id), at=now)
    return vendor_id


async def disconnect(context: PluginContext, vendor_id: str, now: datetime) -> bool:
    """Deauthorize the platform on the vendor's account and forget it."""
    account = await find_account(vendor_id, PROVIDER)
    if account is None or account["status"] != "connected":
        return False
    import stripe

    client = stripe_client(context)
    try:
        await asyncio.to_thread(
            client.oauth.deauthorize,
            {
                "client_id": context.config.connect_client_id,
                "stripe_user_id": account["account_id"],
            },
        )
    except stripe.StripeError as error:  # already revoked on Stripe's side: forget it anyway
        log.warning("Stripe deauthorize for %s failed: %s", account["account_id"], error)
    return await disconnect_account(vendor_id, PROVIDER, at=now)
