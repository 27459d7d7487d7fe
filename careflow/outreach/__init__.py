"""Outreach: templates and rendering, outreach policies, signed links, email delivery.

Public names are re-exported here; each lives in a module with one job:
`templates` (render a message), `sandbox` (what templates may do), `formatting`
(locale-aware filters), `policy` (send / defer / skip), `consent`, `budget`,
`quiet_hours`, `policy_config` (the operator's policy file), `links` (signed URLs),
`samples` (sample contexts and the template check).
"""

from careflow.outreach.budget import ContactBudget, SentMessage, next_budget_slot
from careflow.outreach.consent import CareConsent, consent_decision
from careflow.outreach.decisions import Action, PolicyDecision, Reason, Topic
from careflow.outreach.links import (
    ExpiredLinkToken,
    InvalidLinkToken,
    SurveyClaim,
    UnsubscribeClaim,
    survey_url,
    unsubscribe_url,
    verify_survey_token,
    verify_unsubscribe_token,
)
from careflow.outreach.policy import OutreachRequest, decide_outreach
from careflow.outreach.policy_config import (
    OutreachPolicy,
    OutreachPolicyError,
    OverBudget,
    load_outreach_policy,
)
from careflow.outreach.quiet_hours import QuietHours, next_allowed_time
from careflow.outreach.samples import check_templates, sample_context
from careflow.outreach.sandbox import RenderLimits
from careflow.outreach.templates import (
    RenderedMessage,
    TemplateProblem,
    TemplateRenderer,
    available_templates,
    template_locales,
)

__all__ = [
    "Action",
    "CareConsent",
    "ContactBudget",
    "ExpiredLinkToken",
    "InvalidLinkToken",
    "OutreachPolicy",
    "OutreachPolicyError",
    "OutreachRequest",
    "OverBudget",
    "PolicyDecision",
    "QuietHours",
    "Reason",
    "RenderLimits",
    "RenderedMessage",
    "SentMessage",
    "SurveyClaim",
    "TemplateProblem",
    "TemplateRenderer",
    "Topic",
    "UnsubscribeClaim",
    "available_templates",
    "check_templates",
    "consent_decision",
    "decide_outreach",
    "load_outreach_policy",
    "next_allowed_time",
    "next_budget_slot",
    "sample_context",
    "survey_url",
    "template_locales",
    "unsubscribe_url",
    "verify_survey_token",
    "verify_unsubscribe_token",
]
