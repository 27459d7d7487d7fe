"""The journeys' patch ids, and the one check that costs a new journey one marker.

Every `workflow.patched(id)` a run takes records a marker in its history and, in
the SDK's core, an upsert of the `TemporalChangeVersion` search attribute: a
visibility update in the Temporal server. A complaint journey took three patches
before its first message (the ladder, local quick steps, the local first send),
so three markers and three visibility updates per complaint, for code every new
journey runs anyway.

A journey started on this code records `FOLDED_PATCHES` once, at its first patch
check; from then on every patch in `FOLDED` is in effect without a marker of its
own. A journey recorded before replays as it ran: `FOLDED_PATCHES` is not in its
history, so each check falls back to the patch's own marker (the SDK remembers a
patch's answer for the whole run, so the two never disagree within one).

Patch ids are an API: running journeys replay against them. A patch added after
this fold is checked with `workflow.patched` (or `patched`, which passes it
through): a journey that recorded `FOLDED_PATCHES` did not take its code.
"""

from __future__ import annotations

from temporalio import workflow

# The SLA ladder of the complaint journey (workflows/complaint_escalation.py).
SLA_LADDER = "sla-ladder-v1"
# Plan, task and outcome steps as local activities (workflows/calls.py).
QUICK_STEPS_LOCAL = "quick-steps-local-v1"
# A send's first attempt as a local activity (workflows/sending.py).
SEND_FIRST_LOCAL = "send-first-attempt-local-v1"
# A staggered journey's clock counts from its trigger plus its stagger (workflows/journey.py).
STAGGER_PATCH = "journey-stagger-v1"
# A journey says in its memo when it will have ended (workflows/exits.py).
ENDS_BY_PATCH = "journey-ends-by-memo"
# A retention offer waits for its approvers (workflows/retention_offer.py).
OFFER_APPROVAL_PATCH = "offer-approval-v1"
# A retention offer's call task waits for its outcome (workflows/retention_offer.py).
CALL_OUTCOME_PATCH = "call-task-outcome-v1"

# Stands for every patch in `FOLDED` at once, in journeys started after the fold.
FOLDED_PATCHES = "journey-patches-folded-v1"
FOLDED = frozenset(
    {
        SLA_LADDER,
        QUICK_STEPS_LOCAL,
        SEND_FIRST_LOCAL,
        STAGGER_PATCH,
        ENDS_BY_PATCH,
        OFFER_APPROVAL_PATCH,
        CALL_OUTCOME_PATCH,
    }
)


def patched(patch_id: str) -> bool:
    """`workflow.patched(patch_id)`, answered by `FOLDED_PATCHES` for a folded patch.

    The fold is asked first, so in a new journey its marker is the only one; in a
    journey recorded before the fold, the fold's answer is False for the whole run
    and the patch's own marker decides, as it did when the journey was recorded.
    """
    if patch_id in FOLDED and workflow.patched(FOLDED_PATCHES):
        return True
    return workflow.patched(patch_id)
