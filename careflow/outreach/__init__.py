"""Outreach: templates and rendering, outreach policies, signed links, email delivery.

Public names are re-exported here; each lives in a module with one job.
"""

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
from careflow.outreach.sandbox import RenderLimits
from careflow.outreach.templates import (
    RenderedMessage,
    TemplateProblem,
    TemplateRenderer,
    available_templates,
    template_locales,
)

__all__ = [
    "ExpiredLinkToken",
    "InvalidLinkToken",
    "RenderLimits",
    "RenderedMessage",
    "SurveyClaim",
    "TemplateProblem",
    "TemplateRenderer",
    "UnsubscribeClaim",
    "available_templates",
    "survey_url",
    "template_locales",
    "unsubscribe_url",
    "verify_survey_token",
    "verify_unsubscribe_token",
]
