"""`rules/derived_facts.yaml`: windowed facts operations write over any event.

A derived fact aggregates one event type (built in, or declared in `events.yaml`),
or one of its properties, over a window that ends at the time of evaluation:

    complaints_last_7d:   {count: complaint_opened, within: 7d}
    high_complaints_30d:  {count: complaint_opened, where: {severity: high}, within: 30d}
    points_last_30d:      {sum: points_earned.points, within: 30d}

Aggregates: count, sum, avg, min, max, last, first. `within` (minutes `m`, hours `h`,
days `d`; optional: all time when left out) takes events after `at - within` up to
and including `at`; `older_than` leaves out the newest part of that window;
`where` keeps the events whose properties have the given values (a value or a list
of values); `minus` subtracts a second aggregate (a points balance). Each fact has
a type from its aggregate and property (count: integer; sum and avg: number; min,
max, last, first: the property's), so rules are checked against it like any
built-in fact. `careflow.facts.windowed` computes them in SQL as of a time.

This module is the rules side: the file's shape, every mistake as `FILE:LINE:COL`,
and the fact definitions. It is re-read when it (or `events.yaml`) changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from careflow.config_files import (
    OperatorFileTooLarge,
    describe_validation_errors,
    parse_operator_yaml,
    read_operator_file,
    yaml_problem,
)
from careflow.custom_events import (
    EVENTS_FILE_NAME,
    EventDeclarations,
    EventsFileError,
    PropertyDeclaration,
    load_event_declarations,
)
from careflow.rules.errors import RuleError
from careflow.rules.facts import FACTS_BY_NAME, SEVERITIES, FactDefinition, FactType
from careflow.rules.model import Condition

DERIVED_FACTS_FILE_NAME = "derived_facts.yaml"
Aggregate = Literal["count", "sum", "avg", "min", "max", "last", "first"]
AGGREGATES: tuple[Aggregate, ...] = ("count", "sum", "avg", "min", "max", "last", "first")
_DURATION = re.compile(r"^(\d{1,6})\s*([mhd])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# The built-in events windowed facts can read, with the properties each offers
# (careflow.facts.windowed maps them to the store's columns).
BUILT_IN_SOURCES: dict[str, dict[str, PropertyDeclaration]] = {
    "order_placed": {
        "amount": PropertyDeclaration(type="number"),
        "items": PropertyDeclaration(type="string"),
    },
    "complaint_opened": {
        "severity": PropertyDeclaration(type="enum", values=SEVERITIES),
        "channel": PropertyDeclaration(type="string"),
    },
    "complaint_resolved": {
        "severity": PropertyDeclaration(type="enum", values=SEVERITIES),
        "channel": PropertyDeclaration(type="string"),
    },
    "survey_answered": {"score": PropertyDeclaration(type="integer")},
}
_FACT_TYPES: dict[str, FactType] = {
    "string": "text",
    "enum": "text",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
}


def parse_duration(value: object) -> timedelta:
    """`30d`, `12h`, `90m` as a timedelta; ValueError saying what is expected."""
    match = _DURATION.match(str(value).strip()) if isinstance(value, str | int) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"expected a duration such as 7d, 24h or 90m (days, hours, minutes), got {value!r}"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
WhereValue = str | int | float | bool
Where = dict[str, WhereValue | list[WhereValue]]


def _fact_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"fact name {name!r}: lower-case letters, digits and _, starting with a letter"
        )
    if name in FACTS_BY_NAME:
        raise ValueError(f"{name!r} is a built-in fact; give the derived fact another name")
    return name


@dataclass(frozen=True)
class Source:
    """What an aggregate reads: an event type, and one of its properties (or none)."""

    event: str
    property: str | None
    declaration: PropertyDeclaration | None  # the property's, when one is named


class AggregateSpec(BaseModel):
    """One aggregate over a window: `minus` and the fact itself are written this way."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: str | None = None
    sum: str | None = None
    avg: str | None = None
    min: str | None = None
    max: str | None = None
    last: str | None = None
    first: str | None = None
    within: Duration | None = None
    older_than: Duration | None = None
    where: Where = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_aggregate(self, info: ValidationInfo) -> Self:
        given = [name for name in AGGREGATES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "name exactly one aggregate: count, sum, avg, min, max, last or first "
                f"(got {', '.join(given) or 'none'})"
            )
        if self.older_than is not None and (self.within is None or self.older_than >= self.within):
            raise ValueError("older_than must be shorter than within (it skips the newest part)")
        source = self.source(_declarations(info))
        self._check_where(source.event, _declarations(info))
        if self.aggregate in ("sum", "avg") and (
            source.declaration is None or source.declaration.type not in ("number", "integer")
        ):
            raise ValueError(
                f"{self.aggregate} needs a number property, e.g. {self.aggregate}: "
                "points_earned.points"
            )
        if self.aggregate in ("min", "max", "last", "first"):
            if source.declaration is None:
                raise ValueError(f"{self.aggregate} needs a property, e.g. order_placed.amount")
            if source.declaration.type == "datetime":
                raise ValueError(f"{self.aggregate} of a datetime property is not supported")
            if self.aggregate in ("min", "max") and source.declaration.type not in (
                "number",
                "integer",
            ):
                raise ValueError(f"{self.aggregate} needs a number property")
        return self

    @property
    def aggregate(self) -> Aggregate:
        return next(name for name in AGGREGATES if getattr(self, name) is not None)

    @property
    def target(self) -> str:
        value = getattr(self, self.aggregate)
        assert isinstance(value, str)
        return value

    def source(self, declarations: EventDeclarations) -> Source:
        """The event and property the aggregate reads; ValueError when unknown."""
        event, _, prop = self.target.partition(".")
        properties = _properties_of(event, declarations)
        if not prop:
            return Source(event, None, None)
        if prop not in properties:
            raise ValueError(
                f"{event} has no property {prop!r} (it has: {', '.join(properties) or 'none'})"
            )
        return Source(event, prop, properties[prop])

    def _check_where(self, event: str, declarations: EventDeclarations) -> None:
        properties = _properties_of(event, declarations)
        for name, wanted in self.where.items():
            if name not in properties:
                raise ValueError(
                    f"where: {event} has no property {name!r} "
                    f"(it has: {', '.join(properties) or 'none'})"
                )
            spec = properties[name]
            for value in wanted if isinstance(wanted, list) else [wanted]:
                if spec.type == "enum" and value not in spec.values:
                    raise ValueError(
                        f"where: {name} is one of {', '.join(spec.values)}, got {value!r}"
                    )
                if spec.type == "boolean" and not isinstance(value, bool):
                    raise ValueError(f"where: {name} is true or false, got {value!r}")
                if spec.type in ("number", "integer") and (
                    isinstance(value, bool) or not isinstance(value, int | float)
                ):
                    raise ValueError(f"where: {name} is a number, got {value!r}")
                if spec.type in ("string", "enum", "datetime") and not isinstance(value, str):
                    raise ValueError(f"where: {name} is text, got {value!r}")


class DerivedFactSpec(AggregateSpec):
    """One fact of `derived_facts.yaml`."""

    description: str = ""
    minus: AggregateSpec | None = None

    def fact_type(self, declarations: EventDeclarations) -> FactType:
        if self.aggregate == "count":
            return "integer"
        if self.aggregate in ("sum", "avg"):
            return "number"
        declaration = self.source(declarations).declaration
        assert declaration is not None  # checked on load
        return _FACT_TYPES[declaration.type]

    def fact_values(self, declarations: EventDeclarations) -> tuple[str, ...]:
        """The closed list of values of a `last` or `first` of an enum property."""
        if self.aggregate not in ("last", "first"):
            return ()
        declaration = self.source(declarations).declaration
        return declaration.values if declaration is not None else ()

    @model_validator(mode="after")
    def _minus_fits(self) -> Self:
        if self.minus is not None and self.aggregate not in ("count", "sum"):
            raise ValueError("minus goes with count or sum (a balance: earned minus spent)")
        if self.minus is not None and self.minus.aggregate not in ("count", "sum"):
            raise ValueError("minus takes a count or a sum")
        return self


class DerivedFactsFile(BaseModel):
    """Everything in `rules/derived_facts.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    facts: dict[Annotated[str, AfterValidator(_fact_name)], DerivedFactSpec] = Field(
        default_factory=dict
    )

    @field_validator("facts", mode="before")
    @classmethod
    def _mapping(cls, value: object) -> object:
        return {} if value is None else value


@dataclass(frozen=True)
class DerivedFacts:
    """The derived facts of a rules folder, ready to compute and to check rules against."""

    specs: Mapping[str, DerivedFactSpec]
    declarations: EventDeclarations
    definitions: Mapping[str, FactDefinition]
    # Segments (rules/segments.yaml) whose membership every snapshot carries as the
    # boolean fact `segment_fact(name)`: those the rules of a RuleBook name with
    # `in_segment:` (careflow.facts.compute evaluates them after the other facts).
    segments: Mapping[str, Condition] = field(default_factory=dict)

    @property
    def schema(self) -> dict[str, FactDefinition]:
        """Every fact a rule may name: the built-in ones, then these."""
        schema = dict(FACTS_BY_NAME)
        event_type = FACTS_BY_NAME["event_type"]
        # Declared events trigger rules too: `event_type: points_earned`.
        schema["event_type"] = FactDefinition(
            event_type.name,
            event_type.type,
            event_type.description,
            values=(*event_type.values, *self.declarations.events),
            example=event_type.example,
        )
        schema.update(self.definitions)
        for name in self.segments:
            schema[segment_fact(name)] = segment_definition(name)
        return schema


# The snapshot key of a segment's membership: not a name a rule file can write as a fact.
SEGMENT_FACT_PREFIX = "in_segment:"


def segment_fact(name: str) -> str:
    """The fact that holds True when the customer is in segment `name`."""
    return f"{SEGMENT_FACT_PREFIX}{name}"


def segment_of(fact: str) -> str | None:
    """The segment a membership fact is about; None for any other fact."""
    return fact.removeprefix(SEGMENT_FACT_PREFIX) if fact.startswith(SEGMENT_FACT_PREFIX) else None


def segment_definition(name: str) -> FactDefinition:
    """The boolean fact of a segment's membership."""
    return FactDefinition(
        segment_fact(name), "boolean", f"The customer is in segment {name} (segments.yaml)."
    )


NO_DERIVED_FACTS = DerivedFacts({}, EventDeclarations(), {})


class DerivedFactsError(ValueError):
    """`derived_facts.yaml` or `events.yaml` has mistakes; `errors` names each one."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(error) for error in errors))


def _declarations(info: ValidationInfo) -> EventDeclarations:
    context = info.context or {}
    declarations = context.get("events")
    return declarations if isinstance(declarations, EventDeclarations) else EventDeclarations()


def _properties_of(event: str, declarations: EventDeclarations) -> dict[str, PropertyDeclaration]:
    if event in BUILT_IN_SOURCES:
        return BUILT_IN_SOURCES[event]
    declared = declarations.events.get(event)
    if declared is None:
        known = [*BUILT_IN_SOURCES, *declarations.events]
        raise ValueError(f"unknown event {event!r} (expected one of: {', '.join(known)})")
    return dict(declared.properties)


def describe_fact(name: str, spec: DerivedFactSpec) -> str:
    """The fact's meaning in plain words (its description, or one made from the spec)."""
    if spec.description:
        return spec.description
    words = f"{spec.aggregate} of {spec.target}"
    if spec.where:
        words += " where " + ", ".join(f"{key} = {value}" for key, value in spec.where.items())
    if spec.within is not None:
        words += f" within {_duration_words(spec.within)}"
    if spec.older_than is not None:
        words += f", older than {_duration_words(spec.older_than)}"
    if spec.minus is not None:
        words += f", minus the {spec.minus.aggregate} of {spec.minus.target}"
    return words + "."


def _duration_words(value: timedelta) -> str:
    if value % timedelta(days=1) == timedelta(0):
        return f"{value.days} days"
    if value % timedelta(hours=1) == timedelta(0):
        return f"{value // timedelta(hours=1)} hours"
    return f"{value // timedelta(minutes=1)} minutes"


def load_derived_facts(rules_dir: Path) -> DerivedFacts:
    """The derived facts of `rules_dir` (none without the file); DerivedFactsError naming
    every mistake in it, and in `events.yaml`, as `FILE:LINE:COL`."""
    paths = [rules_dir / DERIVED_FACTS_FILE_NAME, rules_dir / EVENTS_FILE_NAME]
    return _load_cached(tuple(paths), _versions(paths))


def _versions(paths: list[Path]) -> tuple[int, ...]:
    return tuple(path.stat().st_mtime_ns if path.exists() else -1 for path in paths)


@lru_cache(maxsize=16)
def _load_cached(paths: tuple[Path, ...], _versions: tuple[int, ...]) -> DerivedFacts:
    facts_path, events_path = paths
    try:
        declarations = load_event_declarations(events_path)
    except EventsFileError as error:
        raise DerivedFactsError(
            [_as_rule_error(error.path.parent / line) for line in error.problems]
        ) from None
    if not facts_path.exists():
        return DerivedFacts({}, declarations, {})
    document, problems = _read(facts_path)
    if document is None and not problems:
        document = {}
    if not problems:
        try:
            parsed = DerivedFactsFile.model_validate(document, context={"events": declarations})
        except ValidationError as error:
            problems = describe_validation_errors(facts_path, document, error, columns=True)
        else:
            return DerivedFacts(
                parsed.facts,
                declarations,
                {
                    name: FactDefinition(
                        name,
                        spec.fact_type(declarations),
                        describe_fact(name, spec),
                        values=spec.fact_values(declarations),
                    )
                    for name, spec in parsed.facts.items()
                },
            )
    raise DerivedFactsError([_as_rule_error(facts_path.parent / line) for line in problems])


def _read(path: Path) -> tuple[Any, list[str]]:
    try:
        text = read_operator_file(path).decode("utf-8")
    except (OperatorFileTooLarge, UnicodeDecodeError, OSError) as problem:
        return None, [f"{path.name}:1:1: cannot read the file: {problem}"]
    try:
        return parse_operator_yaml(text), []
    except MarkedYAMLError as problem:
        line, col, what = yaml_problem(problem)
        return None, [f"{path.name}:{line}:{col}: not valid YAML: {what}"]
    except YAMLError as problem:
        return None, [f"{path.name}:1:1: not valid YAML: {problem}"]


def _as_rule_error(located: Path) -> RuleError:
    """`FOLDER/NAME:LINE:COL: message` (a problem line under its folder) as a RuleError."""
    text = str(located)
    match = re.match(r"^(.*?):(\d+):(\d+): (.*)$", text, re.DOTALL)
    if match is None:
        return RuleError(text, 1, 1, "invalid")
    return RuleError(match.group(1), int(match.group(2)), int(match.group(3)), match.group(4))
