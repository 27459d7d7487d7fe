"""No recorded history is ever edited or deleted once committed (checked against git)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.workflows.harness import HISTORIES_DIR, refuse_existing_history
from tests.workflows.history_ledger import (
    APPEND_ONLY_SINCE,
    HISTORIES_PATH,
    LedgerUnavailable,
    history_violations,
)

REPO = HISTORIES_DIR.parent.parent


def _ledger_or_skip(repo: Path) -> list[str]:
    try:
        return history_violations(repo)
    except LedgerUnavailable as reason:
        # CI runs on a full clone; only a local unpacked copy may lack the history.
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"cannot check histories against git: {reason}")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_no_recorded_history_was_edited_or_deleted() -> None:
    """Fails CI when a change edits, re-records or deletes a history: record a new one
    beside it instead (and put the workflow change behind `workflow.patched`)."""
    assert _ledger_or_skip(REPO) == []


@pytest.fixture
def scratch_clone(tmp_path: Path) -> Path:
    """A full-history clone of this checkout's HEAD to break histories in."""
    _ledger_or_skip(REPO)
    clone = tmp_path / "clone"
    # --shared borrows the objects: a full-history clone in well under a second.
    _git(tmp_path, "clone", "--quiet", "--shared", "--no-checkout", str(REPO), str(clone))
    _git(clone, "checkout", "--quiet", _git(REPO, "rev-parse", "HEAD").strip())
    for name in ("user.name", "user.email"):
        _git(clone, "config", name, "careflow-test")
    assert history_violations(clone) == []
    return clone


def _a_history_of_main(clone: Path) -> Path:
    """A history main already held when the rule began: the oldest kind there is."""
    listed = _git(clone, "ls-tree", "--name-only", APPEND_ONLY_SINCE, f"{HISTORIES_PATH}/")
    return clone / sorted(listed.split())[0]


def _edit(path: Path) -> None:
    """What a re-recording does: the same workflow, different events."""
    history = json.loads(path.read_text(encoding="utf-8"))
    history["events"] = history["events"][:-1]
    path.write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")


def test_an_edited_history_is_reported_committed_or_not(scratch_clone: Path) -> None:
    history = _a_history_of_main(scratch_clone)
    name = history.relative_to(scratch_clone).as_posix()
    _edit(history)
    assert history_violations(scratch_clone) == [
        f"{name}: edited in the working tree (recorded in {APPEND_ONLY_SINCE[:10]})"
    ]
    _git(scratch_clone, "commit", "--quiet", "-am", "re-record a history")
    assert history_violations(scratch_clone) == [
        f"{name}: changed in a commit after it was recorded in {APPEND_ONLY_SINCE[:10]}"
    ]


def test_a_deleted_history_is_reported_and_a_new_one_is_not(scratch_clone: Path) -> None:
    history = _a_history_of_main(scratch_clone)
    name = history.relative_to(scratch_clone).as_posix()
    (history.parent / "brand_new_v9.json").write_text("{}\n", encoding="utf-8")
    _git(scratch_clone, "add", "-A")
    _git(scratch_clone, "commit", "--quiet", "-m", "a new history is fine")
    new_commit = _git(scratch_clone, "rev-parse", "HEAD").strip()
    assert history_violations(scratch_clone) == []
    history.unlink()
    assert history_violations(scratch_clone) == [
        f"{name}: deleted in the working tree (recorded in {APPEND_ONLY_SINCE[:10]})"
    ]
    _git(scratch_clone, "commit", "--quiet", "-am", "drop a history")
    (scratch_clone / HISTORIES_PATH / "brand_new_v9.json").write_text("{ }\n", encoding="utf-8")
    _git(scratch_clone, "commit", "--quiet", "-am", "and touch the new one")
    assert history_violations(scratch_clone) == [
        f"{HISTORIES_PATH}/brand_new_v9.json: changed in a commit after it was"
        f" recorded in {new_commit[:10]}",
        f"{name}: deleted in a commit after it was recorded in {APPEND_ONLY_SINCE[:10]}",
    ]


def test_recording_refuses_to_overwrite_a_history(tmp_path: Path) -> None:
    existing = tmp_path / "retention_offer_goal_met.json"
    existing.write_text("{}\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="append-only"):
        refuse_existing_history(existing)
    assert existing.read_text(encoding="utf-8") == "{}\n"
    refuse_existing_history(tmp_path / "retention_offer_goal_met_v3.json")
