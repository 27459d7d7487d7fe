"""Migration 0004 on both stores: a store holding a survey answered twice (before the
intake refused it) upgrades, keeping every score and the first answer's link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from careflow.store import Customer, Database, SurveyResponse
from careflow.store.db import alembic_config


def _downgrade(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0003")


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def test_a_survey_answered_twice_upgrades_and_stays_answered_once(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(_downgrade)
    now = datetime.now(UTC)
    async with db.session() as session:
        # Written with the columns of the old schema only: the model has grown since.
        await session.execute(
            insert(Customer.__table__).values(external_id="c-1", created_at=now, updated_at=now)
        )
        customer_id = await session.scalar(select(Customer.id).where(Customer.external_id == "c-1"))
        for minutes, score, workflow_id in ((0, 2, "w-1"), (5, 5, "w-1"), (9, 4, None)):
            session.add(
                SurveyResponse(
                    customer_id=customer_id,
                    workflow_id=workflow_id,
                    score=score,
                    answered_at=now + timedelta(minutes=minutes),
                )
            )
    async with db.engine.begin() as connection:
        await connection.run_sync(_upgrade)
    async with db.session() as session:
        rows = (
            await session.execute(
                select(SurveyResponse.score, SurveyResponse.workflow_id).order_by(
                    SurveyResponse.answered_at
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [(2, "w-1"), (5, None), (4, None)]
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            session.add(
                SurveyResponse(customer_id=customer_id, workflow_id="w-1", score=1, answered_at=now)
            )
