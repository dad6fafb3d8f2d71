"""``--contamination auto``: the share of anomalies in a table, estimated from the policy's scores.

Three methods are scored after training by leave-one-family-out over the corpus tasks, and
the one whose flagged counts are within 2x of the truth on the most tasks is refitted on
all of them and shipped (``choose_rule``; the dev sets play no part):

- ``threshold``: the share of rows whose policy logit z_i exceeds t, t chosen to maximise
  the share of tasks whose flagged count is within 2x of the truth;
- ``em``: the EM prior re-estimation of Saerens, Latinne & Decaestecker (2002,
  "Adjusting the outputs of a classifier to new a priori probabilities"). The policy is
  trained class-balanced, so its P(anomalous) is, once calibrated, a posterior under a
  prior of 1/2; under an unknown prior pi the posterior of row i is
  q_i(pi) = pi p_i / (pi p_i + (1 - pi) (1 - p_i)), and the maximum-likelihood pi is the
  fixed point pi = mean_i q_i(pi). ``p_i`` = sigmoid(a z_i + b), (a, b) fitted by
  class-balanced logistic regression of the labels on the logits (the REINFORCE logits are
  not calibrated as they come);
- ``boosted``: a regression learned on the corpus from the shape of a table's score
  distribution to the log-odds of its share of anomalies. ``share_features`` describes the
  table: quantiles and spread of the logits, the shares of rows above fixed logits and above
  median + k MAD of the logits, the shares of rows whose detector magnitudes pass fixed
  robust z-scores (median and mean over the detectors), and the weight of the upper
  component of a two-component Gaussian mixture on the logits. The regressor is
  scikit-learn's histogram gradient boosting (absolute-error loss, 100 depth-2 trees),
  exported to plain numbers in the policy file (``export_boosted``) and evaluated in numpy.

``--contamination auto`` flags the ceil(pi n) highest-scoring rows, pi from the method the
policy file names.

Measured for the shipped policy (480 corpus tasks, leave one family out, within 2x; the
policy's ``info.contamination``; ``bench/contamination.py`` reproduces it and then only
*measures* each method on the dev sets): threshold 0.650 (shipped, t = 2.75), boosted 0.623,
EM 0.356, the descriptor head 0.521 (its own held-out tasks). The boosted regressor was the
best of the regressors tried on the same features (mean of 5-fold and leave-one-family-out
within-2x: boosting 0.633, a random forest 0.630, 10 nearest tasks 0.61, ridge 0.58);
48 boosting settings (trees, rate, depth, loss, leaf size) reached at most 0.631 leave one
family out; restricting it to scale-free features (no absolute logit levels) lowered the corpus number
to 0.47-0.52. On the dev sets the threshold rule is within 2x on 3 of 10 and the boosted rule
on 4 (scale-free variants 5-6): the corpus and the dev sets disagree about which rule
transfers, and the corpus decides, so the threshold rule stays. Also measured on earlier
policies and not kept: the policy's own calls (P >= 0.5; several times too many rows on a 2%
table), a cut at t robust standard deviations above the median logit (42%), the geometric
mean of the threshold rule and the descriptor head (55%), a constant share (32-44% of the
corpus tasks for shares 0.03-0.10), and the log-odds average of the threshold and boosted rules (0.648, a tie).
"""
from __future__ import annotations

import numpy as np

#: the estimate is kept in this range (a table with under 0.1% or over half anomalies is not
#: what unsupervised detection can promise)
LOW, HIGH = 0.001, 0.5


def em_prior(logits: np.ndarray, a: float, b: float, *, start: float = 0.1, iterations: int = 200,
             tol: float = 1e-7) -> float:
    """The maximum-likelihood share of anomalies given the rows' policy logits and the
    calibration (a, b), by Saerens et al.'s EM; clipped to [LOW, HIGH]."""
    z = np.clip(a * np.asarray(logits, dtype=np.float64) + b, -50.0, 50.0)
    p = 1.0 / (1.0 + np.exp(-z))  # calibrated balanced posterior
    pi = float(start)
    for _ in range(iterations):
        num = pi * p
        q = num / (num + (1.0 - pi) * (1.0 - p))
        new = float(np.clip(q.mean(), LOW, HIGH))
        if abs(new - pi) < tol:
            pi = new
            break
        pi = new
    return float(np.clip(pi, LOW, HIGH))


def fit_calibration(logits: list[np.ndarray], labels: list[np.ndarray]) -> tuple[float, float]:
    """(a, b) of the balanced posterior sigmoid(a z + b): logistic regression of the labels on
    the logits, every task's anomalies and normal rows each weighted to half of that task."""
    from sklearn.linear_model import LogisticRegression

    z = np.concatenate([np.asarray(v, dtype=np.float64) for v in logits])
    y = np.concatenate([np.asarray(v, dtype=np.int64) for v in labels])
    w = np.concatenate([np.where(v == 1, 0.5 / max(v.sum(), 1), 0.5 / max((v == 0).sum(), 1))
                        for v in labels])
    model = LogisticRegression(C=1e4, max_iter=1000).fit(z[:, None], y, sample_weight=w * len(labels))
    return float(model.coef_[0, 0]), float(model.intercept_[0])


#: candidate logit thresholds of the ``threshold`` method
THRESHOLDS = np.round(np.arange(-4.0, 10.01, 0.25), 2)


def threshold_share(logits: np.ndarray, t: float) -> float:
    """The share of rows whose logit exceeds t, clipped to [LOW, HIGH]."""
    return float(np.clip(np.mean(np.asarray(logits) > t), LOW, HIGH))


#: logits, robust z-score multiples and detector magnitudes (robust z) whose exceedance shares
#: describe a table for the ``boosted`` method
FEATURE_LOGITS = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
FEATURE_MADS = (1.5, 2.0, 3.0, 5.0)
FEATURE_MAGS_MEDIAN = (1.5, 2.0, 3.0, 5.0)
FEATURE_MAGS_MEAN = (2.0, 3.0, 5.0)
#: rows the two-component mixture is fitted on (a seeded sample of bigger tables)
MIXTURE_ROWS = 3000
#: how the ``boosted`` regressor is fitted (see the module docstring)
BOOSTED_PARAMS = {"loss": "absolute_error", "max_iter": 100, "learning_rate": 0.1, "max_depth": 2,
                  "random_state": 0}
SHARE_FEATURES_VERSION = 1
#: how many numbers ``share_features`` gives
N_SHARE_FEATURES = 7 + 1 + len(FEATURE_LOGITS) + len(FEATURE_MADS) + len(FEATURE_MAGS_MEDIAN) + len(FEATURE_MAGS_MEAN) + 1


def _log_odds(share: float | np.ndarray) -> float | np.ndarray:
    p = np.clip(share, 0.002, 0.6)
    return np.log(p / (1.0 - p))


def _upper_mixture_weight(z: np.ndarray, seed: int = 0) -> float:
    """Mean responsibility of the higher-mean component of a 2-component GMM on the logits."""
    from sklearn.mixture import GaussianMixture

    if z.size > MIXTURE_ROWS:
        z = np.random.default_rng(seed).choice(z, MIXTURE_ROWS, replace=False)
    if np.ptp(z) <= 1e-9:
        return 0.5
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny or tied tables
        g = GaussianMixture(2, random_state=seed).fit(z[:, None])
    hi = int(np.argmax(g.means_[:, 0]))
    return float(np.mean(g.predict_proba(z[:, None])[:, hi]))


def share_features(logits: np.ndarray, state: np.ndarray, n_detectors: int) -> np.ndarray:
    """The description of a table's score distribution that the ``boosted`` method reads
    (29 numbers; shares enter as clipped log-odds). ``state``: the rows' policy state, whose
    columns n_detectors..2 n_detectors are the detectors' squashed robust z-scores."""
    z = np.asarray(logits, dtype=np.float64)
    med = float(np.median(z))
    mad = 1.4826 * float(np.median(np.abs(z - med))) + 1e-9
    mags = np.asarray(state[:, n_detectors:2 * n_detectors], dtype=np.float64)
    cut = lambda c: np.arcsinh(c) / 3.0  # noqa: E731 - the state's squashing of a robust z of c
    out = list(np.quantile(z, [0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99])) + [float(z.std())]
    out += [_log_odds(np.mean(z > t)) for t in FEATURE_LOGITS]
    out += [_log_odds(np.mean(z > med + k * mad)) for k in FEATURE_MADS]
    out += [_log_odds(np.median((mags > cut(c)).mean(axis=0))) for c in FEATURE_MAGS_MEDIAN]
    out += [_log_odds(np.mean((mags > cut(c)).mean(axis=0))) for c in FEATURE_MAGS_MEAN]
    out.append(_log_odds(_upper_mixture_weight(z)))
    return np.asarray(out, dtype=np.float64)


def fit_boosted(features: np.ndarray, shares: np.ndarray) -> dict:
    """Fit the ``boosted`` rule: gradient-boosted trees from ``share_features`` rows to the
    log-odds of the tasks' shares of anomalies, exported as plain numbers."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(**BOOSTED_PARAMS).fit(np.asarray(features), _log_odds(np.asarray(shares)))
    return export_boosted(model)


def export_boosted(model: object) -> dict:
    """A fitted HistGradientBoostingRegressor (numeric features, no missing values) as a
    JSON-ready rule: its baseline and, per tree, the nodes' split feature, threshold (x <=
    threshold goes left), children and leaf values."""
    trees = []
    for (predictor,) in model._predictors:  # one tree per iteration for a regressor
        nodes = predictor.nodes
        trees.append({"feature": [int(v) for v in nodes["feature_idx"]],
                      "threshold": [float(v) for v in nodes["num_threshold"]],
                      "left": [int(v) for v in nodes["left"]], "right": [int(v) for v in nodes["right"]],
                      "leaf": [bool(v) for v in nodes["is_leaf"]], "value": [float(v) for v in nodes["value"]]})
    return {"method": "boosted", "baseline": float(np.ravel(model._baseline_prediction)[0]), "trees": trees,
            "features_version": SHARE_FEATURES_VERSION}


def boosted_log_odds(rule: dict, features: np.ndarray) -> float:
    """The ``boosted`` rule's predicted log-odds of the share for one table's features."""
    total = float(rule["baseline"])
    for tree in rule["trees"]:
        node = 0
        while not tree["leaf"][node]:
            node = tree["left"][node] if features[tree["feature"][node]] <= tree["threshold"][node] else tree["right"][node]
        total += tree["value"][node]
    return total


def estimate(rule: dict, logits: np.ndarray, features: np.ndarray | None = None) -> float:
    """The share of anomalies by a fitted rule ({"method": "threshold", "t": ...},
    {"method": "em", "a": ..., "b": ...} or {"method": "boosted", ...}, which also needs the
    table's ``share_features``); clipped to [LOW, HIGH]."""
    if rule["method"] == "threshold":
        return threshold_share(logits, float(rule["t"]))
    if rule["method"] == "boosted":
        if features is None:
            raise ValueError("the boosted contamination rule needs the table's share_features")
        return float(np.clip(1.0 / (1.0 + np.exp(-boosted_log_odds(rule, features))), LOW, HIGH))
    return em_prior(logits, float(rule["a"]), float(rule["b"]))


#: a corpus task for ``choose_rule``: (policy logits, labels, ``share_features``, family)
Task = tuple


def _fit_threshold(tasks: list[Task]) -> dict:
    best = max(THRESHOLDS, key=lambda t: (_within({"method": "threshold", "t": t}, tasks)[0], -abs(t)))
    return {"method": "threshold", "t": float(best)}


def _fit_em(tasks: list[Task]) -> dict:
    a, b = fit_calibration([t[0] for t in tasks], [t[1] for t in tasks])
    return {"method": "em", "a": a, "b": b}


def _fit_boosted(tasks: list[Task]) -> dict:
    return fit_boosted(np.vstack([t[2] for t in tasks]), np.array([float(np.mean(t[1])) for t in tasks]))


#: the methods in the order ties are broken (the simpler first)
FITTERS = {"threshold": _fit_threshold, "em": _fit_em, "boosted": _fit_boosted}


def _errors(rule: dict, tasks: list[Task]) -> np.ndarray:
    return np.array([flagged_error(estimate(rule, t[0], t[2]), t[1].size, int(t[1].sum())) for t in tasks])


def _within(rule: dict, tasks: list[Task]) -> tuple[float, float]:
    errs = _errors(rule, tasks)
    return float(np.mean(errs <= 2.0)), float(np.median(errs))


def choose_rule(tasks: list[Task]) -> dict:
    """Choose and fit the ``--contamination auto`` rule on corpus tasks
    (logits, labels, share_features, family).

    Every method is scored on every task by the method fitted on the other families (leave
    one family out: the project's rule for design choices, and the closest the corpus comes
    to a table unlike the ones the rule was fitted on). The method with the most tasks within
    2x is kept (ties: threshold, em, boosted, the simpler first) and refitted on all tasks.
    Returns the rule with every method's measured share within 2x and median error ratio."""
    families = sorted({t[3] for t in tasks})
    if len(families) < 2:
        raise ValueError("choosing a contamination rule needs corpus tasks of at least two families")
    scored: dict[str, np.ndarray] = {}
    for name, fit in FITTERS.items():
        errs: list[float] = []
        for fam in families:
            errs += list(_errors(fit([t for t in tasks if t[3] != fam]), [t for t in tasks if t[3] == fam]))
        scored[name] = np.asarray(errs)
    names = list(FITTERS)
    name = max(names, key=lambda n: (float(np.mean(scored[n] <= 2.0)), -names.index(n)))
    rule = FITTERS[name](tasks)
    return {**rule, "measured_on": f"{len(tasks)} corpus tasks, leave one family out ({len(families)} families)",
            "within_2x": {k: round(float(np.mean(v <= 2.0)), 4) for k, v in scored.items()},
            "median_ratio": {k: round(float(np.median(v)), 4) for k, v in scored.items()}}


def flagged_error(estimated: float, n: int, true_count: int) -> float:
    """How far the flagged count is from the true one, as a ratio >= 1 (2.0 = twice or half)."""
    flagged = max(1, int(np.ceil(estimated * n)))
    return max(flagged / max(true_count, 1), max(true_count, 1) / flagged)
