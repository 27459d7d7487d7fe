"""Operator-edited YAML configuration files: read, validate, report every mistake with its line.

`rules/tiers.yaml`, `outreach_policy.yaml`, `journeys.yaml` and `holdout.yaml`
are each a pydantic model read through `load_config_file`, which re-reads a file
only when it changed (so the worker follows edits without a restart) and turns
validation errors into `FILE:LINE: field.path: message` lines.

Every operator file, rule files included (rules/yamlfile.py), is read through
`read_operator_file` and `parse_operator_yaml`, which bound what a file can cost:
at most `MAX_FILE_BYTES`, nesting at most `MAX_DEPTH` deep, and no aliases (`*name`).
An alias is the one YAML feature whose cost is not proportional to the file: nine
aliases of nine aliases of ... turn a 1 KB file into millions of values (the "billion
laughs"), which a loader, and every error message that quotes them, would expand.
Operator files never need one (a value is written out where it is used), so an alias
is refused at its line before anything is expanded. `bounded_problems` keeps the
report of a broken file short enough for a log line and the console's Rules page.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent

# Operator files are hand-written: the largest shipped one is a few KB.
MAX_FILE_BYTES = 256 * 1024
# Deeper than any real file, shallow enough that no recursion limit is reached.
MAX_DEPTH = 50
# One problem's text, and how many problems one report lists.
MAX_PROBLEM_CHARS = 400
MAX_PROBLEMS = 50


class OperatorFileTooLarge(ValueError):
    """The file is longer than `MAX_FILE_BYTES`; it was not read past that."""


class _NoAliasComposer(Composer):
    """ruamel's composer, refusing an alias where it is written, before it is expanded."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            raise ComposerError(
                None,
                None,
                f"aliases (*{bounded(str(event.anchor), 40)}) are not allowed in careflow "
                "files; write the value out where it is used",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def read_operator_file(path: Path) -> bytes:
    """The file's bytes; OperatorFileTooLarge past `MAX_FILE_BYTES` (never reading more)."""
    with path.open("rb") as file:
        content = file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise OperatorFileTooLarge(
            f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; operator files are "
            "hand-written and much smaller (split it, or look for a pasted blob)"
        )
    return content


def parse_operator_yaml(text: str, *, preserve_quotes: bool = False) -> Any:
    """The round-trip document (keeping line numbers); YAMLError, with its mark, for a
    syntax error, an alias or nesting deeper than `MAX_DEPTH`."""
    yaml = YAML(typ="rt")
    yaml.Composer = _NoAliasComposer
    yaml.max_depth = MAX_DEPTH
    yaml.preserve_quotes = preserve_quotes
    return yaml.load(text)


def yaml_problem(error: MarkedYAMLError) -> tuple[int, int, str]:
    """The 1-based line and column of a YAML error and what it says, bounded."""
    mark = error.problem_mark or error.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = " ".join(part for part in (error.context, error.problem) if part)
    return line, col, bounded(problem)


def bounded(text: str, limit: int = MAX_PROBLEM_CHARS) -> str:
    """`text`, cut to `limit` characters with a mark saying so."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def bounded_problems(problems: list[str]) -> list[str]:
    """At most `MAX_PROBLEMS` problems, each bounded, and a last line saying how many more."""
    shown = [bounded(problem) for problem in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"... and {len(problems) - MAX_PROBLEMS} more problems")
    return shown


class ConfigFileError(ValueError):
    """A configuration file is missing or invalid; `problems` lists each one with its line."""

    # Says which file this is about, in the message: "invalid outreach policy".
    what: ClassVar[str] = "configuration"

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = bounded_problems(problems)
        super().__init__(f"{path}: invalid {self.what}:\n  " + "\n  ".join(self.problems))


Model = TypeVar("Model", bound=BaseModel)


def load_config_file(
    path: Path,
    model: type[Model],
    error: type[ConfigFileError],
    *,
    empty_ok: bool = False,
    columns: bool = False,
) -> Model:
    """The file at `path` as `model`; raises `error` naming every mistake and its line.

    `empty_ok` lets an empty file mean "all defaults"; `columns` reports each mistake
    as `FILE:LINE:COL:` like the rule files (newer files), instead of `FILE:LINE:`.
    """
    version = file_version(path)
    if version is None:
        raise error(path.resolve(), ["file not found"])
    # Keyed by the path as given and the file's version, not by `path.resolve()`: that
    # is an lstat per path component, and the activities of every event read several
    # files; the resolved path (for messages) is worked out once per version.
    resolved, loaded = _load_cached(path, version, model, empty_ok, columns)
    if isinstance(loaded, tuple):
        raise error(resolved, list(loaded))
    assert isinstance(loaded, model)
    return loaded


def file_version(path: Path) -> tuple[int, int, int, int] | None:
    """What a cache of the file's contents is keyed on (device, inode, mtime and size:
    an edit, or a link pointed elsewhere); None when there is no file."""
    try:
        # Follows symlinks, so the version names the file read, wherever a link points.
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _load_cached(
    given: Path,
    _version: tuple[int, int, int, int],
    model: type[BaseModel],
    empty_ok: bool,
    columns: bool = False,
) -> tuple[Path, BaseModel | tuple[str, ...]]:
    """The resolved path and the validated model, or the problems; cached per file
    version (device, inode, mtime and size: an edit, or a link pointed elsewhere)."""
    path = given.resolve()
    return path, _load(path, model, empty_ok, columns)


def _load(
    path: Path, model: type[BaseModel], empty_ok: bool, columns: bool
) -> BaseModel | tuple[str, ...]:
    try:
        text = read_operator_file(path).decode("utf-8")
    except OperatorFileTooLarge as problem:
        return (f"{path.name}:1: {problem}",)
    except UnicodeDecodeError as problem:
        return (f"{path.name}:1: the file is not UTF-8 text ({problem.reason})",)
    except OSError as problem:
        return (f"{path.name}:1: cannot read the file: {problem.strerror}",)
    try:
        document = parse_operator_yaml(text)
    except MarkedYAMLError as problem:
        line, col, what = yaml_problem(problem)
        where = f"{line}:{col}" if columns else str(line)
        return (f"{path.name}:{where}: not valid YAML: {what}",)
    except YAMLError as problem:
        return (f"{path.name}:1: not valid YAML: {bounded(str(problem))}",)
    if document is None and empty_ok:
        document = {}
    try:
        return model.model_validate(document)
    except ValidationError as problem:
        return tuple(describe_validation_errors(path, document, problem, columns=columns))


def describe_validation_errors(
    path: Path, document: Any, error: ValidationError, *, columns: bool = False
) -> list[str]:
    """Each validation error as `FILE:LINE: field.path: message` (`FILE:LINE:COL:` with
    `columns`)."""
    problems = []
    for item in error.errors():
        location = tuple(item["loc"])
        field = ".".join(str(part) for part in location) or "(top level)"
        message = str(item["msg"]).removeprefix("Value error, ")
        line, col = position_of(document, location)
        where = f"{line}:{col}" if columns else str(line)
        problems.append(f"{path.name}:{where}: {field}: {message}")
    return problems


def position_of(document: Any, location: tuple[Any, ...]) -> tuple[int, int]:
    """The 1-based line and column of the deepest key (or list item) of `location`
    that exists in the YAML."""
    line, col = 1, 1
    node = document
    for part in location:
        lc = getattr(node, "lc", None)
        if lc is None:
            break
        if isinstance(node, dict) and part in node:
            found = lc.key(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            found = lc.item(part)
        else:
            break
        line, col = found[0] + 1, found[1] + 1
        node = node[part]
    return line, col


def _line_of(document: Any, location: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest key of `location` that exists in the YAML."""
    return position_of(document, location)[0]
