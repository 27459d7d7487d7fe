"""Outreach: templates and rendering, outreach policies, signed links, email delivery.

Public names are re-exported here; each lives in a module with one job.
"""

from careflow.outreach.sandbox import RenderLimits
from careflow.outreach.templates import (
    RenderedMessage,
    TemplateProblem,
    TemplateRenderer,
    available_templates,
    template_locales,
)

__all__ = [
    "RenderLimits",
    "RenderedMessage",
    "TemplateProblem",
    "TemplateRenderer",
    "available_templates",
    "template_locales",
]
