"""ExamplePay's webhook events: verified, recorded once, then applied.

ExamplePay POSTs each event to ``/webhooks/examplepay`` (the plugin's URL prefix), at
least once and in any order::

    {"id": "evt_...", "type": "charge.succeeded", "created": 1774000000,
     "data": {<the charge, with the metadata we sent>}}

signed in the ``ExamplePay-Signature`` header: ``t=<unix time>,v1=<hex>``, where the hex
is HMAC-SHA256 of ``"<t>." + body`` under the webhook secret (several ``v1`` while the
secret is rotated).

1. The signature is checked on the raw body, in constant time, and the timestamp must be
   within :data:`TOLERANCE_SECONDS` of now: a bad or stale signature is a 400 with
   nothing recorded.
2. The event is recorded by its id through :mod:`octane.core.webhooks`: a replay is
   acknowledged and changes nothing.
3. It is applied by a job (or at once when Octane runs without a queue); a sweep every
   minute applies any event whose job was lost. ``charge.succeeded`` and
   ``charge.declined`` settle the payment attempt named in the charge's metadata through
   :func:`octane.core.collection.apply_result`, a guarded update: an attempt already
   settled (by the call, a reconciliation or an earlier event) is not settled again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Any

from litestar import Request, post
from octane.core.clocks import SYSTEM_CLOCK, vendor_clock
from octane.core.collection import apply_result
from octane.core.errors import BadRequestError, NotFoundError, ValidationError
from octane.core.jobs import enqueue_unique
from octane.core.plugins import PluginHost
from octane.core.webhooks import apply_recorded, apply_unapplied, finish_event, record_event

from octane_example_provider.config import PROVIDER
from octane_example_provider.gateway import result_from_charge

__all__ = [
    "PROCESS_JOB",
    "SIGNATURE_HEADER",
    "TOLERANCE_SECONDS",
    "process_event_job",
    "process_pending_job",
    "receive",
    "sign",
    "verify",
    "webhook",
]

log = logging.getLogger("octane.examplepay")
SIGNATURE_HEADER = "ExamplePay-Signature"
TOLERANCE_SECONDS = 300
"""How far an event's signed timestamp may be from now: older ones are refused as replays."""
PROCESS_JOB = "examplepay:process_event"
APPLIED_TYPES = ("charge.succeeded", "charge.declined")


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``ExamplePay-Signature`` header ExamplePay sends with ``payload``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _refused(message: str, code: str = "invalid_signature") -> BadRequestError:
    return BadRequestError(message, code=code, field=SIGNATURE_HEADER)


def verify(payload: bytes, header: str, secret: str, *, now: datetime) -> None:
    """Raise :class:`~octane.core.errors.BadRequestError` (field ``ExamplePay-Signature``)
    unless ``header`` signs ``payload`` with ``secret`` within the tolerance of ``now``."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for piece in header.split(","):
        key, _, value = piece.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        raise _refused(
            f"The {SIGNATURE_HEADER} header is missing or malformed (expected t=...,v1=...)."
        )
    timestamp = int(timestamps[0])
    expected = sign(payload, secret, timestamp).partition(",v1=")[2]
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise _refused(
            f"The {SIGNATURE_HEADER} header does not verify with plugins.examplepay.webhook_secret."
        )
    if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
        raise _refused(
            f"The {SIGNATURE_HEADER} timestamp is more than {TOLERANCE_SECONDS} s away from now "
            "(a replayed or delayed event).",
            code="stale_signature",
        )


def _parse(payload: bytes) -> dict[str, Any]:
    try:
        event = json.loads(payload)
        if not (isinstance(event["id"], str) and isinstance(event["type"], str)):
            raise TypeError
        if not isinstance(event["data"], dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise BadRequestError(
            "The body is not an ExamplePay event (id, type and data are required).", field="body"
        ) from None
    return dict(event)


async def _vendor_of(event: dict[str, Any]) -> str | None:
    """The vendor whose charge the event is about (from the metadata we sent), if it exists."""
    vendor_id = (event["data"].get("metadata") or {}).get("octane_vendor")
    if not isinstance(vendor_id, str):
        return None
    try:
        await vendor_clock(vendor_id)
    except NotFoundError:
        return None
    return vendor_id


async def receive(
    plugins: PluginHost, payload: bytes, header: str, queue: Any = None
) -> dict[str, Any]:
    """Verify and record one event, then hand it to a job (``queue``) or, without a queue,
    apply it now; what happened, for the response."""
    secret = plugins.context(PROVIDER).config.webhook_secret
    if not secret:
        raise ValidationError(
            "plugins.examplepay.webhook_secret is not set: events cannot be verified.",
            field="plugins.examplepay.webhook_secret",
        )
    now = SYSTEM_CLOCK.now()
    verify(payload, header, secret, now=now)
    event = _parse(payload)
    vendor_id = await _vendor_of(event)
    row = await record_event(
        provider=PROVIDER,
        event_id=event["id"],
        event_type=event["type"],
        payload=payload.decode(),
        vendor_id=vendor_id,
        at=now,
    )
    if row is None:
        return {"received": True, "duplicate": True}
    if vendor_id is None:
        log.warning("ExamplePay event %s is not about an Octane charge; ignored", event["id"])
        await finish_event(row, "ignored", at=now, error="No Octane vendor in the metadata.")
        return {"received": True, "ignored": "not an Octane charge"}
    if queue is not None:
        await enqueue_unique(queue, PROCESS_JOB, key=f"examplepay-event-{row}", row_id=row)
        return {"received": True, "queued": True}
    return {"received": True, "status": await _process(plugins, row)}


def _applier(plugins: PluginHost) -> Any:
    async def apply(vendor_id: str, payload: str) -> str:
        event = json.loads(payload)
        charge = event["data"]
        attempt_id = (charge.get("metadata") or {}).get("octane_attempt")
        if event["type"] not in APPLIED_TYPES or not attempt_id:
            return "ignored"
        clock = await vendor_clock(vendor_id)
        await apply_result(plugins, vendor_id, attempt_id, result_from_charge(charge), clock=clock)
        return "processed"

    return apply


async def _process(plugins: PluginHost, row_id: int) -> str:
    return await apply_recorded(row_id, _applier(plugins), now=SYSTEM_CLOCK.now())


async def process_event_job(ctx: dict[str, Any], *, row_id: int) -> str:
    """The job behind ``POST /webhooks/examplepay``: apply one recorded event, once."""
    return await _process(ctx["octane"].plugins, row_id)


async def process_pending_job(ctx: dict[str, Any]) -> int:
    """Every minute: apply events whose job was lost, so none is left unapplied."""
    return await apply_unapplied(PROVIDER, _applier(ctx["octane"].plugins), now=SYSTEM_CLOCK.now())


@post("/webhooks/examplepay", summary="ExamplePay events", status_code=200)
async def webhook(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Verify, record once, answer at once: the work happens in a job."""
    runtime = request.app.state.octane
    payload = await request.body()
    header = request.headers.get(SIGNATURE_HEADER, "")
    return await receive(runtime.plugins, payload, header, runtime.state.get("queue"))
