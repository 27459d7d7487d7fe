"""Which variant of an experiment a customer gets, and whether they are held out of it.

An experiment (a campaign's or a journey send step's A/B test) names variants with
integer weights. A customer's variant is a pure function of the experiment name and
the customer id: the same customer gets the same variant on every worker, on every
retry and re-run, in every process and Python version, with nothing stored to decide
it (the ledger records it afterwards, for the results).

The draw is BLAKE2b keyed by the experiment name over the customer id, so two
experiments draw independently, and personalised by purpose ("variant" or "holdout"),
so the holdout draw of an experiment is independent of its variant draw: held-out
customers and the rest have the same mix of would-be variants. The 128-bit digest is
scaled onto the total weight with a multiply-shift (bias below 2**-100, nothing
measurable). Variants are taken in name order, so the order a file or a dict lists
them in never moves anyone. Python's `hash()` is not used: it is salted per process.

`careflow/holdout.py` keeps the journey-level holdout (`rules/holdout.yaml`, decided by
the dispatcher before a journey starts); `in_holdout` here is the same idea for an
experiment that has no journey around it (a campaign).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

__all__ = ["HOLDOUT_VARIANT", "assign_variant", "check_weights", "in_holdout"]

# What the ledger records as the variant of a customer held out of an experiment (and
# what the results call the holdout arm): no experiment may name a variant so.
HOLDOUT_VARIANT = "holdout"

_DIGEST_BYTES = 16
_DIGEST_BITS = 8 * _DIGEST_BYTES
_SPACE = 1 << _DIGEST_BITS  # the number of possible draws
# BLAKE2b personalisation strings are at most 16 bytes; one per purpose of a draw.
_VARIANT_PERSON = b"careflow-variant"
_HOLDOUT_PERSON = b"careflow-holdout"


def _draw(person: bytes, experiment: str, customer_id: str) -> int:
    """A uniform 128-bit integer from (purpose, experiment, customer).

    The key is a digest of the experiment name, because a BLAKE2b key is at most 64
    bytes and an experiment name is not bounded; hashing it first keeps every name
    distinct (no truncation, no two names sharing a key).
    """
    key = hashlib.blake2b(experiment.encode("utf-8"), digest_size=32).digest()
    digest = hashlib.blake2b(
        customer_id.encode("utf-8"), digest_size=_DIGEST_BYTES, key=key, person=person
    ).digest()
    return int.from_bytes(digest, "big")


def check_weights(weights: Mapping[str, int]) -> None:
    """Raise ValueError unless `weights` names at least one variant, each a positive int."""
    if not weights:
        raise ValueError("an experiment needs at least one variant")
    for name, weight in weights.items():
        if not name:
            raise ValueError("a variant name must not be empty")
        if name == HOLDOUT_VARIANT:
            raise ValueError(f"variant name {name!r} is reserved for the holdout group")
        # bool is an int subclass; True as a weight is a typo, not 1.
        if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
            raise ValueError(f"variant {name!r}: weight must be a positive integer, got {weight!r}")


def assign_variant(experiment: str, customer_id: str, weights: Mapping[str, int]) -> str:
    """The variant of `experiment` for this customer, drawn with the given weights.

    Deterministic: the same three arguments always give the same variant. Over many
    customers each variant gets its weight's share of them. Raises ValueError for
    empty weights or a weight that is not a positive integer.
    """
    check_weights(weights)
    names = sorted(weights)
    total = sum(weights[name] for name in names)
    point = (_draw(_VARIANT_PERSON, experiment, customer_id) * total) >> _DIGEST_BITS
    for name in names:
        point -= weights[name]
        if point < 0:
            return name
    raise AssertionError("unreachable: point < total")  # pragma: no cover


def in_holdout(experiment: str, customer_id: str, share: float) -> bool:
    """Whether this customer is in the holdout group of `experiment` (gets no variant).

    About `share` of any set of customers is held out; the draw is independent of
    `assign_variant`'s for the same experiment. A share of 0 (or less) holds out
    nobody; a share must be below 1 (holding out everyone tests nothing).
    """
    if share <= 0:
        return False
    if share >= 1:
        raise ValueError(f"holdout share must be below 1, got {share!r}")
    return _draw(_HOLDOUT_PERSON, experiment, customer_id) < share * _SPACE
