"""The send step (`OutreachActivities`) as the worker builds it, for tests that call
it directly: the test settings' templates and SMTP target, and a policy read from a
rules folder on every message, as the live worker reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from careflow.activities.outreach import OutreachActivities
from careflow.config import Settings
from careflow.outreach.mailer import SmtpDelivery
from careflow.outreach.policy_config import load_outreach_policy
from careflow.outreach.templates import TemplateRenderer
from careflow.store import Database


def send_step(
    db: Database, settings: Settings, *, rules_dir: Path | None = None, **options: Any
) -> OutreachActivities:
    """The send step with `rules_dir`'s outreach policy (default the settings' rules);
    `options` are `OutreachActivities`' others (sms, variants, suppressions, ...)."""
    policy_path = (rules_dir or settings.rules_dir) / "outreach_policy.yaml"
    return OutreachActivities(
        db,
        TemplateRenderer(settings.templates_dir),
        SmtpDelivery(settings.smtp_target),
        mail_from=settings.mail_from,
        base_url="https://care.example.com",
        secret_key=settings.secret_key,
        policy=lambda: load_outreach_policy(policy_path),
        **options,
    )
