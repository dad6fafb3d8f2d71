"""``--contamination auto``: the rules that estimate a table's share of anomalies from the policy's scores."""
from __future__ import annotations

import json

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


def _task(rng: np.random.Generator, share: float, family: str, gap: float = 4.0, n: int = 4000) -> tuple:
    from metaclust_automl.anomaly.contamination import share_features

    y = (rng.random(n) < share).astype(int)
    z = np.where(y == 1, gap, -gap) + rng.normal(size=n)
    # a two-detector state: ranks (unused here), magnitudes that follow the logits
    mags = np.arcsinh(np.column_stack([z, z + rng.normal(size=n)])) / 3.0
    state = np.hstack([np.zeros((n, 2)), mags])
    return z, y, share_features(z, state, 2), family


def test_rule_is_chosen_leave_one_family_out_and_flags_about_the_right_count() -> None:
    from metaclust_automl.anomaly.contamination import choose_rule, estimate

    rng = np.random.default_rng(2)
    tasks = [_task(rng, s, fam) for fam in ("a", "b", "c") for s in (0.02, 0.05, 0.1, 0.2)]
    rule = choose_rule(tasks)
    assert rule["method"] in ("threshold", "em", "boosted") and "leave one family out" in rule["measured_on"]
    assert set(rule["within_2x"]) == {"threshold", "em", "boosted"}
    assert rule["within_2x"][rule["method"]] == max(rule["within_2x"].values())
    for z, y, f, _ in (_task(rng, 0.03, "new"), _task(rng, 0.15, "new")):
        assert flagged_error(estimate(rule, z, f), y.size, int(y.sum())) < 1.5
    with pytest.raises(ValueError):
        choose_rule([t for t in tasks if t[3] == "a"])


def test_boosted_rule_in_plain_numbers_predicts_as_the_fitted_model() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from metaclust_automl.anomaly.contamination import BOOSTED_PARAMS, N_SHARE_FEATURES, boosted_log_odds, export_boosted

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, N_SHARE_FEATURES))
    target = X[:, 0] - 0.5 * X[:, 3] + 0.1 * rng.normal(size=300)
    model = HistGradientBoostingRegressor(**BOOSTED_PARAMS).fit(X, target)
    rule = json.loads(json.dumps(export_boosted(model)))  # survives a round trip through JSON
    Xt = rng.normal(size=(50, N_SHARE_FEATURES))
    ours = np.array([boosted_log_odds(rule, x) for x in Xt])
    np.testing.assert_allclose(ours, model.predict(Xt), rtol=1e-9, atol=1e-9)
    assert np.corrcoef(ours, Xt[:, 0] - 0.5 * Xt[:, 3])[0, 1] > 0.8


def test_boosted_rule_survives_the_policy_file_and_malformed_trees_are_refused() -> None:
    from metaclust_automl.anomaly.policy import _checked_rule

    rng = np.random.default_rng(4)
    tasks = [_task(rng, s, fam, n=600) for fam in ("a", "b") for s in (0.02, 0.05, 0.1, 0.2, 0.3) * 5]
    from metaclust_automl.anomaly.contamination import FITTERS

    rule = FITTERS["boosted"](tasks)
    checked = _checked_rule(json.loads(json.dumps(rule)))
    assert checked["method"] == "boosted" and len(checked["trees"]) == len(rule["trees"])
    bad = json.loads(json.dumps(rule))
    tree = next(t for t in bad["trees"] if not t["leaf"][0])
    tree["left"][0] = 0  # a node pointing at itself would never end
    with pytest.raises(ValueError):
        _checked_rule(bad)
    stale = {**rule, "features_version": 0}
    with pytest.raises(ValueError):
        _checked_rule(stale)
