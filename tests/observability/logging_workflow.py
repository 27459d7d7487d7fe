"""A workflow and an activity that log through the SDK's and plain loggers: what
the log filter must put the Temporal ids on."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="log_from_activity")
async def log_from_activity(customer_id: str) -> None:
    logging.getLogger("careflow.test.activity").info("activity for customer %s", customer_id)


@workflow.defn(name="LoggingProbeWorkflow")
class LoggingProbeWorkflow:
    @workflow.run
    async def run(self, customer_id: str) -> None:
        workflow.logger.info("workflow for customer %s", customer_id)
        await workflow.execute_activity(
            log_from_activity, customer_id, start_to_close_timeout=timedelta(seconds=30)
        )
