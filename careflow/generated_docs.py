"""Writes the generated documents: rules/README.md (for operations staff).

Run `python -m careflow.generated_docs` after changing rules/facts.py, a shipped rule
file or a journey declaration; `--check` only reports whether they are stale, and a
test fails while one is. The inputs are the shipped rules checked against the
journeys the worker registers, built here as every process builds them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from careflow.rule_references import shipped_references
from careflow.rules.docs import README, RULES_DIR, render_readme
from careflow.rules.rulebook import load_rulebook
from careflow.workflows.registry import JOURNEYS


def generated_documents() -> dict[Path, str]:
    """Each generated file and the text it should have now."""
    rulebook = load_rulebook(RULES_DIR, references=shipped_references())
    return {README: render_readme(rulebook, JOURNEYS)}


def main(argv: list[str] | None = None) -> int:
    """Write the generated documents; with `--check`, only report which are stale."""
    args = sys.argv[1:] if argv is None else argv
    stale = [
        path
        for path, text in generated_documents().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    if "--check" in args:
        for path in stale:
            print(f"{path} is stale: run python -m careflow.generated_docs")
        return 1 if stale else 0
    for path, text in generated_documents().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
