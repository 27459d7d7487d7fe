"""Operator-edited YAML configuration files: read, validate, report every mistake with its line.

`rules/tiers.yaml`, `outreach_policy.yaml`, `journeys.yaml` and `holdout.yaml`
are each a pydantic model read through `load_config_file`, which re-reads a file
only when it changed (so the worker follows edits without a restart) and turns
validation errors into `FILE:LINE: field.path: message` lines.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


class ConfigFileError(ValueError):
    """A configuration file is missing or invalid; `problems` lists each one with its line."""

    # Says which file this is about, in the message: "invalid outreach policy".
    what: ClassVar[str] = "configuration"

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: invalid {self.what}:\n  " + "\n  ".join(problems))


Model = TypeVar("Model", bound=BaseModel)


def load_config_file(
    path: Path, model: type[Model], error: type[ConfigFileError], *, empty_ok: bool = False
) -> Model:
    """The file at `path` as `model`; raises `error` naming every mistake and its line.

    `empty_ok` lets an empty file mean "all defaults".
    """
    path = path.resolve()
    try:
        modified = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        raise error(path, ["file not found"]) from None
    loaded = _load_cached(path, modified, model, empty_ok)
    if isinstance(loaded, tuple):
        raise error(path, list(loaded))
    assert isinstance(loaded, model)
    return loaded


@lru_cache(maxsize=32)
def _load_cached(
    path: Path, _modified: int, model: type[BaseModel], empty_ok: bool
) -> BaseModel | tuple[str, ...]:
    """The validated model, or the problems; cached per file version (its mtime)."""
    try:
        document = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except YAMLError as problem:
        return (f"not valid YAML: {problem}",)
    if document is None and empty_ok:
        document = {}
    try:
        return model.model_validate(document)
    except ValidationError as problem:
        return tuple(describe_validation_errors(path, document, problem))


def describe_validation_errors(path: Path, document: Any, error: ValidationError) -> list[str]:
    """Each validation error as `FILE:LINE: field.path: message`."""
    problems = []
    for item in error.errors():
        location = tuple(item["loc"])
        field = ".".join(str(part) for part in location) or "(top level)"
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{path.name}:{_line_of(document, location)}: {field}: {message}")
    return problems


def _line_of(document: Any, location: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest key of `location` that exists in the YAML."""
    line = 1
    node = document
    for part in location:
        lc = getattr(node, "lc", None)
        if lc is None or not isinstance(node, dict) or part not in node:
            break
        line = lc.key(part)[0] + 1
        node = node[part]
    return line
