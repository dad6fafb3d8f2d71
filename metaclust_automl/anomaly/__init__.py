"""Anomaly detection by a policy meta-trained with reinforcement learning.

- ``detectors``: the standard unsupervised detectors whose scores form the state;
- ``features``, ``observe``: the state (rank-normalised scores, table descriptors);
- ``policy``, ``train``: the policy network, REINFORCE training and its plain files;
- the generated training tasks (``meta_datasets/anomaly/corpus.json``) come from
  ``generators.anomalies``;
- ``estimator``: ``MetaAnomalyDetector``, the scikit-learn style estimator;
- ``default_plugins.detectors`` (outside this package) registers the detectors through the
  ``register_detectors`` hook.

Torch is imported only when a policy is trained or used.
"""
from __future__ import annotations

from typing import Any

from .detectors import DETECTOR_NAMES

__all__ = ["DETECTOR_NAMES", "BaseDetector", "MetaAnomalyDetector"]


def __getattr__(name: str) -> Any:  # PEP 562: the estimators pull in scikit-learn, so on first use
    if name in ("BaseDetector", "MetaAnomalyDetector"):
        from . import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
