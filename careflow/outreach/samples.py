"""A realistic sample context for every shipped template, and a check that uses it.

`careflow rules check` renders every template in every locale it has with these
samples, so an operator's typo (`{{ case.refrence }}`) or a missing translation is
reported with file and line before any customer is affected. The samples are also
the reference for what the send step must put into a template's context; the full
list of names and their meaning is in `templates/README.md`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from careflow.outreach.templates import (
    TemplateProblem,
    TemplateRenderer,
    available_templates,
    template_locales,
)

# Fixed, so a check's output does not change from run to run.
SAMPLE_NOW = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
SAMPLE_UNSUBSCRIBE_URL = "https://care.example.com/unsubscribe/sample-token"
SAMPLE_SURVEY_URL = "https://care.example.com/survey/sample-token"

_CUSTOMERS: Mapping[str, Mapping[str, object]] = {
    "zh": {
        "id": "C-20931",
        "name": "王小明",
        "locale": "zh-CN",
        "timezone": "Asia/Shanghai",
        "tier": "vip",
        "account_manager": "li.na@example.com",
        "email": "xiaoming.wang@example.com",
        "phone": "+86 138 0013 8000",
    },
    "en": {
        "id": "C-20931",
        "name": "Emma Clarke",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "tier": "vip",
        "account_manager": "li.na@example.com",
        "email": "emma.clarke@example.com",
        "phone": "+44 20 7946 0018",
    },
}
_CASE: Mapping[str, object] = {
    "reference": "CS-2026-1042",
    "subject": "Parcel arrived damaged",
    "severity": "high",
    "channel": "email",
    "opened_at": SAMPLE_NOW - timedelta(days=2),
    "status": "escalated",
    "resolved_at": SAMPLE_NOW,
    "resolution": "A replacement was sent by express delivery.",
}
_OFFER: Mapping[str, object] = {
    "value": 50,
    "currency": "CNY",
    "code": "WELCOME-BACK-50",
    "expires_at": SAMPLE_NOW + timedelta(days=14),
}

_EXTRAS: Mapping[str, Mapping[str, object]] = {
    "complaint_ack": {"case": _CASE},
    "complaint_update": {"case": _CASE},
    "complaint_resolved": {"case": _CASE},
    "satisfaction_survey": {"case": _CASE, "survey_url": SAMPLE_SURVEY_URL},
    "survey_reminder": {"case": _CASE, "survey_url": SAMPLE_SURVEY_URL},
    "retention_offer": {"offer": _OFFER},
    "retention_reminder": {"offer": _OFFER},
    "birthday_greeting": {"offer": _OFFER},
    "holiday_greeting": {"holiday": "spring_festival"},
    "points_expiring": {"points_balance": 750, "points_expiring_30d": 800, "offer": _OFFER},
    "staff_escalation": {
        "staff": {"name": "李娜", "email": "li.na@example.com"},
        "case": _CASE,
        "escalation": {
            "reason": "Second complaint within 30 days from a VIP customer.",
            "due_at": SAMPLE_NOW + timedelta(hours=4),
        },
    },
    "staff_call_task": {
        "staff": {"name": "李娜", "email": "li.na@example.com"},
        "task": {
            "reason": "Purchases have slowed down for three months.",
            "due_at": SAMPLE_NOW + timedelta(days=2),
        },
    },
    "staff_contact_change": {
        "staff": {"name": "李娜", "email": "li.na@example.com"},
        "changes": [
            {"field": "email", "old": "x.wang@example.com", "new": "xiaoming.wang@example.com"},
            {"field": "phone", "old": "", "new": "+86 138 0013 8000"},
        ],
    },
}


def sample_context(
    template_id: str, locale: str | None = "zh-CN", *, audience: str | None = None
) -> dict[str, object]:
    """A complete, realistic context for `template_id`, as the send step would build it.

    `audience` is who the journey that sends it declares it for (`Journey.templates`:
    a topic, or `staff`); the topic decides the unsubscribe link, as the send step
    does. Without one, a template with a sample here is transactional, and any other
    (an operator's new template) gets the common part only, with an unsubscribe link
    (a new template is most likely marketing).
    """
    language = (locale or "en").split("-")[0].split("_")[0].lower()
    customer = dict(_CUSTOMERS.get(language, _CUSTOMERS["en"]))
    if audience is None:
        topic = "transactional" if template_id in _EXTRAS else "marketing"
    else:
        topic = "transactional" if audience == "staff" else audience
    context: dict[str, object] = {
        "customer": customer,
        "topic": topic,
        "params": {},
        "unsubscribe_url": None if topic == "transactional" else SAMPLE_UNSUBSCRIBE_URL,
        # Any journey may carry the signed survey link (`survey_link` in journeys.yaml).
        "survey_url": SAMPLE_SURVEY_URL,
    }
    context.update(_EXTRAS.get(template_id, {}))
    return context


def check_templates(
    templates_dir: Path,
    fallback_locales: tuple[str, ...] = ("en",),
    audiences: Mapping[str, str] | None = None,
    stand_ins: Mapping[str, str] | None = None,
) -> list[TemplateProblem]:
    """Render every template in every locale it has with sample data, and parse every
    other `.j2` file (a layout or a part no locale uses yet); all problems found.

    `stand_ins` maps a template to the one it stands in for (an A/B experiment's
    variant, journeys.yaml `experiments`): it gets that one's variables and audience,
    as the send step gives it."""
    renderer = TemplateRenderer(templates_dir, fallback_locales)
    problems: dict[str, TemplateProblem] = {}
    for template_id in sorted(available_templates(templates_dir)):
        sample_of = (stand_ins or {}).get(template_id, template_id)
        for locale in sorted(template_locales(templates_dir, template_id)):
            try:
                context = sample_context(
                    sample_of, locale, audience=(audiences or {}).get(sample_of)
                )
                renderer.render(template_id, locale, context)
            except TemplateProblem as problem:
                problems.setdefault(str(problem), problem)
    for unparsed in renderer.syntax_problems():
        problems.setdefault(str(unparsed), unparsed)
    return list(problems.values())
