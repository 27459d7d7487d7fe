"""The facts an event contributes on top of the customer's stored facts."""

from __future__ import annotations

from collections.abc import Mapping


def event_facts(event_type: str, data: Mapping[str, object]) -> dict[str, object]:
    """Facts named in rules/facts.py that describe the triggering event itself."""
    facts: dict[str, object] = {"event_type": event_type}
    severity = data.get("severity")
    if event_type == "complaint_opened" and isinstance(severity, str):
        facts["complaint_severity"] = severity
    score = data.get("score")
    if event_type == "survey_answered" and isinstance(score, int):
        facts["survey_score"] = score
    changed = data.get("changed_fields")
    if event_type == "customer_upserted" and isinstance(changed, list) and changed:
        facts["changed_fields"] = ",".join(sorted(str(name) for name in changed))
    return facts
