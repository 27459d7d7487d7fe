"""Every workflow id is built here, from business keys.

A repeated trigger for the same business key yields the same id, so Temporal
itself refuses a second journey: no duplicate sends, whatever rescans or replays
happen upstream. A journey id names its customer by the keyed pseudonym the
caller passes in (careflow/pseudonyms.py), never by the business's customer id,
and no id ever carries a name or an address.

Ids are injective: two different business keys never share an id, so a second
customer's complaint can never be taken for the first one's. Each key is escaped,
never replaced: a character outside a small safe alphabet becomes `%XX` per UTF-8
byte (`%` itself included), and `-`, which separates the parts of an id, is
escaped inside a part, so splitting an id on `-` gives back exactly its parts.
`decode_key` undoes `encode_key`.

Why not keep every old id as it was: the first version replaced unsafe characters
with `_` and let `-` through inside parts, so `("a-b", "c")` and `("a", "b-c")`
both became `complaint-a-b-c`. No injective scheme can keep both, so ids of keys
containing `-` changed (and those with characters that used to be replaced);
every other character the old alphabet allowed still stands for itself, so ids
of keys without them are unchanged. Journeys already running under an old id
keep working: nothing finds a running journey by recomputing its id (signals,
cancels and the timeline go through the journeys table, which stores the id it
was started with), and the start policy is given every form a key's id has had
(careflow/journey_keys.py), so a journey is not started again under a new form.
Event ids are one part, so `-` stays readable there and re-posting an event finds
the workflow it started.
"""

from __future__ import annotations

import re
from datetime import date

# Characters that stand for themselves: they read well in the Temporal UI. `-` is
# the separator between an id's parts and `%` the escape character, so neither is
# here.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@")
_ESCAPED = re.compile(r"%([0-9A-F]{2})")
# A key made of safe characters only is its own encoding: most keys are, and the scan
# builds an id for every customer a rule fires for, every day.
_ALL_SAFE = re.compile(r"[a-zA-Z0-9._:@]*")
_ALL_SAFE_OR_SEPARATOR = re.compile(r"[a-zA-Z0-9._:@-]*")
_SEPARATOR = "-"
# The first part of every id: what kind of workflow it is. A journey named like one
# of careflow's own kinds would share their ids.
_RESERVED_KINDS = frozenset(
    {"event", "complaint", "care_message", "contact_change_notice", "daily", "campaign"}
)


def encode_key(value: str, *, keep_separator: bool = False) -> str:
    """`value` with every character outside the safe alphabet percent-escaped.

    `keep_separator` leaves `-` as it is: only for an id made of a single key.
    """
    if (_ALL_SAFE_OR_SEPARATOR if keep_separator else _ALL_SAFE).fullmatch(value):
        return value
    safe = _SAFE | {_SEPARATOR} if keep_separator else _SAFE
    return "".join(
        ch
        if ch in safe
        else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
        for ch in value
    )


def decode_key(encoded: str) -> str:
    """The key `encode_key` was given (for tests and for reading an id back)."""
    raw = bytearray()
    position = 0
    for match in _ESCAPED.finditer(encoded):
        raw += encoded[position : match.start()].encode("ascii")
        raw.append(int(match.group(1), 16))
        position = match.end()
    raw += encoded[position:].encode("ascii")
    return raw.decode("utf-8", "surrogatepass")


# The first form's alphabet: everything else was replaced with `_` (see above).
_FIRST_FORM_SAFE = _SAFE | {_SEPARATOR}


def first_form_of(workflow_id: str) -> str:
    """The id the first scheme gave the same business key as `workflow_id`.

    Journeys started before ids became injective keep their first-form ids; the
    start policy treats such a journey as the same one (careflow/start_outcomes.py),
    so a once-ever journey is not started a second time under its new id.
    """
    return _SEPARATOR.join(
        "".join(ch if ch in _FIRST_FORM_SAFE else "_" for ch in decode_key(part))
        for part in workflow_id.split(_SEPARATOR)
    )


def _join(*parts: str) -> str:
    return _SEPARATOR.join(parts)


def event_workflow_id(event_id: str) -> str:
    """The workflow that evaluates rules for one intake event."""
    return f"event-{encode_key(event_id, keep_separator=True)}"


def journey_workflow_id(
    journey: str,
    customer_id: str,
    rule_id: str,
    *,
    subject: str | None = None,
    on: date | None = None,
    reenter_after_days: int | None = None,
) -> str:
    """The id of a journey started by a rule.

    `subject` names what the journey is about when a customer can have several at
    once (a complaint id, an occasion such as `birthday-2026`). Without re-entry a
    journey runs once per business key, ever; with `reenter_after_days` the key
    includes the period, so the journey can start again in the next period.
    """
    if journey in _RESERVED_KINDS:
        raise ValueError(f"journey name {journey!r} is reserved for careflow's own workflow ids")
    parts = [encode_key(journey), encode_key(customer_id), encode_key(rule_id)]
    if subject:
        # The period part is `p<digits>`: a subject starting with `p` escapes it, so
        # a subject can never read as a period.
        encoded = encode_key(subject)
        parts.append(f"%70{encoded[1:]}" if encoded.startswith("p") else encoded)
    if reenter_after_days and on is not None:
        parts.append(f"p{on.toordinal() // reenter_after_days}")
    return _join(*parts)


def complaint_workflow_id(customer_id: str, complaint_id: str) -> str:
    """One escalation per complaint, whichever rule starts it, so signals can find it."""
    return _join("complaint", encode_key(customer_id), encode_key(complaint_id))


def scan_workflow_id(day: date) -> str:
    """One daily scan per calendar day."""
    return f"daily-scan-{day.isoformat()}"


def care_message_workflow_id(customer_id: str, rule_id: str, occasion: str) -> str:
    """One greeting per customer, rule and occasion-with-year (`birthday-2026`), ever."""
    return _join("care_message", encode_key(customer_id), encode_key(rule_id), encode_key(occasion))


def contact_change_workflow_id(customer_id: str, rule_id: str, on: date) -> str:
    """At most one contact-change notice per customer and day: staff get one email a day."""
    return _join(
        "contact_change_notice", encode_key(customer_id), encode_key(rule_id), on.isoformat()
    )


def campaign_workflow_id(campaign: str) -> str:
    """One run per campaign, ever: a second launch finds the first (running or done),
    and its ledger keys (`<this id>/<customer id>`) are the same whatever happens."""
    return _join("campaign", encode_key(campaign))
