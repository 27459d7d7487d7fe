"""careflow: rules and durable workflows for automated customer care."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Looked up when asked for (`careflow --version`), not at every import of careflow:
    # importlib.metadata costs more than the rest of `careflow --help`.
    if name != "__version__":
        raise AttributeError(f"module 'careflow' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("careflow")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0+unknown"
