"""One logging setup for every careflow process: JSON lines or readable text.

`CAREFLOW_LOG_FORMAT=json` writes one JSON object a line (`time`, `level`,
`logger`, `message`, and the Temporal ids when the line concerns a workflow or an
activity); anything else writes readable lines with the same ids at the end.

Every line emitted inside an activity or a workflow carries its ids, whichever
logger emitted it: a filter reads them from `activity.info()` / `workflow.info()`.
Messages and ids are careflow's own: log calls pass ids (customer, workflow,
ledger key), never a name, an address or a phone number, and libraries that
would log addresses (aiosmtpd logs every SMTP command) are held to warnings.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from temporalio import activity, workflow

from careflow.config import Settings

# Record attributes the filter sets, in the order they are shown.
TEMPORAL_FIELDS = (
    "workflow_id",
    "run_id",
    "workflow_type",
    "activity_id",
    "activity_type",
    "attempt",
)

# Fields of the API's access log lines (careflow/api/observability.py).
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "trace_id")

# Loggers that would write personal data or a line per request at INFO.
_HELD_TO_WARNING = (
    "mail.log",  # aiosmtpd (the capture SMTP server): every RCPT TO address
    "uvicorn.access",  # full paths with query strings; careflow.access replaces it
    "httpx",  # full URLs of every request
)


class TemporalContextFilter(logging.Filter):
    """Puts the workflow's and the activity's ids on every record emitted inside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _temporal_ids(record).items():
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


def _temporal_ids(record: logging.LogRecord) -> dict[str, Any]:
    if activity.in_activity():
        info = activity.info()
        return {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "workflow_type": info.workflow_type,
            "activity_id": info.activity_id,
            "activity_type": info.activity_type,
            "attempt": info.attempt,
        }
    if workflow.in_workflow():
        winfo = workflow.info()
        return {
            "workflow_id": winfo.workflow_id,
            "run_id": winfo.run_id,
            "workflow_type": winfo.workflow_type,
            "attempt": winfo.attempt,
        }
    # A record made elsewhere with the SDK's adapters' extras (a thread, say).
    extras = getattr(record, "temporal_activity", None) or getattr(
        record, "temporal_workflow", None
    )
    if isinstance(extras, dict):
        return {
            "workflow_id": extras.get("workflow_id"),
            "run_id": extras.get("workflow_run_id") or extras.get("run_id"),
            "workflow_type": extras.get("workflow_type"),
            "activity_id": extras.get("activity_id"),
            "activity_type": extras.get("activity_type"),
        }
    return {}


class JsonFormatter(logging.Formatter):
    """One JSON object a line; exceptions as a `traceback` string field."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*TEMPORAL_FIELDS, *ACCESS_FIELDS):
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message [workflow_id=... activity_type=...]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = [
            f"{name}={getattr(record, name)}"
            for name in ("workflow_id", "activity_type", "activity_id")
            if getattr(record, name, None) is not None
        ]
        if not ids:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{' '.join(ids)}]{newline}{rest}"


class _CareflowHandler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs; a second call replaces it."""


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    """Set up logging for this process from `CAREFLOW_LOG_FORMAT` and `CAREFLOW_LOG_LEVEL`.

    Every entry point calls this first (before the Temporal runtime is installed:
    the SDK core's logs are forwarded to the `temporalio.core` logger). Replaces
    the handler of an earlier call; returns the new one. `stream` defaults to
    standard error.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _CareflowHandler):
            root.removeHandler(handler)
            handler.close()
    handler = _CareflowHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(TemporalContextFilter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _HELD_TO_WARNING:
        logging.getLogger(name).setLevel(logging.WARNING)
    # The SDK's adapters would append a dict of ids to each message; the filter puts
    # them in fields instead (and in the text format, at the end of the line).
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    return handler
