"""A broadcast to a whole segment next to the send step's own rate, in the same run.

    python -m bench.campaign_bench                       # 100,000 customers
    python -m bench.campaign_bench --customers 20000

One SQLite store, one aiosmtpd sink on loopback (the send bench's counting sink),
one process:
- baseline: the send step alone (`OutreachActivities.send_email` through Temporal's
  ActivityEnvironment, 8 sends in flight as in a worker) for `--baseline` customers
  outside the segment, each a distinct message, as bench/send_bench.py measures it;
- careflow: `CampaignWorkflow` on a real Temporal dev server (`EmbeddedTemporal`) and
  a worker in this process, launched with `launch_campaign`, to every customer of
  the segment (all `--customers` of them): segment pages, ledger reads, the send
  step per member, heartbeats, continue-as-new, until the workflow's result.
The ratio is the campaign's messages per second over the send step's. The worker's
resident memory (this process: the worker, the sink and the store) is read at the
launch, when half the messages have arrived, and at the end; flat means the
campaign's state does not grow with the segment.
Target: the campaign at least 0.8x the send step's messages per second.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from bench.counting_sink import CountingSink
from bench.send_bench import CONCURRENT_SENDS
from careflow.activities.registry import build_journey_activities, build_outreach
from careflow.campaigns.client import LaunchOutcome, launch_campaign
from careflow.config import Settings
from careflow.contracts import SendEmailInput
from careflow.outreach.mailer import SmtpDelivery
from careflow.outreach.policy_config import POLICY_FILE_NAME, OutreachPolicy, load_outreach_policy
from careflow.paths import RULES_DIR, TEMPLATES_DIR
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Customer, create_database
from careflow.workflows.campaign import CampaignWorkflow
from tests.smtp_sink import free_port

CAMPAIGN = "bench_broadcast"
SEGMENTS = """\
segments:
  everyone_vip:
    description: Every VIP customer (the bench's broadcast audience).
    when:
      tier: vip
"""
CAMPAIGN_FILE = """\
segment: everyone_vip
topic: care
template: member_day
send_window: {from: "00:00", to: "23:59"}
start: "2020-01-01T00:00:00Z"
page_size: 2000
"""


@dataclass(frozen=True)
class CampaignFigures:
    customers: int
    baseline_messages: int
    send_step_per_second: float
    campaign_per_second: float
    rss_mb: tuple[float, float, float]  # at launch, half way, at the end

    @property
    def ratio(self) -> float:
        return self.campaign_per_second / self.send_step_per_second


def rss_mb() -> float:
    """This process's resident memory in MB (from /proc: no dependency)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def bench_policy() -> OutreachPolicy:
    """The shipped policy without quiet hours: the bench runs at any hour of the day,
    and both sides decide the same policy (a deferral would measure the clock)."""
    shipped = load_outreach_policy(RULES_DIR / POLICY_FILE_NAME)
    return shipped.model_copy(
        update={"quiet_hours": shipped.quiet_hours.model_copy(update={"applies_to": frozenset()})}
    )


def rules_folder(root: Path) -> Path:
    rules = root / "rules"
    shutil.copytree(RULES_DIR, rules)
    (rules / "segments.yaml").write_text(SEGMENTS, encoding="utf-8")
    shutil.rmtree(rules / "campaigns")
    (rules / "campaigns").mkdir()
    (rules / "campaigns" / f"{CAMPAIGN}.campaign.yaml").write_text(CAMPAIGN_FILE, encoding="utf-8")
    # No SMS in the bench: email is the channel both sides measure.
    (rules / "sms.yaml").unlink(missing_ok=True)
    return rules


async def seed(url: str, customers: int, baseline: int) -> None:
    """`customers` VIPs (the segment) and `baseline` regulars for the send step alone."""
    db = create_database(url)
    await db.migrate()
    joined = datetime.now(UTC) - timedelta(days=60)
    rows = [
        {
            "external_id": f"c{number:07d}",
            "name": f"Customer {number}",
            "email": f"c{number}@example.com",
            "locale": "en" if number % 2 else "zh-CN",
            "timezone": "UTC",
            "tier": "vip",
            "created_at": joined,
            "updated_at": joined,
        }
        for number in range(customers)
    ] + [
        {
            "external_id": f"r{number:07d}",
            "name": f"Regular {number}",
            "email": f"r{number}@example.com",
            "locale": "en",
            "timezone": "UTC",
            "tier": "regular",
            "created_at": joined,
            "updated_at": joined,
        }
        for number in range(baseline)
    ]
    async with db.session() as session:
        for start in range(0, len(rows), 5000):
            await session.execute(insert(Customer), rows[start : start + 5000])
    await db.dispose()


async def send_step_rate(settings: Settings, url: str, messages: int) -> float:
    """The send step's messages per second, distinct customers, 8 in flight."""
    db = create_database(url)
    delivery = SmtpDelivery(settings.smtp_target)
    policy = bench_policy()
    outreach = build_outreach(
        settings,
        db=db,
        delivery=delivery,
        journey_config=settings.rules_dir / "journeys.yaml",
        policy=lambda: policy,
    )
    environment = ActivityEnvironment()
    numbers = iter(range(messages))

    async def sender() -> None:
        for number in numbers:
            result = await environment.run(
                outreach.send_email,
                SendEmailInput(
                    workflow_id="send-bench",
                    step_id=f"r{number:07d}",
                    customer_id=f"r{number:07d}",
                    template_id="member_day",
                    topic="care",
                ),
            )
            if result.status != "sent":
                raise RuntimeError(f"send {number} was {result.status}: {result.reason}")

    try:
        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(CONCURRENT_SENDS)))
        return messages / (time.perf_counter() - started)
    finally:
        await outreach.close()
        await delivery.close()
        await db.dispose()


async def campaign_rate(
    settings: Settings, url: str, customers: int, sink: CountingSink, folder: Path
) -> tuple[float, tuple[float, float, float]]:
    """The campaign's messages per second from launch to result, and RSS samples."""
    temporal = EmbeddedTemporal(folder / "temporal", free_port(), free_port())
    await temporal.start()
    db = create_database(url)
    delivery = SmtpDelivery(settings.smtp_target)
    policy = bench_policy()
    try:
        client = await Client.connect(temporal.address)
        activities = build_journey_activities(
            settings,
            db=db,
            delivery=delivery,
            journey_config=settings.rules_dir / "journeys.yaml",
            policy=lambda: policy,
        )
        async with Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[CampaignWorkflow],
            activities=activities,
        ):
            at_launch = rss_mb()
            started = time.perf_counter()
            launched = await launch_campaign(
                client,
                db,
                CAMPAIGN,
                rules_dir=settings.rules_dir,
                templates_dir=settings.templates_dir,
                task_queue=settings.task_queue,
                actor="bench",
            )
            if launched.outcome is not LaunchOutcome.LAUNCHED or launched.handle is None:
                raise RuntimeError(f"launch: {launched.outcome} {launched.problems}")
            result = asyncio.ensure_future(launched.handle.result())
            arrived, half_way = 0, at_launch
            while not result.done():
                await asyncio.wait({result}, timeout=0.5)
                before = arrived
                arrived += sink.take_count()
                if before < customers // 2 <= arrived:
                    half_way = rss_mb()
            progress = result.result()
            elapsed = time.perf_counter() - started
            arrived += sink.take_count()
            at_end = rss_mb()
        if progress.sent != customers or arrived != customers:
            raise RuntimeError(f"{progress.sent} sent, {arrived} arrived of {customers}")
        return customers / elapsed, (at_launch, half_way, at_end)
    finally:
        await delivery.close()
        await db.dispose()
        temporal.stop()


async def measure(customers: int, baseline: int | None = None) -> CampaignFigures:
    """Both sides against one sink and one store."""
    baseline = baseline or min(customers, 10_000)
    sink = CountingSink()
    sink.start()
    try:
        with tempfile.TemporaryDirectory(prefix="careflow-campaign-bench-") as name:
            folder = Path(name)
            url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
            settings = Settings(
                home=folder / "var",
                smtp_url=f"smtp://127.0.0.1:{sink.port}",
                rules_dir=rules_folder(folder),
                templates_dir=TEMPLATES_DIR,
                task_queue="campaign-bench",
            )
            await seed(url, customers, baseline)
            send_step = await send_step_rate(settings, url, baseline)
            if sink.take_count() != baseline:
                raise RuntimeError("the send step's messages did not all arrive")
            campaign, rss = await campaign_rate(settings, url, customers, sink, folder)
    finally:
        sink.stop()
    return CampaignFigures(customers, baseline, send_step, campaign, rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=None, help="send-step messages")
    options = parser.parse_args()
    figures = asyncio.run(measure(options.customers, options.baseline))
    start, middle, end = figures.rss_mb
    print(f"segment                      {figures.customers:,} customers")
    print(
        f"send step alone              {figures.send_step_per_second:8.0f} msg/s "
        f"({figures.baseline_messages:,} messages)"
    )
    print(f"campaign, launch to result   {figures.campaign_per_second:8.0f} msg/s")
    print(f"ratio                        {figures.ratio:8.2f}x (target >= 0.80x)")
    print(f"worker RSS (MB)              start {start:.0f}, middle {middle:.0f}, end {end:.0f}")


if __name__ == "__main__":
    main()
