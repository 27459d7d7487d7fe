"""The worker's sandbox runner (careflow/sandbox_runner.py) is Temporal's, with its glue
code compiled once: checked against the installed SDK on every run, since it relies
on how that SDK drives a sandboxed instance."""

from __future__ import annotations

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from careflow.sandbox_runner import compiled_glue
from careflow.worker import WORKFLOW_RUNNER
from careflow.workflows.registry import WORKFLOWS
from tests.workflows.harness import HISTORIES_DIR


async def test_replaying_journeys_reuses_a_handful_of_compiled_glue_sources() -> None:
    # Replays go through the worker's runner exactly as live workflow tasks do.
    names = ["complaint_escalation_reopened", "care_message_birthday", "retention_offer_sent"]
    histories = [
        WorkflowHistory.from_json(name, (HISTORIES_DIR / f"{name}.json").read_text("utf-8"))
        for name in names
        if (HISTORIES_DIR / f"{name}.json").exists()
    ]
    assert len(histories) >= 2, "pick histories that are checked in"
    compiled_glue.cache_clear()
    replayer = Replayer(workflows=WORKFLOWS, workflow_runner=WORKFLOW_RUNNER)
    for history in histories:
        await replayer.replay_workflow(history)
    used = compiled_glue.cache_info()
    # If the SDK stops running its glue through `_run_code` as source strings, nothing
    # is compiled here and this runner saves nothing: time to drop it.
    assert used.misses > 0, "the SDK no longer hands _run_code source strings"
    # The sources are the SDK's few fixed ones and one import per workflow class, not
    # one per workflow run or activation; each was compiled once and reused after.
    assert used.currsize <= len(WORKFLOWS) + 6
    assert used.hits > 5 * used.misses
