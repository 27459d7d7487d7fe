"""The end-to-end baseline: careflow's event path as bare Temporal, with no careflow in it.

careflow handles a `complaint_opened` event with two workflows and five activities
before the journey settles on its first timer:

    CustomerEventWorkflow:       evaluate_event -> dispatch_intents (starts the journey)
    ComplaintEscalationWorkflow: send_email (the acknowledgement) -> plan_complaint
                                 -> open_task -> waits on its service-level timers

The baseline has the same shape with empty steps: `BareEventWorkflow` runs a no-op
"evaluate" and a "dispatch" that starts `BareJourneyWorkflow`, which sends a
prebuilt email with aiosmtplib over one reused connection, runs two no-op
activities and sleeps. No store, no rules, no templates: what is left is the cost
of Temporal itself and of SMTP.

    python -m bench.bare_journey ADDRESS TASK_QUEUE SMTP_PORT   # the baseline worker
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

import aiosmtplib
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

STEP_TIMEOUT = timedelta(seconds=30)


@dataclass
class BareEvent:
    event_id: str
    email: str


class BareActivities:
    """The baseline's activities: one real SMTP send, the rest empty."""

    def __init__(self, client: Client, task_queue: str, smtp_port: int) -> None:
        self.client = client
        self.task_queue = task_queue
        self.smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port)
        # One connection carries one SMTP transaction at a time, as in careflow.
        self.lock = asyncio.Lock()
        self.message = EmailMessage()
        self.message["From"] = "care@careflow.localhost"
        self.message["Subject"] = "We have received your request"
        self.message.set_content("Thank you for getting in touch. " * 20)
        self.message.add_alternative(
            "<p>" + "Thank you for getting in touch. " * 20 + "</p>", subtype="html"
        )

    @activity.defn(name="bare_evaluate")
    async def evaluate(self, event: BareEvent) -> BareEvent:
        return event

    @activity.defn(name="bare_dispatch")
    async def dispatch(self, event: BareEvent) -> None:
        await self.client.start_workflow(
            BareJourneyWorkflow.run,
            event,
            id=f"bare-journey-{event.event_id}",
            task_queue=self.task_queue,
        )

    @activity.defn(name="bare_send")
    async def send(self, event: BareEvent) -> None:
        async with self.lock:
            if not self.smtp.is_connected:
                await self.smtp.connect()
            del self.message["To"]
            self.message["To"] = event.email
            await self.smtp.send_message(self.message)

    @activity.defn(name="bare_step")
    async def step(self, event: BareEvent) -> None:
        return None


@workflow.defn(name="BareEventWorkflow")
class BareEventWorkflow:
    @workflow.run
    async def run(self, event: BareEvent) -> None:
        evaluated = await workflow.execute_activity_method(
            BareActivities.evaluate, event, start_to_close_timeout=STEP_TIMEOUT
        )
        await workflow.execute_activity_method(
            BareActivities.dispatch, evaluated, start_to_close_timeout=STEP_TIMEOUT
        )


@workflow.defn(name="BareJourneyWorkflow")
class BareJourneyWorkflow:
    @workflow.run
    async def run(self, event: BareEvent) -> None:
        await workflow.execute_activity_method(
            BareActivities.send, event, start_to_close_timeout=STEP_TIMEOUT
        )
        for _ in range(2):  # careflow's plan_complaint and open_task
            await workflow.execute_activity_method(
                BareActivities.step, event, start_to_close_timeout=STEP_TIMEOUT
            )
        await workflow.sleep(timedelta(days=30))


async def run_worker(address: str, task_queue: str, smtp_port: int) -> None:
    """Serve the baseline until SIGTERM or SIGINT."""
    client = await Client.connect(address)
    activities = BareActivities(client, task_queue, smtp_port)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[BareEventWorkflow, BareJourneyWorkflow],
        activities=[activities.evaluate, activities.dispatch, activities.send, activities.step],
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(run_worker(sys.argv[1], sys.argv[2], int(sys.argv[3])))
