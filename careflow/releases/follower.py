"""Keeping one process on the store's active release.

Every worker and API process has a `ReleaseFollower`. It asks the store which release
is active (one indexed row) at most every `poll_interval` seconds in the background,
and again before every rule evaluation, so a decision made after an activation is
committed is made by the new release, on every machine. A new release's files are
read from the store and written to this process's own disk (materialize.py), its rule
book compiled, and only then is it served: the rule book and the release id change
together, so every decision records the release that made it.

The process's loaders (journeys, outreach policy, holdout, tiers, templates) read
`rules_dir` and `templates_dir`, which lie below one symbolic link of this follower's
own; switching releases points the link at the new release's folder in one atomic
rename, and each loader, which re-reads a file when its path or time changes, follows
within its recheck interval (a second).

Before any release is active, the process serves the local folders it was configured
with, following their edits as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from careflow.releases.bundle import RULES_PREFIX, TEMPLATES_PREFIX
from careflow.releases.materialize import local_view, materialize, point_link, remove_link
from careflow.releases.repository import active_release_id, release_files
from careflow.rules import LiveRuleBook, RuleBook, RuleFileError, load_rulebook
from careflow.rules.errors import RuleError
from careflow.rules.references import References
from careflow.store import Database

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0

# The references a release's rules are checked against, from its templates and rules
# folders; handed in by the process (careflow.rule_references.folder_references), so
# that this module, which the worker's activities use, imports no workflows.
ReferencesFor = Callable[[Path, Path], References]


class ReleaseRuleBook(LiveRuleBook):
    """The rule book of the release a follower serves; the local folder's before one."""

    def __init__(self, local_rules: Path, *, references: References) -> None:
        super().__init__(local_rules, references=references)
        self._release: tuple[RuleBook, str] | None = None

    def serve(self, rulebook: RuleBook, release_id: str) -> None:
        """Serve `rulebook` as release `release_id` from now on."""
        self._release = (rulebook, release_id)
        self.loaded_at = datetime.now(UTC)
        self.last_errors = []

    def current(self) -> RuleBook:
        return self.current_release()[0]

    def current_release(self) -> tuple[RuleBook, str | None]:
        release = self._release
        if release is None:
            return super().current(), None
        return release


class ReleaseFollower:
    """Serves the active release of the store to one process (see the module's docstring)."""

    def __init__(
        self,
        db: Database,
        *,
        cache_dir: Path,
        local_rules: Path,
        local_templates: Path,
        references: ReferencesFor,
        poll_interval: float = POLL_SECONDS,
    ) -> None:
        self.db = db
        self.cache_dir = cache_dir
        self.poll_interval = poll_interval
        name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._view_name = f"local-{name}"
        # This follower's own link: `rules_dir` and `templates_dir` are below it.
        self.link = cache_dir / "live" / name
        self.rules_dir = self.link / RULES_PREFIX
        self.templates_dir = self.link / TEMPLATES_PREFIX
        self.references = references
        self.rulebook = ReleaseRuleBook(
            local_rules, references=references(local_templates, local_rules)
        )
        self._local = (local_rules, local_templates)
        self.release_id: str | None = None
        # A release this process could not load (the last errors are on `rulebook`).
        self._rejected: str | None = None
        self._checked_at = -float("inf")
        self._lock = asyncio.Lock()

    def served_release(self) -> str | None:
        """The id of the release served now (None: the local folders, before any)."""
        return self.release_id

    async def start(self) -> None:
        """Serve the active release (or the local folders while none is active)."""
        view = await asyncio.to_thread(local_view, *self._local, self.cache_dir, self._view_name)
        point_link(self.link, view)
        await self.sync()

    def close(self) -> None:
        """Remove this follower's link and local view (the release folders stay cached)."""
        remove_link(self.link)
        shutil.rmtree(self.cache_dir / self._view_name, ignore_errors=True)

    async def sync(self) -> str | None:
        """Switch to the store's active release if it changed; the id served now."""
        self._checked_at = time.monotonic()
        active = await active_release_id(self.db)
        if active is None or active in (self.release_id, self._rejected):
            return self.release_id
        async with self._lock:
            if active != self.release_id:
                await self._switch(active)
        return self.release_id

    async def sync_if_due(self) -> str | None:
        """`sync`, unless one ran within the poll interval."""
        if time.monotonic() - self._checked_at < self.poll_interval:
            return self.release_id
        return await self.sync()

    async def run(self) -> None:
        """Poll the store until cancelled; a failing poll is logged and tried again."""
        while True:
            try:
                await self.sync_if_due()
            except Exception:  # the store may be briefly away; keep serving what we have
                log.exception("could not read the active release; keeping %s", self.release_id)
            await asyncio.sleep(self.poll_interval)

    async def _switch(self, release_id: str) -> None:
        files = await release_files(self.db, release_id)
        folder = await asyncio.to_thread(materialize, files, self.cache_dir, release_id)
        try:
            rulebook = await asyncio.to_thread(
                load_rulebook,
                folder / RULES_PREFIX,
                references=self.references(folder / TEMPLATES_PREFIX, folder / RULES_PREFIX),
            )
        except RuleFileError as error:
            self._reject(release_id, error.errors)
            return
        point_link(self.link, folder)
        self.rulebook.serve(rulebook, release_id)
        log.info("serving release %s (was %s)", release_id[:12], (self.release_id or "-")[:12])
        self.release_id = release_id
        self._rejected = None

    def _reject(self, release_id: str, errors: list[RuleError]) -> None:
        # Only a release checked by another careflow version can get here (the gate
        # refuses a broken draft): keep serving the last good one, and say why.
        self._rejected = release_id
        self.rulebook.last_errors = errors
        log.error(
            "release %s rejected by this process (keeping %s):\n%s",
            release_id[:12],
            (self.release_id or "the local folders")[:12],
            "\n".join(str(problem) for problem in errors),
        )


async def start_follower(
    db: Database,
    stack: contextlib.AsyncExitStack,
    *,
    cache_dir: Path,
    local_rules: Path,
    local_templates: Path,
    references: ReferencesFor,
) -> ReleaseFollower:
    """A started follower polling in the background; stopped and removed with `stack`."""
    follower = ReleaseFollower(
        db,
        cache_dir=cache_dir,
        local_rules=local_rules,
        local_templates=local_templates,
        references=references,
    )
    stack.callback(follower.close)
    await follower.start()
    poller = asyncio.create_task(follower.run(), name="careflow-release-follower")
    stack.callback(poller.cancel)
    return follower
