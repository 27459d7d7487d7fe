"""Operator folders for release tests: copies of the shipped rules and templates, edited."""

from __future__ import annotations

import shutil
from pathlib import Path

from careflow.paths import RULES_DIR, TEMPLATES_DIR

ACK_DESCRIPTION = (
    "A customer who opens a complaint gets an acknowledgement and a case that is "
    "followed to resolution."
)


def operator_folder(root: Path, *, ack_description: str | None = None) -> tuple[Path, Path]:
    """`root/rules` and `root/templates`: the shipped operator files, the complaint
    acknowledgement rule's description replaced when given (a new rule file hash)."""
    rules = root / "rules"
    rules.mkdir(parents=True)
    for shipped in RULES_DIR.glob("*.yaml"):
        shutil.copy(shipped, rules / shipped.name)
    templates = root / "templates"
    shutil.copytree(TEMPLATES_DIR, templates, ignore=shutil.ignore_patterns("__pycache__"))
    if ack_description is not None:
        path = rules / "complaints.rules.yaml"
        text = path.read_text()
        assert ACK_DESCRIPTION in text
        path.write_text(text.replace(ACK_DESCRIPTION, ack_description))
    return rules, templates
