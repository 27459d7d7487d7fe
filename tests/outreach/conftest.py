"""Helpers for outreach tests: a throw-away template folder written from strings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from careflow.paths import TEMPLATES_DIR

TemplateFiles = Mapping[str, str]

LAYOUT_TXT = "{% block body %}{% endblock %}\n"
LAYOUT_HTML = "<html>{% block body %}{% endblock %}</html>\n"


@pytest.fixture
def shipped_templates() -> Path:
    return TEMPLATES_DIR


@pytest.fixture
def make_templates(tmp_path: Path) -> Callable[[TemplateFiles], Path]:
    """Write files (paths relative to `templates/email/`) and return the templates dir.

    Minimal locale-neutral layouts are added unless the test writes its own.
    """

    def make(files: TemplateFiles) -> Path:
        root = tmp_path / "templates"
        email = root / "email"
        defaults = {"_layouts/base.txt.j2": LAYOUT_TXT, "_layouts/base.html.j2": LAYOUT_HTML}
        for name, content in {**defaults, **files}.items():
            path = email / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        return root

    return make
