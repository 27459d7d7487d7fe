"""Event types operations declare in `rules/events.yaml`, beyond the built-in six."""

from careflow.custom_events.declarations import (
    BUILT_IN_EVENT_TYPES,
    EVENTS_FILE_NAME,
    EventDeclaration,
    EventDeclarations,
    EventsFileError,
    PropertyDeclaration,
    load_event_declarations,
)

__all__ = [
    "BUILT_IN_EVENT_TYPES",
    "EVENTS_FILE_NAME",
    "EventDeclaration",
    "EventDeclarations",
    "EventsFileError",
    "PropertyDeclaration",
    "load_event_declarations",
]
