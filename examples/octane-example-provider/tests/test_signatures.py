"""The webhook signature check: what it refuses, and that the refusal names the header."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from octane.core.errors import BadRequestError

from octane_example_provider.webhooks import SIGNATURE_HEADER, TOLERANCE_SECONDS, sign, verify

SECRET = "ewhsec_test"
BODY = b'{"id": "evt_1", "type": "charge.succeeded", "data": {}}'
NOW = datetime(2026, 4, 5, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def _refusal(header: str, *, body: bytes = BODY, now: datetime = NOW) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        verify(body, header, SECRET, now=now)
    assert caught.value.field == SIGNATURE_HEADER
    return caught.value


def test_a_good_signature_verifies_and_is_plain_hmac_sha256() -> None:
    digest = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET, T) == f"t={T},v1={digest}"
    verify(BODY, f"t={T},v1={digest}", SECRET, now=NOW)


def test_any_of_several_signatures_verifies_while_the_secret_is_rotated() -> None:
    good = sign(BODY, SECRET, T).partition(",v1=")[2]
    old = sign(BODY, "ewhsec_old", T).partition(",v1=")[2]
    verify(BODY, f"t={T},v1={old},v1={good}", SECRET, now=NOW)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", f"t={T}", "v1=abc", "t=soon,v1=abc", f"t={T},t={T},v1=abc"],
)
def test_a_missing_or_malformed_header_is_refused(header: str) -> None:
    error = _refusal(header)
    assert error.code == "invalid_signature" and "malformed" in error.message


def test_a_wrong_secret_is_refused() -> None:
    error = _refusal(sign(BODY, "ewhsec_forged", T))
    assert error.code == "invalid_signature" and "does not verify" in error.message


def test_a_changed_body_is_refused() -> None:
    error = _refusal(sign(BODY, SECRET, T), body=BODY.replace(b"succeeded", b"declined"))
    assert error.code == "invalid_signature"


def test_a_changed_timestamp_is_refused() -> None:
    digest = sign(BODY, SECRET, T).partition(",v1=")[2]
    assert _refusal(f"t={T + 1},v1={digest}").code == "invalid_signature"


@pytest.mark.parametrize("offset", [TOLERANCE_SECONDS + 1, -(TOLERANCE_SECONDS + 1)])
def test_a_stale_or_future_timestamp_is_refused(offset: int) -> None:
    header = sign(BODY, SECRET, T - offset)
    error = _refusal(header)
    assert error.code == "stale_signature" and f"{TOLERANCE_SECONDS} s" in error.message


def test_a_timestamp_within_the_tolerance_verifies() -> None:
    verify(BODY, sign(BODY, SECRET, T), SECRET, now=NOW + timedelta(seconds=TOLERANCE_SECONDS))
