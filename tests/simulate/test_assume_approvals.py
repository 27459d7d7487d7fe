"""`careflow simulate --assume-approvals`: the run's journeys.yaml as if approvers answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from careflow.journey_config import load_journey_config
from careflow.paths import RULES_DIR
from careflow.simulate.run import assume_approval_answers

APPROVAL = """
  approval:
    above_value: 100
    approvers: [supervisor, manager]
    wait_hours: 24
    on_timeout: approve
"""


@pytest.fixture
def journeys_file(tmp_path: Path) -> Path:
    text = (RULES_DIR / "journeys.yaml").read_text(encoding="utf-8")
    marker = "retention_offer:\n"
    assert marker in text
    path = tmp_path / "journeys.yaml"
    path.write_text(text.replace(marker, marker + APPROVAL.lstrip("\n"), 1), encoding="utf-8")
    approval = load_journey_config(path).retention_offer.approval
    assert approval is not None
    assert approval.on_timeout == "approve"
    return path


def test_approve_all_lets_every_offer_go_at_once(journeys_file: Path) -> None:
    assume_approval_answers(journeys_file, "approve")
    assert load_journey_config(journeys_file).retention_offer.approval is None


def test_reject_all_refuses_every_offer_that_needs_approval(journeys_file: Path) -> None:
    assume_approval_answers(journeys_file, "reject")
    approval = load_journey_config(journeys_file).retention_offer.approval
    assert approval is not None
    assert approval.on_timeout == "reject"
    assert approval.wait_hours * 3600 == pytest.approx(1)
    assert approval.above_value == 100  # offers below it still go
