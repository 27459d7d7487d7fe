"""The Temporal SDK runtime of every careflow process: the SDK core's log lines in Python logging.

The SDK's own default runtime writes its Rust core's log lines to standard output,
in the core's format and colours: into whatever a command prints there (a listing
piped to a file, a simulation's report). Every client careflow connects
(`careflow.temporal_connection.connect_temporal`) therefore runs on a runtime that
forwards the core's warnings and errors to a Python logger, where they take the
process's log format and go to standard error. A service installs its runtime
first, with the SDK's metrics (careflow/observability/temporal_metrics.py), and
that one is then the default; any other process gets one without metrics, made on
its first connection.
"""

from __future__ import annotations

import logging
import threading

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

# Where the core's lines go unless a runtime names another logger.
CORE_LOGGER = "temporalio.core"

_default: Runtime | None = None
_lock = threading.Lock()


def core_logging(logger: logging.Logger) -> LoggingConfig:
    """The core's warnings and errors, and the SDK's other errors, through `logger`."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logger),
    )


def set_default_runtime(runtime: Runtime) -> None:
    """Make `runtime` this process's default, for clients made from now on."""
    global _default
    with _lock:
        Runtime.set_default(runtime, error_if_already_set=False)
        _default = runtime


def default_runtime() -> Runtime:
    """The runtime installed with `set_default_runtime`; else, made and installed now,
    one that forwards the core's log lines and exports no metrics."""
    global _default
    with _lock:
        if _default is None:
            _default = Runtime(
                telemetry=TelemetryConfig(
                    logging=core_logging(logging.getLogger(CORE_LOGGER)), metrics=None
                )
            )
            Runtime.set_default(_default, error_if_already_set=False)
        return _default
