"""Errors in rule files, each pointing at the line and column to fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from careflow.config_files import MAX_PROBLEMS, bounded


@dataclass(frozen=True, order=True)
class RuleError:
    """One mistake in a rule file; `str()` gives `path:line:col: message` (1-based)."""

    path: str
    line: int
    col: int
    message: str

    def __post_init__(self) -> None:
        # A message may quote what the file holds: bounded, so that neither the worker's
        # log nor the console's Rules page grows with a pasted blob.
        object.__setattr__(self, "message", bounded(self.message))

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class RuleFileError(Exception):
    """Rule files that cannot be used; `.errors` holds the mistakes found, in file order
    (at most `MAX_PROBLEMS`, then one saying how many more there were)."""

    def __init__(self, errors: list[RuleError]) -> None:
        ordered = sorted(errors)
        self.errors = ordered[:MAX_PROBLEMS]
        if len(ordered) > MAX_PROBLEMS:
            last = ordered[MAX_PROBLEMS]
            self.errors.append(
                RuleError(
                    last.path,
                    last.line,
                    last.col,
                    f"... and {len(ordered) - MAX_PROBLEMS} more problems from here on",
                )
            )
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
