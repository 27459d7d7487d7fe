"""The send step (ledger, consent check, render, SMTP) next to a bare aiosmtplib loop.

    python -m bench.send_bench              # 10,000 messages each
    python -m bench.send_bench --messages 1000

Both sides talk to the same aiosmtpd sink on loopback, in the same run:
- baseline: one aiosmtplib connection sending a prebuilt message in a loop;
- careflow: `OutreachActivities.send_email` for distinct journeys (so every call
  writes its ledger row, checks the policy, loads the customer, renders the
  template and delivers over careflow's reused connection), run through
  Temporal's ActivityEnvironment on the SQLite store, 8 sends in flight as in a
  worker (their SMTP exchanges take turns on the one connection).
Target: careflow at least 0.5x the baseline's messages per second.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from temporalio.testing import ActivityEnvironment

from activities.outreach import OutreachActivities, SendEmailInput
from careflow.config import SmtpTarget
from careflow.intake.apply import open_complaint, upsert_customer
from careflow.intake.records import ComplaintFields, CustomerFields
from careflow.outreach.mailer import SmtpDelivery
from careflow.outreach.policy_config import POLICY_FILE_NAME, load_outreach_policy
from careflow.outreach.templates import TemplateRenderer
from careflow.paths import RULES_DIR, TEMPLATES_DIR
from careflow.store import create_database
from tests.smtp_sink import SmtpSink

CONCURRENT_SENDS = 8


@dataclass(frozen=True)
class SendFigures:
    messages: int
    baseline_per_second: float
    careflow_per_second: float

    @property
    def ratio(self) -> float:
        return self.careflow_per_second / self.baseline_per_second


async def bare_loop(port: int, messages: int) -> float:
    """Messages per second for a prebuilt message over one aiosmtplib connection."""
    message = EmailMessage()
    message["From"] = "care@careflow.localhost"
    message["To"] = "customer@example.com"
    message["Subject"] = "We have received your request (case k-1)"
    message.set_content("Thank you for getting in touch. " * 20)
    message.add_alternative(
        "<p>" + "Thank you for getting in touch. " * 20 + "</p>", subtype="html"
    )
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
    await client.connect()
    started = time.perf_counter()
    for number in range(messages):
        message.replace_header("Subject", f"We have received your request (case k-{number})")
        await client.send_message(message)
    elapsed = time.perf_counter() - started
    await client.quit()
    return messages / elapsed


async def careflow_send_step(port: int, messages: int, folder: Path) -> float:
    """Messages per second through careflow's send activity, distinct journeys each."""
    db = create_database(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await db.migrate()
    now = datetime.now(UTC)
    async with db.session() as session:
        customer, _ = await upsert_customer(
            session,
            "bench-c1",
            CustomerFields(
                name="Emma Clarke",
                email="emma@example.com",
                locale="en",
                timezone="Europe/London",
            ),
            now,
        )
        await open_complaint(
            session, customer, ComplaintFields(complaint_id="k-1", subject="Parcel lost"), now
        )
    delivery = SmtpDelivery(SmtpTarget(host="127.0.0.1", port=port))
    activities = OutreachActivities(
        db,
        TemplateRenderer(TEMPLATES_DIR),
        delivery,
        mail_from="careflow <care@careflow.localhost>",
        base_url="http://127.0.0.1:8080",
        secret_key="bench",
        policy=lambda: load_outreach_policy(RULES_DIR / POLICY_FILE_NAME),
    )
    environment = ActivityEnvironment()
    numbers = iter(range(messages))

    async def sender() -> None:
        for number in numbers:
            result = await environment.run(
                activities.send_email,
                SendEmailInput(
                    workflow_id=f"complaint-bench-c1-k-{number}",
                    step_id="ack",
                    customer_id="bench-c1",
                    template_id="complaint_ack",
                    params={"complaint_id": "k-1"},
                ),
            )
            if result.status != "sent":
                raise RuntimeError(f"send {number} was {result.status}: {result.reason}")

    started = time.perf_counter()
    # As in the worker, several sends are in flight at once; their SMTP exchanges
    # still take turns on careflow's one connection, like the baseline's.
    await asyncio.gather(*(sender() for _ in range(CONCURRENT_SENDS)))
    elapsed = time.perf_counter() - started
    await delivery.close()
    await db.dispose()
    return messages / elapsed


async def measure(messages: int) -> SendFigures:
    sink = SmtpSink()
    sink.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            baseline = await bare_loop(sink.port, messages)
            careflow = await careflow_send_step(sink.port, messages, Path(folder))
    finally:
        sink.stop()
    return SendFigures(messages, baseline, careflow)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    figures = asyncio.run(measure(parser.parse_args().messages))
    print(f"messages                 {figures.messages}")
    print(f"bare aiosmtplib loop     {figures.baseline_per_second:8.0f} msg/s")
    print(f"careflow send step       {figures.careflow_per_second:8.0f} msg/s")
    print(f"ratio (target >= 0.5)    {figures.ratio:8.2f}x")


if __name__ == "__main__":
    main()
