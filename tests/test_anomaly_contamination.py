"""``--contamination auto``: EM prior re-estimation from the policy's calibrated scores."""
from __future__ import annotations

import numpy as np
import pytest

from metaclust_automl.anomaly.contamination import HIGH, LOW, em_prior, fit_calibration, flagged_error


@pytest.mark.parametrize("share", [0.02, 0.1, 0.3])
def test_em_recovers_the_share_from_calibrated_balanced_scores(share: float) -> None:
    # logits of a calibrated balanced classifier: N(+1.5, 1) for anomalies, N(-1.5, 1) for normal
    # rows (then the balanced log-odds are exactly 3 z, i.e. a = 3, b = 0)
    rng = np.random.default_rng(0)
    n = 20_000
    y = rng.random(n) < share
    z = np.where(y, 1.5, -1.5) + rng.normal(size=n)
    est = em_prior(z, 3.0, 0.0)
    assert abs(est - share) < 0.15 * share + 0.003
    # a plain count of the calls (z > 0) is badly off at 2%
    if share == 0.02:
        assert (z > 0).mean() > 2.5 * share


def test_calibration_is_fitted_class_balanced() -> None:
    rng = np.random.default_rng(1)
    tasks_z, tasks_y = [], []
    for share in (0.02, 0.2):
        y = (rng.random(50_000) < share).astype(int)
        tasks_z.append(np.where(y == 1, 1.5, -1.5) + rng.normal(size=50_000))
        tasks_y.append(y)
    a, b = fit_calibration(tasks_z, tasks_y)
    assert abs(a - 3.0) < 0.25 and abs(b) < 0.25


def test_estimate_is_clipped_and_error_is_a_ratio() -> None:
    assert em_prior(np.full(100, -40.0), 1.0, 0.0) == LOW
    assert em_prior(np.full(100, 40.0), 1.0, 0.0) == HIGH
    assert flagged_error(0.1, 1000, 50) == 2.0 and flagged_error(0.05, 1000, 100) == 2.0


def test_rule_is_chosen_on_held_out_tasks_and_flags_about_the_right_count() -> None:
    from metaclust_automl.anomaly.contamination import choose_rule, estimate

    rng = np.random.default_rng(2)

    def task(share: float) -> tuple[np.ndarray, np.ndarray]:
        y = (rng.random(4000) < share).astype(int)
        return np.where(y == 1, 4.0, -4.0) + rng.normal(size=4000), y

    train = [task(s) for s in (0.02, 0.05, 0.1, 0.2) * 3]
    held = [task(s) for s in (0.03, 0.15)]
    rule = choose_rule(train, held)
    assert rule["method"] in ("threshold", "em") and rule["measured_on"] == "held-out corpus tasks"
    assert rule["within_2x"][rule["method"]] == max(rule["within_2x"].values())
    for z, y in held:
        assert flagged_error(estimate(rule, z), y.size, int(y.sum())) < 1.3
