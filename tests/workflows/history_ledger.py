"""Recorded histories are append-only, checked against git rather than by convention.

A history in `tests/histories/` stands for journeys that were running when it was
recorded; editing or deleting it makes the replay test prove nothing about them
(three commits on main did exactly that before this check). So: every history (`.json`) under
that folder has one content, the one it had in the first commit that held it, in
every later commit, in HEAD and in the working tree, and it never disappears.

The rule is enforced from `APPEND_ONLY_SINCE` on, the main commit where it began:
the histories re-recorded before it are what main holds there, and stay so. Only
commits that descend from it count (`--ancestry-path`), so a branch that forked
earlier and was merged later is judged by the merge, not by its old commits.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path

HISTORIES_PATH = "tests/histories"
# main when the rule started being checked (issue 15).
APPEND_ONLY_SINCE = "42c20dca79a7f6f78502511bf3579810190a8b45"


class LedgerUnavailable(Exception):
    """The checkout cannot answer: not a git repository, or the history is shallow."""


def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],  # noqa: S607 - git from PATH, as CI has it
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise LedgerUnavailable(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _blobs(repo: Path, tree: str) -> dict[str, str]:
    """path -> blob id of every history (a `.json` file) under the histories folder
    of a tree-ish; notes beside them (README.md) may be edited."""
    listing = _git(repo, "ls-tree", "-r", "--full-tree", tree, "--", HISTORIES_PATH)
    blobs = {}
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        if path.endswith(".json"):
            blobs[path] = meta.split()[2]
    return blobs


def _worktree_blobs(repo: Path, paths: list[str]) -> dict[str, str | None]:
    """path -> blob id of the file as it is on disk (None when it is missing)."""
    present = [path for path in paths if (repo / path).is_file()]
    ids = _git(repo, "hash-object", "--stdin-paths", stdin="\n".join(present) + "\n")
    found: dict[str, str | None] = dict.fromkeys(paths)
    found.update(zip(present, ids.split(), strict=True))
    return found


def history_violations(repo: Path, since: str = APPEND_ONLY_SINCE) -> list[str]:
    """Every edit or deletion of a recorded history from `since` to the working tree,
    one line each (`path: what happened`); empty when the folder only ever grew.

    Raises LedgerUnavailable when `repo` is not a git checkout holding `since`
    (a shallow clone, an unpacked archive).
    """
    if _git(repo, "rev-parse", "--is-shallow-repository").strip() == "true":
        raise LedgerUnavailable("shallow clone: fetch the full history (git fetch --unshallow)")
    try:
        _git(repo, "cat-file", "-e", f"{since}^{{commit}}")
    except LedgerUnavailable as missing:
        raise LedgerUnavailable(f"commit {since} is not in this clone") from missing
    later = _git(repo, "rev-list", "--topo-order", "--reverse", "--ancestry-path", f"{since}..HEAD")
    commits = [since, *later.split()]  # oldest first, so `first_seen` names the adder
    # Many commits leave the folder alone: look each distinct folder tree up once.
    folders = _git(
        repo,
        "cat-file",
        "--batch-check=%(objectname)",
        stdin="".join(f"{commit}:{HISTORIES_PATH}\n" for commit in commits),
    ).splitlines()
    contents: dict[str, set[str]] = defaultdict(set)
    first_seen: dict[str, str] = {}
    seen_folders: set[str] = set()
    for commit, folder in zip(commits, folders, strict=True):
        if folder.endswith("missing") or folder in seen_folders:
            continue
        seen_folders.add(folder)
        for path, blob in _blobs(repo, commit).items():
            contents[path].add(blob)
            first_seen.setdefault(path, commit)
    problems = []
    head = _blobs(repo, "HEAD")
    on_disk = _worktree_blobs(repo, sorted(contents))
    for path in sorted(contents):
        recorded = f"recorded in {first_seen[path][:10]}"
        if len(contents[path]) > 1:
            problems.append(f"{path}: changed in a commit after it was {recorded}")
        if path not in head:
            problems.append(f"{path}: deleted in a commit after it was {recorded}")
        elif on_disk[path] is None:
            problems.append(f"{path}: deleted in the working tree ({recorded})")
        elif on_disk[path] != head[path]:
            problems.append(f"{path}: edited in the working tree ({recorded})")
    return problems
