"""`careflow rules check` for SMS: every SMS template rendered, measured and mapped.

Each template is rendered in every locale it has with the sample data email
templates are checked with, given its signature and (for marketing) its opt-out
text, and refused when it takes more segments than `sms.yaml` allows; each needs a
template code in `sms.yaml`, and each parameter's path must name a value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from careflow.channels.config import SMS_FILE_NAME, SmsConfig, SmsConfigError, load_sms_config
from careflow.channels.segments import sms_length
from careflow.channels.templates import SmsRenderer, context_value, full_text
from careflow.outreach.locales import normalise_locale
from careflow.outreach.samples import sample_context
from careflow.outreach.templates import TemplateProblem


def sms_problems(
    rules_dir: Path, templates_dir: Path, *, audiences: Mapping[str, str] | None = None
) -> list[str]:
    """Every problem of `sms.yaml` and the SMS templates, each naming its file.

    `audiences` says whom each template goes to (the journeys' declarations): a
    marketing template's sample carries the opt-out text, as the send step adds it.
    """
    try:
        config = load_sms_config(rules_dir / SMS_FILE_NAME)
    except SmsConfigError as error:
        return list(error.problems)
    renderer = SmsRenderer(templates_dir)
    if config is None:
        return (
            [
                f"{SMS_FILE_NAME}:1: missing: templates/sms/ has templates but there is no "
                "SMS configuration (provider, signature, template codes)"
            ]
            if renderer.template_ids()
            else []
        )
    problems: list[str] = []
    for template_id in renderer.template_ids():
        audience = audiences.get(template_id) if audiences is not None else None
        problems += template_problems(config, renderer, template_id, audience=audience)
    return problems


def template_problems(
    config: SmsConfig, renderer: SmsRenderer, template_id: str, *, audience: str | None
) -> list[str]:
    """One SMS template's problems: its code in `sms.yaml`, and each locale rendered with
    the signature (and the opt-out text when it goes to a marketing audience), measured
    against `max_segments`, its parameters' paths naming values."""
    problems: list[str] = []
    mapped = config.templates.get(template_id)
    if mapped is None:
        problems.append(
            f"{SMS_FILE_NAME}: templates: SMS template {template_id!r} has no code "
            "(the provider's approved template)"
        )
    for locale in renderer.locales(template_id):
        context = sample_context(template_id, locale, audience=audience)
        where = f"templates/sms/{template_id}/body.{locale}.j2"
        try:
            body = renderer.render(template_id, locale, context, zone="Asia/Shanghai")
        except TemplateProblem as problem:
            problems.append(str(problem))
            continue
        text = full_text(
            config.brackets,
            body,
            marketing=context.get("topic") == "marketing",
            opt_out_text=config.opt_out_text,
        )
        length = sms_length(text)
        if length.segments > config.max_segments:
            problems.append(
                f"{where}: {length.units} characters ({length.encoding}) with the signature"
                f"{' and opt-out text' if context.get('topic') == 'marketing' else ''} take "
                f"{length.segments} segments; {SMS_FILE_NAME} allows {config.max_segments}"
            )
        for name, path in (mapped.params if mapped else {}).items():
            if not context_value(context, path):
                problems.append(
                    f"{SMS_FILE_NAME}: templates.{template_id}.params.{name}: {path!r} "
                    f"names no value in the message of {template_id!r}"
                )
    return problems


def sms_template_problem(
    rules_dir: Path,
    templates_dir: Path,
    template_id: str,
    *,
    audience: str,
    locales: Collection[str] = (),
) -> str | None:
    """Why `template_id` cannot be sent by SMS to `audience` (a topic), or None: what a
    campaign with `channel: sms` needs of each of its templates. The SMS template
    itself is checked as `rules check` checks every one (`template_problems`), and
    must have every one of `locales`."""
    try:
        config = load_sms_config(rules_dir / SMS_FILE_NAME)
    except SmsConfigError as error:
        return f"{SMS_FILE_NAME} is broken ({error.problems[0]})"
    renderer = SmsRenderer(templates_dir)
    if config is None:
        return f"there is no {SMS_FILE_NAME} (provider, signature, template codes)"
    if not renderer.has(template_id) or not renderer.locales(template_id):
        return f"there is no SMS template templates/sms/{template_id}/body.LOCALE.j2"
    if template_id not in config.templates:
        return f"{SMS_FILE_NAME} has no templates.{template_id} entry (its code)"
    have = renderer.locales(template_id)
    missing = [locale for locale in locales if normalise_locale(locale) not in have]
    if missing:
        return (
            f"templates/sms/{template_id}/ has no {', '.join(missing)} version "
            f"(body.{missing[0]}.j2)"
        )
    found = template_problems(config, renderer, template_id, audience=audience)
    return "; ".join(found) if found else None
