"""What request handlers need, handed to the app by whoever runs it (`careflow up`, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from careflow.store import Database

if TYPE_CHECKING:
    from careflow.intake.direct import DirectEvaluation
    from careflow.releases.follower import ReleaseFollower


class ApiState:
    """The store, the Temporal client and the settings the handlers use."""

    def __init__(
        self,
        db: Database,
        client: Client,
        task_queue: str,
        secret_key: str,
        *,
        api_token: str | None = None,
        follower: ReleaseFollower | None = None,
        direct: DirectEvaluation | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.task_queue = task_queue
        self.secret_key = secret_key
        # CAREFLOW_API_TOKEN: when set, the staff endpoints need it (careflow/api/auth.py).
        self.api_token = api_token
        # The active release this process serves (careflow/releases/); None: the
        # configured folders, as tests use.
        self.follower = follower
        # The direct event path (CAREFLOW_EVENT_PATH=direct, careflow/intake/direct.py):
        # events' rules run in this process; None: each event starts its workflow.
        self.direct = direct

    def rules_dir(self, configured: Path) -> Path:
        """The rules folder to read: the served release's, else `configured`."""
        return self.follower.rules_dir if self.follower is not None else configured


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.careflow
    return state


State = Annotated[ApiState, Depends(_state)]
