"""What changed between two releases, rule by rule, as text.

Rule files are compared rule by rule (by id): each rule added, removed or changed is
shown with a unified diff of its own YAML, so a reviewer reads one rule's change at a
time, not a file's. Every other file (journeys, policies, holdout, tiers, any other
operator YAML, templates) is compared as a whole file.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ruamel.yaml.error import YAMLError

from careflow.config_files import parse_operator_yaml
from careflow.releases.bundle import ReleaseFiles

RULE_FILE_SUFFIX = ".rules.yaml"
ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    """One rule or file that differs; `lines` is its unified diff."""

    kind: ChangeKind
    what: str  # `rules/complaints.rules.yaml: rule acknowledge-new-complaint` or a path
    lines: list[str] = field(default_factory=list)
    rule_id: str | None = None


def _rule_texts(text: str) -> dict[str, str] | None:
    """Each rule's YAML text by id, and the file's other lines under `""`; None when the
    file does not parse (then it is compared as a whole)."""
    try:
        document = parse_operator_yaml(text)
    except YAMLError:
        return None
    rules: Any = document.get("rules") if isinstance(document, Mapping) else None
    if not isinstance(rules, list) or not rules:
        return None
    lines = text.splitlines(keepends=True)
    starts: list[tuple[int, str]] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or not isinstance(rule.get("id"), str):
            return None
        position: Any = rules  # ruamel's list keeps each item's line in `lc`
        starts.append((position.lc.item(index)[0], rule["id"]))
    texts: dict[str, str] = {"": "".join(lines[: starts[0][0]])}
    for number, (start, rule_id) in enumerate(starts):
        end = starts[number + 1][0] if number + 1 < len(starts) else len(lines)
        # A rule's item begins at its `- ` on the line of its first key.
        # Blank lines and comments between rules belong to neither: trailing ones dropped.
        texts[rule_id] = "".join(lines[start:end]).rstrip() + "\n"
    return texts


def _unified(before: str, after: str, name: str) -> list[str]:
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
    ]


def _text(content: bytes | None) -> str:
    if content is None:
        return ""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return f"(binary, {len(content)} bytes)\n"


def diff_releases(old: ReleaseFiles, new: ReleaseFiles) -> list[Change]:
    """Every rule and file that differs from `old` to `new`, in path then rule order."""
    changes: list[Change] = []
    for path in sorted(set(old.files) | set(new.files)):
        before, after = old.files.get(path), new.files.get(path)
        if before == after:
            continue
        kind: ChangeKind = "added" if before is None else "removed" if after is None else "changed"
        if path.endswith(RULE_FILE_SUFFIX):
            old_rules = _rule_texts(_text(before)) if before is not None else {}
            new_rules = _rule_texts(_text(after)) if after is not None else {}
            if old_rules is not None and new_rules is not None:
                changes += _rule_changes(path, old_rules, new_rules)
                continue
        changes.append(Change(kind, path, _unified(_text(before), _text(after), path)))
    return changes


def _rule_changes(path: str, old: dict[str, str], new: dict[str, str]) -> list[Change]:
    changes: list[Change] = []
    if old.get("", "") != new.get("", ""):
        changes.append(
            Change(
                "changed", f"{path}: file header", _unified(old.get("", ""), new.get("", ""), path)
            )
        )
    ids = [rule for rule in old if rule] + [rule for rule in new if rule and rule not in old]
    for rule_id in ids:
        before, after = old.get(rule_id), new.get(rule_id)
        if before == after:
            continue
        kind: ChangeKind = "added" if before is None else "removed" if after is None else "changed"
        changes.append(
            Change(
                kind,
                f"{path}: rule {rule_id}",
                _unified(before or "", after or "", f"{path}#{rule_id}"),
                rule_id=rule_id,
            )
        )
    return changes
