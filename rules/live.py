"""A RuleBook that follows edits to the rule files, keeping the last good one on mistakes."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from careflow.custom_events import EVENTS_FILE_NAME
from careflow.rules.derived_facts import DERIVED_FACTS_FILE_NAME
from careflow.rules.errors import RuleError, RuleFileError
from careflow.rules.references import References
from careflow.rules.rulebook import RULE_FILE_PATTERN, RuleBook, load_rulebook
from careflow.rules.segments import SEGMENTS_FILE_NAME

logger = logging.getLogger(__name__)

# How often the files are looked at, at most: one stat per rule file per second is
# cheap next to a rule evaluation, and an edit is live well within 5 seconds.
CHECK_INTERVAL_SECONDS = 1.0

Signature = tuple[tuple[str, int, int], ...]


class LiveRuleBook:
    """Serves the current RuleBook of a rules folder; reloads when its files change.

    A broken edit is logged with the same messages as `careflow rules check`, kept in
    `last_errors` for the console, and the last good RuleBook keeps serving.
    """

    def __init__(
        self,
        directory: Path,
        *,
        references: References,
        check_interval: float = CHECK_INTERVAL_SECONDS,
    ) -> None:
        self.directory = Path(directory)
        self.references = references
        self.check_interval = check_interval
        self.last_errors: list[RuleError] = []
        # When the RuleBook now serving was loaded (None before the first good load).
        self.loaded_at: datetime | None = None
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._signature: Signature | None = None
        self._rulebook: RuleBook | None = None

    def current(self) -> RuleBook:
        """The RuleBook to use now; raises RuleFileError only if no version ever loaded."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at >= self.check_interval or self._rulebook is None:
                self._checked_at = now
                signature = self._read_signature()
                if signature != self._signature:
                    self._signature = signature
                    self._reload()
            if self._rulebook is None:
                raise RuleFileError(self.last_errors)
            return self._rulebook

    def current_release(self) -> tuple[RuleBook, str | None]:
        """The RuleBook to use now and the release it belongs to: None for a folder of
        files read as they are (a release follower, careflow/releases/, names one)."""
        return self.current(), None

    def _read_signature(self) -> Signature:
        entries: list[tuple[str, int, int]] = []
        # The derived facts, declared events and segments are part of what the rules are
        # checked and evaluated with: an edit to any reloads the book as a rule edit does.
        followed = [*self.directory.glob(RULE_FILE_PATTERN)] + [
            self.directory / name
            for name in (DERIVED_FACTS_FILE_NAME, EVENTS_FILE_NAME, SEGMENTS_FILE_NAME)
        ]
        for path in sorted(followed):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # removed between listing and looking
            entries.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(entries)

    def _reload(self) -> None:
        try:
            rulebook = load_rulebook(self.directory, references=self.references)
        except RuleFileError as error:
            self.last_errors = error.errors
            kept = f"keeping ruleset {self._rulebook.hash[:12]}" if self._rulebook else "no rules"
            logger.error(
                "rule files in %s rejected (%s):\n%s",
                self.directory,
                kept,
                "\n".join(str(problem) for problem in error.errors),
            )
            return
        if self._rulebook is None or rulebook.hash != self._rulebook.hash:
            logger.info("rule files in %s loaded: %s", self.directory, rulebook.hash[:12])
            self.loaded_at = datetime.now(UTC)
        self.last_errors = []
        self._rulebook = rulebook
