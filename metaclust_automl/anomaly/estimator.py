"""``MetaAnomalyDetector``: the meta-learned policy as a scikit-learn style estimator.

Usage mirrors scikit-learn's outlier detectors and pyod::

    det = MetaAnomalyDetector().fit(X)
    det.decision_scores_          # P(anomalous) of the rows of X (in-sample)
    det.labels_                   # 1 anomaly, 0 normal
    det.decision_function(X_new)  # higher = more anomalous
    det.predict(X_new)            # 1 anomaly, 0 normal
    det.score_samples(X_new)      # scikit-learn's sign: lower = more abnormal

``fit`` fits the standard detectors on X (no labels), describes the table and asks the
meta-trained policy for P(anomalous) of every row. New rows are scored against the fitted
detectors and placed on the fitted table's score scales. In-sample rows are scored
leave-one-out by the neighbour-based detectors, so ``decision_scores_`` is what to use for
the training table itself (``decision_function(X)`` on the same X would let each row count
as its own nearest neighbour, as in pyod).

Thresholds: a number in (0, 0.5] flags that share of the fitted rows (the top scores).
``contamination="auto"`` flags the share estimated from the policy's scores of this table
(``contamination_``: by the policy's fitted rule, the share of rows whose logit passes a
threshold fitted on the corpus for the shipped policy; see ``anomaly.contamination``). Not the policy's own calls (P >= 0.5): rewarded
class-balanced, they favour recall and flag several times too many rows on a table with
2% anomalies.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..backends.deferred_import import import_sklearn

import_sklearn()  # without pandas and scipy.stats, which scikit-learn imports and detection never uses
from sklearn.base import BaseEstimator, OutlierMixin  # noqa: E402

from ..errors import ConfigError, DataError
from ..validation import check_matrix

#: policies already read in this process, by directory (they are read-only)
_POLICY_CACHE: dict[str, Any] = {}


def check_contamination(value: Any) -> str | float:
    """``"auto"`` or a fraction in (0, 0.5]; anything else is a ConfigError saying so."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"contamination must be 'auto' or a fraction in (0, 0.5], got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ConfigError(f"contamination must be 'auto' or a fraction in (0, 0.5], got {value!r}")
    value = float(value)
    if not np.isfinite(value) or not 0.0 < value <= 0.5:
        raise ConfigError(f"contamination must be 'auto' or a fraction in (0, 0.5], got {value:g}")
    return value


def top_share_threshold(scores: np.ndarray, share: float) -> float:
    """The score of the ceil(share * n)-th highest row: ``scores >= it`` flags that many rows
    (more only when rows tie with it)."""
    k = max(1, int(np.ceil(share * scores.size)))
    return float(np.sort(scores)[::-1][k - 1])


def load_policy(path: str | os.PathLike | None) -> Any:
    from .policy import Policy, default_directory

    key = str(os.path.abspath(path if path is not None else default_directory()))
    if key not in _POLICY_CACHE:
        _POLICY_CACHE[key] = Policy.load(key)
    return _POLICY_CACHE[key]


class MetaAnomalyDetector(OutlierMixin, BaseEstimator):
    """Anomaly detector meta-learned by reinforcement learning across labelled anomaly tasks.

    Parameters
    ----------
    contamination : "auto" or float in (0, 0.5]
        How rows are flagged by ``predict`` and ``labels_`` (see the module docstring).
    policy : path or None
        Directory of a trained policy; None uses the one shipped with metaclust.
    max_reference : int
        Rows the base detectors are fitted on (a random sample of bigger tables), which
        bounds the cost: scoring is linear in the number of rows.
    random_state : int
        Seed of the sample, the isolation forest and the table descriptors.
    """

    def __init__(self, contamination: str | float = "auto", policy: str | None = None,
                 max_reference: int = 10_000, random_state: int = 0) -> None:
        self.contamination = contamination
        self.policy = policy
        self.max_reference = max_reference
        self.random_state = random_state

    def _check_params(self) -> str | float:
        if not isinstance(self.max_reference, (int, np.integer)) or self.max_reference < 10:
            raise ConfigError(f"max_reference must be an integer >= 10, got {self.max_reference!r}")
        if not isinstance(self.random_state, (int, np.integer)):
            raise ConfigError(f"random_state must be an integer seed, got {self.random_state!r}")
        return check_contamination(self.contamination)

    def fit(self, X: Any, y: Any = None) -> MetaAnomalyDetector:
        """Fit the base detectors on X and score its rows (y is ignored: no labels needed)."""
        from .observe import observe

        contamination = self._check_params()
        X = check_matrix(X, min_rows=3)
        policy_ = load_policy(self.policy)
        obs = observe(X, detectors=tuple(policy_.detectors), max_reference=int(self.max_reference),
                      seed=int(self.random_state))
        self.policy_ = policy_
        self.observation_ = obs
        self.n_features_in_ = X.shape[1]
        from scipy.special import expit

        logits = policy_.logits(obs.state)  # once: the scores and the auto share both read them
        self.decision_scores_ = expit(logits)
        self.base_scores_ = obs.scores
        if contamination == "auto":
            self.contamination_ = policy_.estimate_share(obs.state, logits)
        else:
            self.contamination_ = float(contamination)
        self.threshold_ = top_share_threshold(self.decision_scores_, self.contamination_)
        self.labels_ = self._flag(self.decision_scores_)
        return self

    def _flag(self, scores: np.ndarray) -> np.ndarray:
        return (scores >= self.threshold_).astype(np.int64)

    def _check_fitted(self, X: Any) -> np.ndarray:
        if not hasattr(self, "observation_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this MetaAnomalyDetector is not fitted yet; call fit(X) first")
        X = check_matrix(X, min_rows=1)
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"X has {X.shape[1]} columns; the detector was fitted on {self.n_features_in_}")
        return X

    def decision_function(self, X: Any) -> np.ndarray:
        """P(anomalous) of each row: higher = more anomalous, in [0, 1]."""
        X = self._check_fitted(X)
        return self.policy_.prob_anomalous(self.observation_.state_of(X))

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's convention: the opposite of ``decision_function`` (lower = more abnormal)."""
        return -self.decision_function(X)

    def predict(self, X: Any) -> np.ndarray:
        """1 for an anomaly, 0 for a normal row (pyod's convention, not scikit-learn's -1/1)."""
        return self._flag(self.decision_function(X))

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on X and return its in-sample labels (1 anomaly, 0 normal)."""
        return self.fit(X).labels_


class BaseDetector(OutlierMixin, BaseEstimator):
    """One of the standard detectors of the state, alone (for comparison and benchmarks).

    Scores are the detector's raw scores, higher = more anomalous; ``contamination`` is the
    share of fitted rows flagged (default 0.1, as in pyod).
    """

    def __init__(self, detector: str = "iforest", contamination: float = 0.1, max_reference: int = 10_000,
                 random_state: int = 0) -> None:
        self.detector = detector
        self.contamination = contamination
        self.max_reference = max_reference
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        from .detectors import DETECTOR_NAMES, DetectorBank

        if self.detector not in DETECTOR_NAMES:
            raise ConfigError(f"unknown base detector {self.detector!r}; known: {', '.join(DETECTOR_NAMES)}")
        c = check_contamination(self.contamination)
        if c == "auto":
            raise ConfigError("a base detector needs a numeric contamination")
        X = check_matrix(X, min_rows=3)
        self.bank_ = DetectorBank(max_reference=int(self.max_reference), seed=int(self.random_state),
                                  names=(self.detector,))
        self.decision_scores_ = self.bank_.fit(X)[:, 0]
        self.n_features_in_ = X.shape[1]
        self.contamination_ = float(c)
        self.threshold_ = top_share_threshold(self.decision_scores_, c)
        self.labels_ = (self.decision_scores_ >= self.threshold_).astype(np.int64)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        if not hasattr(self, "bank_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this detector is not fitted yet; call fit(X) first")
        X = check_matrix(X, min_rows=1)
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"X has {X.shape[1]} columns; the detector was fitted on {self.n_features_in_}")
        return self.bank_.score(X)[:, 0]

    def score_samples(self, X: Any) -> np.ndarray:
        return -self.decision_function(X)

    def predict(self, X: Any) -> np.ndarray:
        return (self.decision_function(X) >= self.threshold_).astype(np.int64)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X).labels_
