"""Consent: may this customer get a message on this topic at all?

- An erased customer gets nothing, not even transactional mail.
- Transactional messages need no consent (the customer asked for the service).
- Marketing needs explicit, recorded consent: silence is a no.
- Care messages follow the policy file: `opt_out` (sent unless the customer said
  no) or `opt_in` (only with explicit consent, like marketing).

A rule file can never switch consent off; the policy file can only make care
stricter or looser, never marketing or an erasure.
"""

from __future__ import annotations

from enum import StrEnum

from careflow.outreach.decisions import PolicyDecision, Reason, Topic


class CareConsent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


def consent_decision(
    topic: Topic, granted: bool | None, *, erased: bool, care: CareConsent
) -> PolicyDecision:
    """Send or skip, from the customer's recorded choice for this channel and topic.

    `granted` is True/False for a recorded choice, None when the customer never chose.
    """
    if erased:
        return PolicyDecision.skip(Reason.ERASED, "the customer's data has been erased")
    if topic is Topic.TRANSACTIONAL:
        return PolicyDecision.send()
    if granted is False:
        return PolicyDecision.skip(Reason.OPTED_OUT, f"the customer opted out of {topic} email")
    if granted is None and topic is Topic.MARKETING:
        return PolicyDecision.skip(
            Reason.NO_MARKETING_CONSENT, "no recorded consent to marketing email"
        )
    if granted is None and care is CareConsent.OPT_IN:
        return PolicyDecision.skip(Reason.NO_CARE_CONSENT, "no recorded consent to care email")
    return PolicyDecision.send()
