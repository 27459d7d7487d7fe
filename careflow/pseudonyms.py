"""Keyed pseudonyms of customer ids: what Temporal and an erased record carry instead.

A pseudonym is an HMAC-SHA256 of the customer id under `CAREFLOW_SECRET_KEY`: the
same customer always gets the same one (so journey ids stay deterministic and a
repeated trigger finds the running journey), and without the key nobody can tell
whose it is (an unkeyed hash of an id is undone by hashing candidate ids).

Journey workflow ids and memos carry it rather than the business's customer id,
because Temporal keeps a workflow id in its own tables (timers, task queues,
visibility) until long after the workflow is deleted; after `careflow erase` the
customer row keeps it too, so the anonymous ledger and what Temporal still holds
point at the same nobody.
"""

from __future__ import annotations

import hashlib
import hmac

# 80 bits: no two customers of any real business share one.
_LENGTH = 20


def customer_pseudonym(secret_key: str, customer_id: str) -> str:
    """The customer's keyed pseudonym (lower-case hex, the same for the same id and key)."""
    return _keyed(secret_key, "customer", customer_id)


def keyed_digest(secret_key: str, kind: str, value: str) -> str:
    """A keyed pseudonym of any other value (`kind` keeps the kinds apart)."""
    return _keyed(secret_key, kind, value)


def _keyed(secret_key: str, kind: str, value: str) -> str:
    message = f"careflow/{kind}\0{value}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:_LENGTH]
