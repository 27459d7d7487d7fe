"""Errors in rule files, each pointing at the line and column to fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class RuleError:
    """One mistake in a rule file; `str()` gives `path:line:col: message` (1-based)."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class RuleFileError(Exception):
    """Rule files that cannot be used; `.errors` holds every mistake found, in file order."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = sorted(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


@dataclass(frozen=True)
class Position:
    """Where something is in a rule file (1-based), so errors can point at it."""

    path: str
    line: int
    col: int

    def error(self, message: str) -> RuleError:
        """A RuleError at this position."""
        return RuleError(self.path, self.line, self.col, message)

    @classmethod
    def start_of(cls, path: Path | str) -> Position:
        """The first character of a file: for mistakes about the file as a whole."""
        return cls(str(path), 1, 1)
