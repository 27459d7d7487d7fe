"""Variant assignment: deterministic, split by weight, holdout independent of the variant."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from scipy import stats

from careflow.experiments.assign import assign_variant, in_holdout

IDS = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "42", "customer-1000", "Zoë"]
MANY = [f"customer-{n}" for n in range(100_000)]
# A goodness-of-fit p-value below this fails. The ids are fixed, so the test is not
# flaky: a fair hash passes it once and for all; a biased mapping (modulo bias, a
# variant skipped, weights ignored) gives p-values many orders of magnitude smaller.
ALPHA = 0.001


def test_assignments_are_pinned() -> None:
    """Fixed answers: any change to the hash, the key or the mapping moves customers."""
    assert {c: assign_variant("spring-offer", c, {"a": 1, "b": 1, "c": 2}) for c in IDS} == {
        "c1": "a",
        "c2": "c",
        "c3": "a",
        "c4": "b",
        "c5": "c",
        "c6": "a",
        "c7": "b",
        "c8": "c",
        "42": "a",
        "customer-1000": "c",
        "Zoë": "c",
    }
    weights = {"control": 1, "new": 1}
    assert {c: assign_variant("journey:winback:offer", c, weights) for c in IDS} == {
        "c1": "new",
        "c2": "control",
        "c3": "new",
        "c4": "control",
        "c5": "new",
        "c6": "control",
        "c7": "new",
        "c8": "new",
        "42": "new",
        "customer-1000": "new",
        "Zoë": "control",
    }
    held = [c for c in IDS if in_holdout("spring-offer", c, 0.5)]
    assert held == ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "42"]


def test_same_in_another_process() -> None:
    """No per-process salt (Python's hash() would differ under another PYTHONHASHSEED)."""
    code = (
        "from careflow.experiments.assign import assign_variant as a;"
        "print(','.join(a('spring-offer', c, {'a': 1, 'b': 1, 'c': 2}) for c in "
        f"{IDS!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": ":".join(sys.path)},
    ).stdout.strip()
    weights = {"a": 1, "b": 1, "c": 2}
    assert out.split(",") == [assign_variant("spring-offer", c, weights) for c in IDS]


def test_dict_order_does_not_matter() -> None:
    forward = {"a": 3, "b": 1, "c": 2}
    backward = {"c": 2, "b": 1, "a": 3}
    for c in MANY[:2000]:
        assert assign_variant("x", c, forward) == assign_variant("x", c, backward)


@pytest.mark.parametrize(
    "weights",
    [
        {"a": 1, "b": 1},
        {"a": 50, "b": 50},
        {"a": 70, "b": 30},
        {"a": 1, "b": 1, "c": 2},
        {"only": 5},
    ],
)
def test_split_follows_weights(weights: dict[str, int]) -> None:
    counts = Counter(assign_variant("split-test", c, weights) for c in MANY)
    assert set(counts) == set(weights)
    if len(weights) == 1:
        return
    total = sum(weights.values())
    names = sorted(weights)
    expected = [len(MANY) * weights[n] / total for n in names]
    result = stats.chisquare([counts[n] for n in names], f_exp=expected)
    assert result.pvalue > ALPHA, (counts, result)


def test_a_biased_split_would_be_caught() -> None:
    """The tolerance is tight enough: a 51/49 split over 100k ids fails the same test."""
    observed = [51_000, 49_000]
    assert stats.chisquare(observed, f_exp=[50_000, 50_000]).pvalue < ALPHA


def test_holdout_share_and_independence_from_variant() -> None:
    weights = {"a": 1, "b": 1, "c": 2}
    table: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for c in MANY:
        table[in_holdout("spring-offer", c, 0.1)][assign_variant("spring-offer", c, weights)] += 1
    held = sum(table[True].values())
    assert stats.binomtest(held, len(MANY), 0.1).pvalue > ALPHA
    # Held-out customers have the same would-be variant mix as the rest.
    contingency = [[table[h][n] for n in sorted(weights)] for h in (True, False)]
    assert stats.chi2_contingency(contingency).pvalue > ALPHA


def test_experiments_draw_independently() -> None:
    weights = {"a": 1, "b": 1}
    pairs = Counter(
        (assign_variant("one", c, weights), assign_variant("two", c, weights)) for c in MANY
    )
    contingency = [[pairs["a", "a"], pairs["a", "b"]], [pairs["b", "a"], pairs["b", "b"]]]
    assert stats.chi2_contingency(contingency).pvalue > ALPHA


def test_holdout_edges() -> None:
    assert not any(in_holdout("x", c, 0) for c in IDS)
    with pytest.raises(ValueError, match="below 1"):
        in_holdout("x", "c1", 1.0)


@pytest.mark.parametrize(
    "weights",
    [{}, {"a": 0}, {"a": 1, "b": -1}, {"a": 1.5}, {"a": True}, {"": 1}, {"a": 1, "holdout": 1}],
)
def test_bad_weights_are_refused(weights: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="variant"):
        assign_variant("x", "c1", weights)
