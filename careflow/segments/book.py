"""Loading a rules folder's segments, checked against the facts its rules may name.

The file's shape and its checks are the rules side (rules/segments.py, so that rule
files can name segments with `in_segment:`); this module is what the CLI, the
console and other features call.
"""

from __future__ import annotations

from pathlib import Path

from careflow.rules.derived_facts import DerivedFactsError, load_derived_facts
from careflow.rules.errors import RuleFileError
from careflow.rules.references import References
from careflow.rules.segments import SEGMENTS_FILE_NAME, Segment, SegmentBook, read_segments

__all__ = [
    "SEGMENTS_FILE_NAME",
    "Segment",
    "SegmentBook",
    "SegmentsFileError",
    "load_segments",
]


class SegmentsFileError(RuleFileError):
    """segments.yaml (or the derived_facts.yaml / events.yaml it reads) has mistakes;
    `.errors` names each as `FILE:LINE:COL`."""


def load_segments(rules_dir: Path, *, references: References | None = None) -> SegmentBook:
    """The segments of `rules_dir/segments.yaml`; an empty book without the file.

    Conditions are checked against the built-in facts and the folder's derived facts
    (`derived_facts.yaml`, `events.yaml`). Raises SegmentsFileError naming every
    mistake. `references` (careflow/rule_references.py) is accepted for symmetry with
    `load_rulebook`: a segment names facts only, so nothing in it is checked yet.
    """
    del references  # a segment names facts only
    try:
        derived = load_derived_facts(rules_dir)
    except DerivedFactsError as error:
        raise SegmentsFileError(error.errors) from None
    book, errors = read_segments(rules_dir, derived)
    if errors:
        raise SegmentsFileError(errors)
    return book
