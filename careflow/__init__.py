"""careflow: rules and durable workflows for automated customer care."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("careflow")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"
