"""Inputs the fuzz suite found to break careflow, kept as regression tests once fixed.

NUL characters (which PostgreSQL cannot store) are refused as client errors, and a
file that is not UTF-8 is reported by name instead of crashing the import, and an
`occurred_at` that would leave the calendar when converted to UTC is a 422.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.intake.importer import ImportRejected, import_file
from careflow.store import Database

NOW = "2026-11-23T09:30:00+08:00"


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> httpx.AsyncClient:
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://careflow")


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/tasks?assignee=%00", None),
        ("GET", "/customers/c%00", None),
        (
            "POST",
            "/events",
            {"type": "customer_upserted", "customer_id": "c\x00", "occurred_at": NOW},
        ),
        (
            "POST",
            "/events",
            {
                "type": "complaint_opened",
                "customer_id": "c-nul",
                "occurred_at": NOW,
                "data": {"complaint_id": "k\x00"},
            },
        ),
    ],
)
async def test_nul_in_text_is_a_client_error_not_a_server_error(
    api: httpx.AsyncClient,
    method: str,
    url: str,
    body: dict[str, object] | None,
) -> None:
    async with api:
        try:
            response = await api.request(method, url, json=body)
        except Exception as error:  # the ASGI transport re-raises the app's error
            pytest.fail(f"{method} {url}: server error {type(error).__name__}: {error}")
    assert response.status_code < 500


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_a_time_that_leaves_the_calendar_in_utc_is_a_client_error(
    api: httpx.AsyncClient, occurred_at: str
) -> None:
    body = {"type": "customer_upserted", "customer_id": "c-edge", "occurred_at": occurred_at}
    async with api:
        try:
            response = await api.post("/events", json=body)
        except Exception as error:  # the ASGI transport re-raises the app's error
            pytest.fail(f"server error {type(error).__name__}: {error}")
    assert response.status_code == 422


async def test_nul_in_a_csv_cell_is_a_named_row_problem(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,name\nc1,Emma\x00Clarke\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, path, "customers")
    assert str(rejected.value.problems[0]) == f"{path}:2: name: contains a NUL character"


async def test_a_file_that_is_not_utf8_is_rejected_by_name(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    # What a spreadsheet's "Unicode text" export writes.
    path.write_bytes("customer_id,name\nc1,Emma\n".encode("utf-16"))
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, path, "customers")
    assert str(rejected.value.problems[0]).startswith(f"{path}:")
