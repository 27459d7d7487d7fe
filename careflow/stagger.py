"""Each of a customer's journeys on a clock of its own, for simulations.

A daily scan starts a customer's win-back offer and survey at one instant, and quiet
hours end for both at one instant: live, which of the two reaches the contact
budget first is a matter of milliseconds, so two simulations of one history could
tell different stories. Given a stagger (its memo's `STAGGER_MEMO`), a journey
runs that far behind its trigger (workflows/journey.py, workflows/sending.py), and
the offsets here keep a customer's journeys apart: each journey kind has a band of
its own and, within it, the subject (an occasion, a complaint) picks a slot. Bands
and slots are minutes apart, far more than a step takes, so on the time-skipping
server the earlier journey's step is done before the later one's is due.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

# Minutes between two journey kinds, and between two subjects of one kind.
KIND_BAND_MINUTES = 10
SUBJECT_SLOT_MINUTES = 2
SUBJECT_SLOTS = 4  # 4 x 2 minutes inside a 10-minute band


def journey_stagger(kind: str, subject: str, kinds: Iterable[str]) -> int:
    """Seconds a journey of `kind` about `subject` runs behind its trigger; `kinds`
    are every journey kind there is (their sorted order gives each its band)."""
    band = sorted(kinds).index(kind)
    slot = 0
    if subject:
        digest = hashlib.blake2b(subject.encode(), digest_size=4).digest()
        slot = int.from_bytes(digest, "big") % SUBJECT_SLOTS
    return (band * KIND_BAND_MINUTES + slot * SUBJECT_SLOT_MINUTES) * 60
