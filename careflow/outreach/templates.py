"""Rendering a message template for one customer: locale fallback, layouts, limits.

Files live under `templates/email/`:

    <template_id>/subject.<locale>.j2      one line (newlines are folded, see below)
    <template_id>/body.txt.<locale>.j2     plain-text part
    <template_id>/body.html.<locale>.j2    HTML part (autoescaped)
    _layouts/base.txt.<locale>.j2          shared layouts with the unsubscribe footer
    _layouts/base.html.<locale>.j2

A body starts with `{% extends layout %}`: the renderer sets `layout` to the layout
of the same part in the best locale, so bodies never hard-code a layout's locale.
Two more names are set by the renderer and cannot come from the caller's context:
`layout` and `message_locale` (the locale actually used, for `<html lang>`).
Every other variable is documented in `templates/README.md`.

Locale fallback: the customer's exact locale (`zh-CN`), its language (`zh`), the
configured fallbacks, then `en`. The first locale that has a `subject` file wins,
and that locale must then have both bodies too (a half-translated template is an
error, not a silent mix of languages).

Subjects are one line: every run of whitespace, including CR, LF and Unicode line
separators, becomes one space. A customer's name containing CR/LF can therefore
never start a new email header.

Templates are edited while workers run. Whether a file exists, and whether a
compiled template is still the file's, is checked at most once a second
(`recheck_seconds`), not on every render: an edit is picked up within a second.

Every failure in a template - syntax, an undefined variable (`StrictUndefined`), a
sandbox refusal, a limit from `RenderLimits` - raises `TemplateProblem` with the
template file and line, which the send activity reports as a non-retryable failure.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TypeVar

from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    meta,
    nodes,
)

from careflow.outreach.formatting import FILTERS, FORMATTER_KEY, Formatter, babel_locale
from careflow.outreach.locales import babel_locale_name, locale_candidates, normalise_locale
from careflow.outreach.sandbox import CareflowSandbox, RenderLimits, bounded_render
from careflow.outreach.zones import as_zone

EMAIL_DIR = "email"
LAYOUTS_DIR = "_layouts"
SUBJECT, TEXT, HTML = "subject", "body.txt", "body.html"
PARTS = (SUBJECT, TEXT, HTML)
RESERVED_NAMES = frozenset({"layout", "message_locale"})
TEMPLATE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
RECHECK_SECONDS = 1.0
_Value = TypeVar("_Value")


@dataclass(frozen=True)
class RenderedMessage:
    """One message ready to be put into an email: subject, both bodies, locale used."""

    template_id: str
    locale: str
    subject: str
    text: str
    html: str


class TemplateProblem(Exception):
    """A template cannot be rendered; `path` and `line` say where to fix it."""

    def __init__(self, message: str, *, path: Path | str | None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<template>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


@cache
def _autoescape(name: str | None) -> bool:
    # Only HTML parts are escaped; escaping would put &amp; into subjects and text.
    return name is not None and ".html" in PurePosixPath(name).suffixes


def _none_as_empty(value: object) -> object:
    # A missing optional field (None) prints as nothing, never as the word "None".
    return "" if value is None else value


class _Recheck:
    """Answers about the template files, each recomputed at most every `seconds`."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self.clock = clock
        self._answers: dict[object, tuple[float, object]] = {}

    def get(self, key: object, compute: Callable[[], _Value]) -> _Value:
        now = self.clock()
        known = self._answers.get(key)
        if known is not None and now - known[0] < self.seconds:
            return known[1]  # type: ignore[return-value]
        value = compute()
        self._answers[key] = (now, value)
        return value


class _RecheckingLoader(FileSystemLoader):
    """Jinja's file loader, asking whether a compiled template is stale at most every
    `recheck.seconds` instead of on every `get_template` (one `stat` per template and
    part, five a message)."""

    def __init__(self, folder: Path, recheck: _Recheck) -> None:
        super().__init__(folder)
        self.recheck = recheck

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        recheck = self.recheck
        checked = recheck.clock()

        def current() -> bool:
            nonlocal checked
            now = recheck.clock()
            if now - checked < recheck.seconds:
                return True
            checked = now
            return uptodate()

        return source, filename, current


class TemplateRenderer:
    """Renders `templates/email/<template_id>` for a customer's locale and time zone."""

    def __init__(
        self,
        templates_dir: Path,
        fallback_locales: Sequence[str] = ("en",),
        *,
        limits: RenderLimits | None = None,
        recheck_seconds: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.email_dir = Path(templates_dir) / EMAIL_DIR
        self.fallback_locales = tuple(fallback_locales)
        self.limits = limits or RenderLimits()
        self._recheck = _Recheck(recheck_seconds, clock)
        self._loader: BaseLoader = _RecheckingLoader(self.email_dir, self._recheck)
        self.environment = CareflowSandbox(
            loader=self._loader,
            autoescape=_autoescape,
            finalize=_none_as_empty,
            trim_blocks=True,
            lstrip_blocks=True,
            # Templates are edited while workers run; a changed file is picked up
            # (checked at most every `recheck_seconds`).
            auto_reload=True,
        )
        self.environment.filters.update(FILTERS)

    def resolve_locale(self, template_id: str, locale: str | None) -> str:
        """The locale whose files `render` would use for this customer locale."""
        return self._recheck.get(
            ("locale", template_id, locale), lambda: self._resolve_locale(template_id, locale)
        )

    def _resolve_locale(self, template_id: str, locale: str | None) -> str:
        folder = self._template_folder(template_id)
        candidates = locale_candidates(locale, self.fallback_locales)
        for candidate in candidates:
            if os.path.isfile(folder / f"{SUBJECT}.{candidate}.j2"):
                return candidate
        raise TemplateProblem(
            f"template {template_id!r} has no {SUBJECT}.<locale>.j2 for any of "
            f"{', '.join(candidates)}",
            path=folder,
        )

    def render(
        self,
        template_id: str,
        locale: str | None,
        context: Mapping[str, object],
        *,
        time_zone: tzinfo | str | None = None,
    ) -> RenderedMessage:
        """Render subject, text and HTML of `template_id` for one customer.

        `time_zone` is where `date_local`/`datetime_local` show times; when omitted it
        is `context["customer"]["timezone"]`, and UTC when that is missing or unknown.
        Raises `TemplateProblem` for anything wrong in the template files.
        """
        used = self.resolve_locale(template_id, locale)
        formatter = Formatter(
            locale=babel_locale(babel_locale_name(locale, used)),
            zone=as_zone(time_zone if time_zone is not None else _customer_zone(context)),
        )
        base = {key: value for key, value in context.items() if key not in RESERVED_NAMES}
        base["message_locale"] = used
        base[FORMATTER_KEY] = formatter
        subject = self._render_part(template_id, SUBJECT, used, base)
        text = self._render_part(template_id, TEXT, used, base)
        html = self._render_part(template_id, HTML, used, base)
        return RenderedMessage(
            template_id=template_id,
            locale=used,
            subject=" ".join(subject.split()),
            text=text,
            html=html,
        )

    def required_variables(self, template_id: str, locale: str | None = None) -> set[str]:
        """Top-level context names the template's files (and layouts) refer to.

        For `careflow rules check`: a template naming a variable the send step never
        provides is found before a customer is affected. Names set inside the template
        and the renderer's own (`layout`, `message_locale`) are left out.
        """
        used = self.resolve_locale(template_id, locale)
        names: set[str] = set()
        for part in PARTS:
            for name in self._part_sources(template_id, part, used):
                names |= meta.find_undeclared_variables(self._parse(name))
        return names - RESERVED_NAMES

    def syntax_problems(self) -> list[TemplateProblem]:
        """A syntax error in any `.j2` file under the email folder, used or not yet."""
        problems = []
        for path in sorted(self.email_dir.rglob("*.j2")):
            try:
                self._parse(path.relative_to(self.email_dir).as_posix())
            except TemplateProblem as problem:
                problems.append(problem)
            except UnicodeDecodeError as error:
                problems.append(TemplateProblem(f"not UTF-8 text: {error.reason}", path=path))
        return problems

    def _parse(self, name: str) -> nodes.Template:
        try:
            source, filename, _ = self._loader.get_source(self.environment, name)
            return self.environment.parse(source, name, filename)
        except TemplateNotFound as error:
            raise TemplateProblem("file is missing", path=self.email_dir / name) from error
        except TemplateSyntaxError as error:
            raise TemplateProblem(
                f"syntax error: {error.message}", path=error.filename, line=error.lineno
            ) from error

    def _render_part(
        self, template_id: str, part: str, locale: str, base: Mapping[str, object]
    ) -> str:
        name = f"{template_id}/{part}.{locale}.j2"
        variables = dict(base)
        if part != SUBJECT:
            variables["layout"] = self._layout_name(part, locale)
        template = self._load(name)
        try:
            with bounded_render(self.limits):
                return self._stream(template, variables)
        except TemplateProblem:
            raise
        except Exception as error:
            raise _problem_from(error, fallback=self.email_dir / name) from error

    def _stream(self, template: Template, variables: Mapping[str, object]) -> str:
        # Streamed so the output cap stops a runaway template before it has built
        # the whole string.
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(variables):
            size += len(chunk)
            if size > self.limits.max_output_chars:
                raise TemplateProblem(
                    f"output is longer than the limit of {self.limits.max_output_chars} characters",
                    path=template.filename,
                )
            chunks.append(chunk)
        return "".join(chunks)

    def _load(self, name: str) -> Template:
        try:
            return self.environment.get_template(name)
        except TemplateNotFound as error:
            raise TemplateProblem(
                "file is missing (every locale needs subject, body.txt and body.html)",
                path=self.email_dir / error.name if error.name else self.email_dir / name,
            ) from error
        except TemplateSyntaxError as error:
            raise TemplateProblem(
                f"syntax error: {error.message}",
                path=error.filename or self.email_dir / name,
                line=error.lineno,
            ) from error

    def _layout_name(self, part: str, locale: str) -> str:
        return self._recheck.get(("layout", part, locale), lambda: self._find_layout(part, locale))

    def _find_layout(self, part: str, locale: str) -> str:
        kind = part.removeprefix("body.")
        candidates = [
            f"{LAYOUTS_DIR}/base.{kind}.{candidate}.j2"
            for candidate in locale_candidates(locale, self.fallback_locales)
        ]
        candidates.append(f"{LAYOUTS_DIR}/base.{kind}.j2")
        for name in candidates:
            if (self.email_dir / name).is_file():
                return name
        # Named anyway: a body that extends it gets a clear "file is missing".
        return candidates[0]

    def _part_sources(self, template_id: str, part: str, locale: str) -> Iterator[str]:
        yield f"{template_id}/{part}.{locale}.j2"
        if part != SUBJECT:
            layout = self._layout_name(part, locale)
            if (self.email_dir / layout).is_file():
                yield layout

    def _template_folder(self, template_id: str) -> Path:
        if not TEMPLATE_ID_PATTERN.match(template_id):
            raise TemplateProblem(
                f"template id {template_id!r} must be lower-case letters, digits and _",
                path=self.email_dir,
            )
        return self.email_dir / template_id


def available_templates(templates_dir: Path) -> set[str]:
    """Ids of every template under `templates_dir/email` (folders with a subject file)."""
    email_dir = Path(templates_dir) / EMAIL_DIR
    if not email_dir.is_dir():
        return set()
    return {
        folder.name
        for folder in email_dir.iterdir()
        if folder.is_dir()
        and TEMPLATE_ID_PATTERN.match(folder.name)
        and any(folder.glob(f"{SUBJECT}.*.j2"))
    }


def template_locales(templates_dir: Path, template_id: str) -> set[str]:
    """The locales `template_id` has a subject for, e.g. `{"en", "zh-CN"}`."""
    folder = Path(templates_dir) / EMAIL_DIR / template_id
    prefix, suffix = f"{SUBJECT}.", ".j2"
    return {
        normalise_locale(path.name[len(prefix) : -len(suffix)])
        for path in folder.glob(f"{SUBJECT}.*.j2")
    }


def _customer_zone(context: Mapping[str, object]) -> object:
    customer = context.get("customer")
    return customer.get("timezone") if isinstance(customer, Mapping) else None


def _problem_from(error: BaseException, *, fallback: Path) -> TemplateProblem:
    """Turn an exception raised while rendering into a `TemplateProblem` at its line.

    Jinja rewrites tracebacks so template frames carry the template's file name and
    line; the innermost such frame is where the template went wrong.
    """
    path: str | Path = fallback
    line: int | None = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.endswith(".j2"):
            path, line = frame.filename, frame.lineno
    if isinstance(error, TemplateSyntaxError):  # e.g. from an extended layout
        path, line = error.filename or path, error.lineno
        return TemplateProblem(f"syntax error: {error.message}", path=path, line=line)
    if isinstance(error, TemplateNotFound):
        return TemplateProblem(f"template {error.name!r} not found", path=path, line=line)
    if isinstance(error, RecursionError):
        return TemplateProblem("macros call each other without end", path=path, line=line)
    kind = type(error).__name__
    labels = {
        "UndefinedError": "undefined variable",
        "SecurityError": "not allowed",
        "RenderLimitExceeded": "too much work",
    }
    return TemplateProblem(f"{labels.get(kind, kind)}: {error}", path=path, line=line)
