"""`rules/segments.yaml`: named conditions over a customer's facts.

    segments:
      vip_customers:
        description: Every VIP customer.
        when:
          tier: vip

A segment's `when` is written in the rule language (rules/README.md) and checked
against the same facts: the built-in ones and the derived facts of the folder's
`derived_facts.yaml`. It is about the customer at any time, so the facts of the
event being handled (event_type, complaint_severity, ...) are not allowed, and
neither is `in_segment:` (a segment repeats another's conditions instead).

Rules test membership with `in_segment: NAME`; careflow.segments counts and lists
members as of a time. This module is the rules side: the file's shape and every
mistake as `FILE:LINE:COL`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from careflow.config_files import OperatorFileTooLarge, read_operator_file
from careflow.rules.derived_facts import DerivedFacts
from careflow.rules.errors import Position, RuleError
from careflow.rules.facts import FactDefinition
from careflow.rules.model import Condition, leaves
from careflow.rules.parser import parse_condition
from careflow.rules.values import closest
from careflow.rules.yamlfile import describe, key_position, read_yaml, value_position

SEGMENTS_FILE_NAME = "segments.yaml"
SEGMENT_KEYS = ("description", "when")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Facts about the event being handled, not about the customer: no segment can name them.
EVENT_FACTS = frozenset({"event_type", "complaint_severity", "survey_score", "changed_fields"})


@dataclass(frozen=True)
class Segment:
    """One named condition of segments.yaml."""

    name: str
    description: str
    when: Condition
    pos: Position | None = field(default=None, compare=False)


class SegmentBook(Mapping[str, Segment]):
    """The segments of a rules folder by name, and the derived facts their conditions read."""

    def __init__(
        self,
        segments: Mapping[str, Segment],
        *,
        derived: DerivedFacts,
        content_hash: str = "",
        rules_dir: Path | None = None,
    ) -> None:
        self._segments = dict(segments)
        self.base_derived = replace(derived, segments={})
        self.hash = content_hash  # of the file's bytes; "" without a file
        self.rules_dir = rules_dir

    def __getitem__(self, name: str) -> Segment:
        return self._segments[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._segments)

    def __len__(self) -> int:
        return len(self._segments)

    def names(self) -> list[str]:
        """The segment names in file order."""
        return list(self._segments)

    def derived_for(self, names: list[str] | tuple[str, ...] | None = None) -> DerivedFacts:
        """The folder's derived facts, carrying the membership of these segments (all
        when None): what careflow.facts.compute_facts needs to compute them."""
        wanted = self.names() if names is None else names
        return replace(
            self.base_derived, segments={name: self._segments[name].when for name in wanted}
        )


def read_segments(rules_dir: Path, derived: DerivedFacts) -> tuple[SegmentBook, list[RuleError]]:
    """The segments of `rules_dir` (none without the file) and every mistake in the file.

    `derived` are the folder's derived facts (conditions may name them). Segments with
    mistakes are left out of the book; the others are usable.
    """
    path = rules_dir / SEGMENTS_FILE_NAME
    if not path.is_file():
        return SegmentBook({}, derived=derived, rules_dir=rules_dir), []
    try:
        content = read_operator_file(path)
    except OperatorFileTooLarge as error:
        return SegmentBook({}, derived=derived, rules_dir=rules_dir), [
            RuleError(str(path), 1, 1, str(error))
        ]
    except OSError as error:
        return SegmentBook({}, derived=derived, rules_dir=rules_dir), [
            RuleError(str(path), 1, 1, f"cannot read the file: {error.strerror}")
        ]
    segments, errors = parse_segments(str(path), content, derived)
    book = SegmentBook(
        segments,
        derived=derived,
        content_hash=hashlib.sha256(content).hexdigest(),
        rules_dir=rules_dir,
    )
    return book, errors


def parse_segments(
    path: str, content: bytes, derived: DerivedFacts
) -> tuple[dict[str, Segment], list[RuleError]]:
    """The usable segments of one segments.yaml and every mistake in it."""
    start = Position.start_of(path)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return {}, [start.error(f"the file is not UTF-8 text ({error.reason})")]
    document, errors = read_yaml(path, text)
    if errors:
        return {}, errors
    if document is None:
        return {}, []
    if not isinstance(document, Mapping):
        return {}, [
            start.error(f"expected 'segments:' with named segments, got {describe(document)}")
        ]
    for key in document:
        if key != "segments":
            errors.append(
                key_position(path, document, key).error(
                    f"unknown key {key!r}{closest(str(key), ['segments'])} (expected: segments)"
                )
            )
    node = document.get("segments")
    if node is None:
        return {}, errors
    if not isinstance(node, Mapping):
        errors.append(
            value_position(path, document, "segments").error(
                f"segments: expected named segments (name: description, when), got {describe(node)}"
            )
        )
        return {}, errors
    facts = derived.schema
    segments: dict[str, Segment] = {}
    for name, spec in node.items():
        segment = _segment(path, node, name, spec, facts, errors)
        if segment is not None:
            segments[segment.name] = segment
    return segments, errors


def _segment(
    path: str,
    parent: Mapping[object, object],
    name: object,
    spec: object,
    facts: Mapping[str, FactDefinition],
    errors: list[RuleError],
) -> Segment | None:
    name_pos = key_position(path, parent, name)
    if not isinstance(name, str) or not _NAME.match(name):
        errors.append(
            name_pos.error(
                f"segment name {name!r}: lower-case letters, digits and _, starting with a "
                "letter (e.g. vip_customers)"
            )
        )
        return None
    if not isinstance(spec, Mapping):
        errors.append(
            value_position(path, parent, name).error(
                f"segment {name}: expected description: and when:, got {describe(spec)}"
            )
        )
        return None
    before = len(errors)
    for key in spec:
        if key not in SEGMENT_KEYS:
            errors.append(
                key_position(path, spec, key).error(
                    f"unknown segment key {key!r}{closest(str(key), SEGMENT_KEYS)} "
                    f"(expected one of: {', '.join(SEGMENT_KEYS)})"
                )
            )
    description = spec.get("description")
    if "description" not in spec:
        errors.append(name_pos.error(f"segment {name}: missing 'description' (who is in it)"))
    elif not isinstance(description, str) or not description.strip():
        errors.append(
            value_position(path, spec, "description").error(
                f"segment {name}: description: expected text, got {describe(description)}"
            )
        )
    if "when" not in spec:
        errors.append(
            name_pos.error(f"segment {name}: missing 'when' (the conditions of its members)")
        )
        return None
    condition, problems = parse_condition(
        path,
        spec["when"],
        value_position(path, spec, "when"),
        facts=facts,
        segments=None,
    )
    errors += problems
    if condition is not None:
        for leaf in leaves(condition):
            if leaf.fact in EVENT_FACTS:
                errors.append(
                    leaf.pos.error(
                        f"segment {name}: {leaf.fact} is about the event being handled; a "
                        "segment is about the customer at any time (use it in a rule instead)"
                    )
                )
    if len(errors) > before or condition is None:
        return None
    return Segment(name, str(description), condition, name_pos)
