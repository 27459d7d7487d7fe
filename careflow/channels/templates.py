"""SMS templates: `templates/sms/<template_id>/body.<locale>.j2`, beside the email ones.

Rendered in the same sandbox, with the same filters and locale fallback as email
(careflow/outreach/templates.py); the text is one line per line of the file, and the
signature and the marketing opt-out text are added by the send step, not written in
the template, so a template's length check counts them (`careflow rules check`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from jinja2 import FileSystemLoader, TemplateNotFound, TemplateSyntaxError

from careflow.outreach.formatting import FILTERS, FORMATTER_KEY, Formatter, babel_locale
from careflow.outreach.locales import babel_locale_name, locale_candidates
from careflow.outreach.sandbox import CareflowSandbox, RenderLimits, bounded_render
from careflow.outreach.templates import TemplateProblem
from careflow.outreach.zones import as_zone

SMS_DIR = "sms"
BODY = "body"


class SmsRenderer:
    """Renders `templates/sms/<template_id>` for a customer's locale and time zone."""

    def __init__(self, templates_dir: Path, fallback_locales: Sequence[str] = ("en",)) -> None:
        self.sms_dir = Path(templates_dir) / SMS_DIR
        self.fallback_locales = tuple(fallback_locales)
        self.limits = RenderLimits()
        self.environment = CareflowSandbox(
            loader=FileSystemLoader(self.sms_dir),
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
        )
        self.environment.filters.update(FILTERS)

    def template_ids(self) -> list[str]:
        if not self.sms_dir.is_dir():
            return []
        return sorted(
            folder.name
            for folder in self.sms_dir.iterdir()
            if folder.is_dir() and not folder.name.startswith(("_", "."))
        )

    def has(self, template_id: str) -> bool:
        return (self.sms_dir / template_id).is_dir()

    def locales(self, template_id: str) -> list[str]:
        folder = self.sms_dir / template_id
        return sorted(
            path.name.removeprefix(f"{BODY}.").removesuffix(".j2")
            for path in folder.glob(f"{BODY}.*.j2")
        )

    def resolve_locale(self, template_id: str, locale: str | None) -> str:
        candidates = locale_candidates(locale, self.fallback_locales)
        for candidate in candidates:
            if os.path.isfile(self.sms_dir / template_id / f"{BODY}.{candidate}.j2"):
                return candidate
        raise TemplateProblem(
            f"SMS template {template_id!r} has no {BODY}.<locale>.j2 for any of "
            f"{', '.join(candidates)}",
            path=self.sms_dir / template_id,
        )

    def render(
        self, template_id: str, locale: str | None, context: Mapping[str, object], *, zone: str
    ) -> str:
        """The SMS text (without signature or opt-out text); TemplateProblem with file:line."""
        used = self.resolve_locale(template_id, locale)
        name = f"{template_id}/{BODY}.{used}.j2"
        variables = dict(context)
        variables["message_locale"] = used
        variables[FORMATTER_KEY] = Formatter(
            locale=babel_locale(babel_locale_name(locale, used)), zone=as_zone(zone)
        )
        try:
            template = self.environment.get_template(name)
            with bounded_render(self.limits):
                text = template.render(variables)
        except TemplateNotFound as error:
            raise TemplateProblem("file is missing", path=self.sms_dir / name) from error
        except TemplateSyntaxError as error:
            raise TemplateProblem(
                f"syntax error: {error.message}", path=error.filename, line=error.lineno
            ) from error
        except TemplateProblem:
            raise
        except Exception as error:
            raise TemplateProblem(str(error), path=self.sms_dir / name) from error
        return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def full_text(config_signature: str, body: str, *, marketing: bool, opt_out_text: str) -> str:
    """The text as the customer gets it: 【signature】, the body, and for marketing the
    opt-out instruction."""
    text = f"{config_signature}{body}"
    if marketing and opt_out_text not in text:
        text = f"{text} {opt_out_text}"
    return text


def context_value(context: Mapping[str, object], path: str) -> str:
    """A template parameter's value: the dotted `path` in the message context, as text."""
    value: object = context
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, Mapping) else getattr(value, part, "")
    return "" if value is None else str(value)
