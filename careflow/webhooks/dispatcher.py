"""The delivery loop every worker runs: fan events out, send what is due, back off.

It reads `webhooks.yaml` and `staff_alerts.yaml` on each round (edits apply within
a round; a broken edit keeps the last good version, logged), and works only through
the outbox's conditional updates (careflow/webhooks/outbox.py), so several workers
can run it against one store and still send each delivery under its one id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from careflow.config_files import ConfigFileError
from careflow.store import Database
from careflow.webhooks.config import (
    STAFF_ALERTS_FILE_NAME,
    WEBHOOKS_FILE_NAME,
    Endpoint,
    Robot,
    StaffAlertsConfig,
    WebhooksConfig,
    load_staff_alerts_config,
    load_webhooks_config,
)
from careflow.webhooks.outbox import WEBHOOK, Attempt, Due, claim_due, fan_out, finish_attempts
from careflow.webhooks.proxies import ProxyChoice
from careflow.webhooks.senders import post

log = logging.getLogger(__name__)
# How often an idle loop looks for new events: "within seconds" of the change.
POLL_SECONDS = 1.0
# One attempt's time limit, seconds.
ATTEMPT_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Target:
    url: str
    secret: str | None
    pause_after: int


class WebhookDispatcher:
    """Fans out and delivers; `run_once` is one round, `run` loops until stopped."""

    def __init__(
        self,
        db: Database,
        rules_dir: Path,
        *,
        capture_url: str | None = None,
        capture_secret: str | None = None,
    ) -> None:
        self.db = db
        self.webhooks_path = rules_dir / WEBHOOKS_FILE_NAME
        self.staff_path = rules_dir / STAFF_ALERTS_FILE_NAME
        self.capture_url = capture_url
        self.capture_secret = capture_secret
        # Made at the first attempt: a session belongs to the event loop it is made on.
        self._session: aiohttp.ClientSession | None = None
        self._proxies = ProxyChoice()
        self._stopping = asyncio.Event()
        self._last_good: tuple[WebhooksConfig, StaffAlertsConfig] = (
            WebhooksConfig(),
            StaffAlertsConfig(),
        )

    def configs(self) -> tuple[WebhooksConfig, StaffAlertsConfig]:
        """Both files as they are now, or the last good version of a broken one."""
        webhooks, staff = self._last_good
        try:
            webhooks = load_webhooks_config(self.webhooks_path)
        except ConfigFileError as error:
            log.warning("%s", error)
        try:
            staff = load_staff_alerts_config(self.staff_path)
        except ConfigFileError as error:
            log.warning("%s", error)
        self._last_good = (webhooks, staff)
        return webhooks, staff

    async def run_once(self, now: datetime | None = None) -> int:
        """Fan out new events and make one attempt at each due delivery; attempts made."""
        now = now or datetime.now(UTC)
        webhooks, staff = self.configs()
        await fan_out(self.db, webhooks, staff, now, capture=self.capture_url is not None)
        due = await claim_due(self.db, now)
        await self._attempt_and_record(
            [self._attempt(item, webhooks, staff, now) for item in due], now
        )
        return len(due)

    async def _attempt_and_record(
        self, attempts: list[Coroutine[Any, Any, Attempt]], now: datetime
    ) -> None:
        """Run the round's attempts side by side, recording each group that finished
        together as soon as it has (a group commit).

        Recording an attempt as soon as it finishes is what bounds a crash's repeats
        to the attempts really in flight: a delivered attempt left waiting for the
        round's slowest would be sent again too. Grouping keeps the store's cost near
        one transaction per round, since a fast receiver answers most at once. One
        that raised is left claimed until its lease runs out, then tried again.
        """
        pending: set[asyncio.Task[Attempt]] = {asyncio.ensure_future(one) for one in attempts}
        problem: BaseException | None = None
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                finished = []
                for task in done:
                    if task.exception() is None:
                        finished.append(task.result())
                    else:
                        problem = problem or task.exception()
                await finish_attempts(self.db, finished, now=now)
                _log_delivered(finished)
        finally:
            # The store failed mid-round: what is still posting is left claimed too.
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if problem is not None:
            raise problem

    async def _attempt(
        self, due: Due, webhooks: WebhooksConfig, staff: StaffAlertsConfig, now: datetime
    ) -> Attempt:
        """Post one claimed delivery; how it went, for the round to record."""
        found = self._target(due, webhooks, staff)
        if found is None:
            return Attempt(due, f"{due.endpoint} is no longer configured", pause_after=1, gone=True)
        configured, name = found
        try:
            target = _Target(
                url=configured.resolved_url(self.capture_url, name),
                secret=configured.secret(self.capture_secret)
                if isinstance(configured, Endpoint)
                else configured.secret(),
                pause_after=configured.pause_after_failures,
            )
        except ValueError as problem:
            error: str | None = str(problem)
            pause_after = configured.pause_after_failures
        else:
            pause_after = target.pause_after
            error = await post(
                self.session(),
                kind=due.kind,
                url=target.url,
                proxy=self._proxies.for_url(target.url),
                body=due.body,
                delivery_id=due.delivery_id,
                at=now,
                secret=target.secret,
            )
        if error is None:
            log.debug("delivered %s to %s", due.delivery_id, due.endpoint)
        else:
            log.warning(
                "delivery %s to %s failed (attempt %s): %s",
                due.delivery_id,
                due.endpoint,
                due.attempts,
                error,
            )
        return Attempt(due, error, pause_after)

    def _target(
        self, due: Due, webhooks: WebhooksConfig, staff: StaffAlertsConfig
    ) -> tuple[Endpoint | Robot, str] | None:
        if due.kind == WEBHOOK:
            endpoint = webhooks.endpoints.get(due.endpoint)
            return None if endpoint is None else (endpoint, due.endpoint)
        for team, alerts in staff.teams.items():
            for index, robot in enumerate(alerts.robots):
                if staff.robot_name(team, index) == due.endpoint:
                    return robot, due.endpoint
        return None

    def stop(self) -> None:
        """End `run` after the round in progress."""
        self._stopping.set()

    async def run(self) -> None:
        """Loop until `stop()`; a failing round (the store away a moment) is logged, not fatal."""
        stop = self._stopping
        while not stop.is_set():
            try:
                attempts = await self.run_once()
            except Exception:  # any fault: logged, and the next round tries again
                log.exception("webhook delivery round failed")
                attempts = 0
            if attempts:
                continue  # more may be due right away
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=POLL_SECONDS)

    def session(self) -> aiohttp.ClientSession:
        """The connection pool every attempt goes through (kept alive between rounds)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT), trust_env=False
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _log_delivered(finished: list[Attempt]) -> None:
    """One line per endpoint for a group of recorded deliveries, not one per delivery
    (each is at DEBUG, with its id; a failure is a WARNING of its own)."""
    counts = Counter(attempt.due.endpoint for attempt in finished if attempt.error is None)
    for endpoint, count in sorted(counts.items()):
        log.info("delivered %d to %s", count, endpoint)
