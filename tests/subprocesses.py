"""Running careflow (or a Python snippet that imports it) in a fresh interpreter, as
a user's shell would: for what only a whole process shows (its exit code, what it
imported, how it ends)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(
    *arguments: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`python ARGUMENTS` to its end, importing this checkout; `env` is added to this
    process's environment. The exit code is the caller's to judge."""
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=timeout,
        check=False,
    )


def run_careflow(
    *arguments: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`careflow ARGUMENTS` as the console script runs it, to its end."""
    return run_python("-m", "careflow", *arguments, env=env, cwd=cwd, timeout=timeout)
