"""A release's files: everything operators write, read from a folder, with one content hash.

A release is the whole operator configuration: every YAML file in the rules folder
(rule files, `journeys.yaml`, `outreach_policy.yaml`, `holdout.yaml`, `tiers.yaml`, and
whatever other operator YAML the folder holds: the set is not a fixed list, so a file
type added later is versioned like the rest) and every file of the templates folder.
Paths are stored as `rules/<name>` and `templates/<path>`, with `/` on every platform.

The hash covers every path and every byte, so two folders with the same files have the
same id wherever they were read, and any edit makes a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from careflow.config_files import MAX_FILE_BYTES, OperatorFileTooLarge, read_operator_file

RULES_PREFIX = "rules"
TEMPLATES_PREFIX = "templates"
# Operator data in the rules folder; its Python modules (in a checkout) are code.
RULES_SUFFIXES = (".yaml", ".yml")
# More files than any hand-written configuration has, few enough to read at once.
MAX_FILES = 2000
MAX_TOTAL_BYTES = 32 * 1024 * 1024


class BundleError(ValueError):
    """A folder cannot become a release; `problems` say which file and why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class ReleaseFiles:
    """A release's files by path (`rules/journeys.yaml`), and its content hash."""

    files: Mapping[str, bytes]

    @property
    def id(self) -> str:
        return content_hash(self.files)

    def under(self, prefix: str) -> dict[str, bytes]:
        """The files below `prefix` (`rules`), by their path inside it."""
        start = prefix + "/"
        return {
            path.removeprefix(start): content
            for path, content in self.files.items()
            if path.startswith(start)
        }


def content_hash(files: Mapping[str, bytes]) -> str:
    """SHA-256 over every path and its bytes, in path order (the release id)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        content = files[path]
        # Lengths first: no choice of names and contents can make two bundles alike.
        digest.update(f"{len(path)}:{path}:{len(content)}:".encode())
        digest.update(content)
    return digest.hexdigest()


def _visible(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return not any(part.startswith(".") or part == "__pycache__" for part in parts)


def read_folder(rules_dir: Path, templates_dir: Path) -> ReleaseFiles:
    """The release files of a rules folder and a templates folder.

    Raises BundleError naming each file that cannot be read or is too large.
    """
    sources: list[tuple[str, Path]] = []
    if not rules_dir.is_dir():
        raise BundleError([f"{rules_dir}: not a folder"])
    sources += [
        (f"{RULES_PREFIX}/{PurePosixPath(*path.relative_to(rules_dir).parts)}", path)
        for path in sorted(rules_dir.rglob("*"))
        if path.is_file() and path.suffix in RULES_SUFFIXES and _visible(path, rules_dir)
    ]
    if templates_dir.is_dir():
        sources += [
            (f"{TEMPLATES_PREFIX}/{PurePosixPath(*path.relative_to(templates_dir).parts)}", path)
            for path in sorted(templates_dir.rglob("*"))
            if path.is_file() and _visible(path, templates_dir)
        ]
    if len(sources) > MAX_FILES:
        raise BundleError([f"{rules_dir}: more than {MAX_FILES} files"])
    files: dict[str, bytes] = {}
    problems: list[str] = []
    total = 0
    for name, path in sources:
        try:
            content = read_operator_file(path)
        except OperatorFileTooLarge as error:
            problems.append(f"{path}:1: {error}")
            continue
        except OSError as error:
            problems.append(f"{path}:1: cannot read the file: {error.strerror}")
            continue
        total += len(content)
        files[name] = content
    if total > MAX_TOTAL_BYTES:
        problems.append(f"{rules_dir}: the files add up to more than {MAX_TOTAL_BYTES >> 20} MiB")
    if problems:
        raise BundleError(problems)
    return ReleaseFiles(files)


def safe_relative(path: str) -> PurePosixPath:
    """A stored path as a relative path that stays inside the folder it is written to."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BundleError([f"{path}: a release path must stay inside the release"])
    if relative.parts[0] not in (RULES_PREFIX, TEMPLATES_PREFIX):
        raise BundleError([f"{path}: expected rules/... or templates/..."])
    return relative


__all__ = [
    "MAX_FILE_BYTES",
    "BundleError",
    "ReleaseFiles",
    "content_hash",
    "read_folder",
    "safe_relative",
]
