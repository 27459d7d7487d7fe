"""The holdout group: deterministic, about the configured share, independent per journey."""

from __future__ import annotations

from pathlib import Path

import pytest

from careflow.config import load_settings
from careflow.holdout import (
    HOLDOUT_FILE_NAME,
    HoldoutConfig,
    HoldoutConfigError,
    in_holdout,
    load_holdout_config,
)
from careflow.workflows.registry import JOURNEYS

CUSTOMERS = [f"c-{number}" for number in range(20000)]


def held_out(journey: str, share: float, salt: str = "s") -> set[str]:
    return {c for c in CUSTOMERS if in_holdout(c, journey, share, salt)}


def test_about_the_share_is_held_out_and_always_the_same_customers() -> None:
    group = held_out("retention_offer", 0.1)
    assert 0.09 < len(group) / len(CUSTOMERS) < 0.11
    assert group == held_out("retention_offer", 0.1)
    # A larger share keeps everyone the smaller one held out.
    assert group < held_out("retention_offer", 0.2)


def test_no_share_holds_out_nobody() -> None:
    assert held_out("retention_offer", 0.0) == set()


def test_journeys_and_salts_draw_independent_groups() -> None:
    group = held_out("retention_offer", 0.1)
    for other in (held_out("onboarding", 0.1), held_out("retention_offer", 0.1, salt="t")):
        overlap = len(group & other) / len(group)
        assert 0.07 < overlap < 0.13  # what independent draws of 10% share


def test_config_decides_per_journey() -> None:
    config = HoldoutConfig(salt="s", journeys={"retention_offer": 0.1})
    assert config.share("care_message") == 0.0
    assert {c for c in CUSTOMERS if config.holds_out(c, "retention_offer")} == held_out(
        "retention_offer", 0.1
    )
    assert not any(config.holds_out(c, "care_message") for c in CUSTOMERS[:500])


def test_shipped_file_is_valid_and_names_known_journeys() -> None:
    path = load_settings().rules_dir / HOLDOUT_FILE_NAME
    config = load_holdout_config(path, journeys=JOURNEYS)
    assert set(config.journeys) <= set(JOURNEYS)


def test_missing_file_holds_out_nobody(tmp_path: Path) -> None:
    assert load_holdout_config(tmp_path / HOLDOUT_FILE_NAME) == HoldoutConfig()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "salt: x\njourneys:\n  retention_offer: 5\n",
            "holdout.yaml:3: journeys.retention_offer: Input should be less than or equal to 0.5",
        ),
        ("journeys:\n  complaint_escalation: 0.1\n", "can never be held out"),
        ("salt: x\nshare: 0.1\n", "holdout.yaml:2: share: Extra inputs are not permitted"),
        ("journeys: [\n", "not valid YAML"),
    ],
)
def test_mistakes_name_their_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / HOLDOUT_FILE_NAME
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HoldoutConfigError) as error:
        load_holdout_config(path)
    assert expected in str(error.value)


def test_unknown_journey_is_a_mistake(tmp_path: Path) -> None:
    path = tmp_path / HOLDOUT_FILE_NAME
    path.write_text("journeys:\n  retention_ofer: 0.1\n", encoding="utf-8")
    with pytest.raises(HoldoutConfigError, match="unknown journey"):
        load_holdout_config(path, journeys=JOURNEYS)
