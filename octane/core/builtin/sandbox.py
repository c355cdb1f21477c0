"""The ``sandbox`` payment provider: the whole lifecycle with no external account.

Status: registered as a plugin so it can be enabled and listed; its payment
provider (succeed / fail with a code / answer unknown, chosen per customer) is
built with the grace-period schedule.
"""

from __future__ import annotations

__all__: list[str] = []
