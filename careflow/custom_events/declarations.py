"""`rules/events.yaml`: the event types operations declare beyond careflow's built-in six.

Each declared type names its properties and their types; intake (`POST /events`,
`careflow event`, `careflow import events`) checks an event's `data` against them,
and windowed facts (`rules/derived_facts.yaml`) aggregate them. The file is read
through `careflow.config_files` (re-read on change, every mistake as
`events.yaml:LINE:COL: field: message`). A missing file declares nothing.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictStr,
    create_model,
    model_validator,
)

from careflow.config import load_settings
from careflow.config_files import ConfigFileError, load_config_file

EVENTS_FILE_NAME = "events.yaml"

# careflow's own event types: their data has a fixed meaning (intake/records.py), so
# events.yaml cannot redeclare them.
BUILT_IN_EVENT_TYPES = (
    "customer_upserted",
    "order_placed",
    "complaint_opened",
    "complaint_resolved",
    "survey_answered",
    "consent_changed",
)
# `daily_scan` is what the `event_type` fact says when no event triggered an evaluation.
RESERVED_NAMES = (*BUILT_IN_EVENT_TYPES, "daily_scan")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
PropertyType = Literal["string", "number", "integer", "boolean", "datetime", "enum"]
MAX_STRING = 1000


class EventsFileError(ConfigFileError):
    """`rules/events.yaml` is invalid; `problems` lists each one with its line and column."""

    what = "event declarations"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PropertyDeclaration(_Strict):
    """One property of a declared event: its type, whether it must be given."""

    type: PropertyType
    required: bool = False
    values: tuple[str, ...] = ()  # an enum's allowed values
    description: str = ""

    @model_validator(mode="after")
    def _values_for_enum(self) -> PropertyDeclaration:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum property needs its values, e.g. values: [low, high]")
        if self.type != "enum" and self.values:
            raise ValueError(f"values are for enum properties, not {self.type}")
        return self


class _Properties(BaseModel):
    """The base of each declared type's data model: only declared properties."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _declared_only(cls, value: object) -> object:
        if isinstance(value, dict):
            unknown = sorted(str(key) for key in value if key not in cls.model_fields)
            if unknown:
                declared = ", ".join(cls.model_fields) or "none"
                raise ValueError(
                    f"undeclared propert{'y' if len(unknown) == 1 else 'ies'} "
                    f"{', '.join(repr(name) for name in unknown)} (declared in "
                    f"rules/events.yaml: {declared})"
                )
        return value


class EventDeclaration(_Strict):
    """One declared event type."""

    description: str = ""
    properties: dict[PropertyName, PropertyDeclaration] = Field(default_factory=dict)

    @cached_property
    def data_model(self) -> type[BaseModel]:
        """The pydantic model an event's `data` is validated with (errors name the property)."""
        fields: dict[str, Any] = {
            name: (_python_type(spec), ... if spec.required else None)
            for name, spec in self.properties.items()
        }
        return create_model("EventProperties", __base__=_Properties, **fields)


def _event_name(name: str) -> str:
    if name in RESERVED_NAMES:
        raise ValueError(
            f"{name!r} is built in (its data is fixed); declare events under new names"
        )
    if not NAME.match(name):
        raise ValueError(
            f"event name {name!r}: lower-case letters, digits and _, starting with a letter, "
            "at most 64 characters"
        )
    return name


def _property_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(
            f"property name {name!r}: lower-case letters, digits and _, starting with a letter"
        )
    return name


EventName = Annotated[str, AfterValidator(_event_name)]
PropertyName = Annotated[str, AfterValidator(_property_name)]


class EventDeclarations(_Strict):
    """Everything in `rules/events.yaml`."""

    events: dict[EventName, EventDeclaration] = Field(default_factory=dict)

    def unknown_type_message(self, event_type: str) -> str:
        """Why `event_type` is refused, naming every type that is accepted."""
        declared = ", ".join(sorted(self.events)) or "none (declare them in rules/events.yaml)"
        return (
            f"unknown event type {event_type!r}: expected a built-in type "
            f"({', '.join(BUILT_IN_EVENT_TYPES)}) or one declared in rules/events.yaml "
            f"({declared})"
        )


def _not_blank(value: object) -> object:
    # An empty CSV cell (or "") means "not given", as in every other import column.
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _not_boolean(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true or false")
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


_BlankIsNone = BeforeValidator(_not_blank)
_TYPES: dict[str, Any] = {
    "string": Annotated[StrictStr, Field(max_length=MAX_STRING)],
    "number": Annotated[float, BeforeValidator(_not_boolean), AfterValidator(_finite)],
    "integer": Annotated[int, BeforeValidator(_not_boolean)],
    "boolean": bool,
    # Stored as ISO 8601 in UTC, so it sorts and compares as text too.
    "datetime": Annotated[
        AwareDatetime,
        AfterValidator(_utc),
        PlainSerializer(lambda value: value.isoformat(), return_type=str),
    ],
}


def _python_type(spec: PropertyDeclaration) -> Any:
    base = Literal[spec.values] if spec.type == "enum" else _TYPES[spec.type]
    return Annotated[base | None, _BlankIsNone]


def default_events_path() -> Path:
    """`events.yaml` in the rules folder (`CAREFLOW_RULES_DIR` when set)."""
    return load_settings().rules_dir / EVENTS_FILE_NAME


NO_DECLARATIONS = EventDeclarations()


def load_event_declarations(path: Path | None = None) -> EventDeclarations:
    """The declared event types; none when the file does not exist. Re-read on change;
    raises EventsFileError naming every mistake as `events.yaml:LINE:COL`."""
    path = path or default_events_path()
    if not path.exists():
        return NO_DECLARATIONS
    return load_config_file(path, EventDeclarations, EventsFileError, empty_ok=True, columns=True)
