"""The significance figures, checked against values computed without statsmodels:
published reference values and the closed-form formulas, written out here with `math`."""

from __future__ import annotations

import math

import pytest

from careflow.experiments.results import (
    ALPHA,
    MIN_PER_ARM,
    ArmCounts,
    Goal,
    Verdict,
    analyse,
    holm,
    needed_per_arm,
    two_proportion_z_test,
    wilson_interval,
)

# Standard normal quantiles, from printed tables: z(0.975), z(0.80).
Z_975 = 1.959964
Z_80 = 0.841621


def normal_two_sided_p(z: float) -> float:
    """2 (1 - Phi(|z|)), from the error function."""
    return math.erfc(abs(z) / math.sqrt(2))


def wilson_by_hand(x: int, n: int) -> tuple[float, float]:
    """Wilson (1927): (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p, z2 = x / n, Z_975**2
    centre = p + z2 / (2 * n)
    spread = Z_975 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (centre - spread) / (1 + z2 / n), (centre + spread) / (1 + z2 / n)


# Newcombe (1998), "Two-sided confidence intervals for the single proportion",
# Statistics in Medicine 17:857-872, Table I, method 3 (score interval without
# continuity correction), to the four places printed there.
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("x", "n", "low", "high"), NEWCOMBE)
def test_wilson_interval_matches_the_published_table(
    x: int, n: int, low: float, high: float
) -> None:
    got = wilson_interval(x, n)
    assert got == pytest.approx((low, high), abs=5e-5)
    assert got == pytest.approx(wilson_by_hand(x, n), abs=1e-6)


def test_z_test_matches_the_closed_form() -> None:
    # 200/1000 against 250/1000: pooled p = 0.225, SE = sqrt(.225 * .775 * 2/1000).
    z, p = two_proportion_z_test(ArmCounts("a", 1000, 200), ArmCounts("b", 1000, 250))
    se = math.sqrt(0.225 * 0.775 * (1 / 1000 + 1 / 1000))
    assert z == pytest.approx((0.2 - 0.25) / se, rel=1e-9)
    assert z == pytest.approx(-2.677398, abs=1e-6)
    assert p == pytest.approx(normal_two_sided_p(z), rel=1e-9)
    assert p == pytest.approx(0.0074196, abs=1e-7)


def test_z_test_with_unequal_arms_equals_the_chi_square_of_the_table() -> None:
    # z² of the pooled test is Pearson's chi-square (no continuity correction) of the
    # 2x2 table, here computed from the expected counts by hand.
    a, n_a, b, n_b = 83, 86, 90, 93  # R's prop.test example, its first two groups
    z, p = two_proportion_z_test(ArmCounts("a", n_a, a), ArmCounts("b", n_b, b))
    pooled = (a + b) / (n_a + n_b)
    observed = [a, n_a - a, b, n_b - b]
    expected = [n_a * pooled, n_a * (1 - pooled), n_b * pooled, n_b * (1 - pooled)]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    assert z * z == pytest.approx(chi2, rel=1e-9)
    assert p == pytest.approx(normal_two_sided_p(math.sqrt(chi2)), rel=1e-9)


def test_nothing_to_compare_when_nobody_or_everybody_converted() -> None:
    assert two_proportion_z_test(ArmCounts("a", 10, 0), ArmCounts("b", 20, 0)) == (0.0, 1.0)
    assert two_proportion_z_test(ArmCounts("a", 10, 10), ArmCounts("b", 5, 5)) == (0.0, 1.0)


def test_holm_adjustment_by_hand() -> None:
    # Sorted p: .01, .02, .04 -> x3, x2, x1 = .03, .04, .04 (kept non-decreasing).
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])


def test_needed_sample_matches_the_arcsine_formula() -> None:
    # Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)); each arm's transformed rate has
    # variance 1/n, so n per arm = 2 ((z(1 - alpha/2) + z(power)) / h)².
    h = 2 * math.asin(math.sqrt(0.12)) - 2 * math.asin(math.sqrt(0.10))
    n_by_hand = 2 * ((Z_975 + Z_80) / h) ** 2
    found = needed_per_arm(0.10)
    assert found is not None
    effect, n = found
    assert effect == pytest.approx(h, rel=1e-9)
    assert n == math.ceil(n_by_hand) == 3835
    assert needed_per_arm(0.0) is None


def test_a_clear_difference_is_a_winner_and_the_holdout_is_compared() -> None:
    result = analyse(
        "x",
        Goal(),
        [ArmCounts("a", 2000, 200), ArmCounts("b", 2000, 280)],
        ArmCounts("holdout", 500, 40),
    )
    assert (result.verdict, result.winner) == (Verdict.WINNER, "b")
    [pair] = result.between_variants
    assert (pair.first, pair.second, pair.significant) == ("a", "b", True)
    assert pair.difference == pytest.approx(-0.04)
    # Against the holdout: a (10% vs 8%) is not significant, b (14% vs 8%) is.
    a, b = result.against_holdout
    assert (a.significant, b.significant) == (False, True)
    # Holm over the two holdout tests: the smaller p doubled.
    assert b.adjusted_p_value == pytest.approx(2 * b.p_value)
    assert a.adjusted_p_value == pytest.approx(a.p_value)
    assert b.p_value == pytest.approx(
        normal_two_sided_p(
            (0.14 - 0.08) / math.sqrt((320 / 2500) * (1 - 320 / 2500) * (1 / 2000 + 1 / 500))
        )
    )
    assert result.holdout is not None
    assert result.holdout.rate == pytest.approx(0.08)


def test_a_large_sample_without_difference_says_so() -> None:
    result = analyse("x", Goal(), [ArmCounts("a", 20000, 2000), ArmCounts("b", 20000, 2020)])
    assert result.verdict is Verdict.NO_DIFFERENCE
    assert result.winner is None


def test_a_small_sample_is_too_small_to_call() -> None:
    result = analyse("x", Goal(), [ArmCounts("a", 400, 40), ArmCounts("b", 400, 44)])
    assert result.verdict is Verdict.TOO_SMALL
    assert result.needed_per_arm is not None
    assert result.needed_per_arm > 400
    assert "power" in result.reason


def test_fewer_than_the_minimum_per_arm_is_too_small_even_when_significant() -> None:
    n = MIN_PER_ARM - 1
    result = analyse("x", Goal(), [ArmCounts("a", n, 1), ArmCounts("b", n, 60)])
    [pair] = result.between_variants
    assert pair.adjusted_p_value < ALPHA
    assert result.verdict is Verdict.TOO_SMALL
    assert f"at least {MIN_PER_ARM}" in result.reason


def test_three_variants_need_the_best_to_beat_both() -> None:
    # c beats a clearly but b only slightly: no winner among three.
    arms = [ArmCounts("a", 3000, 300), ArmCounts("b", 3000, 400), ArmCounts("c", 3000, 410)]
    result = analyse("x", Goal(), arms)
    assert result.verdict is not Verdict.WINNER
    assert len(result.between_variants) == 3


def test_one_variant_only_is_too_small() -> None:
    result = analyse("x", Goal(), [ArmCounts("a", 5000, 500), ArmCounts("b", 0, 0)])
    assert result.verdict is Verdict.TOO_SMALL
    assert result.between_variants == ()
