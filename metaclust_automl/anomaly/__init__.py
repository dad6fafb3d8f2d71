"""Anomaly detection by a policy meta-trained with reinforcement learning.

- ``detectors``: the standard unsupervised detectors whose scores form the state;
- ``features``, ``observe``: the state (rank-normalised scores, table descriptors);
- ``policy``, ``train``: the policy network, REINFORCE training and its plain files;
- ``corpus``: the generated training tasks (``meta_datasets/anomaly/corpus.json``);
- ``estimator``: ``MetaAnomalyDetector``, the scikit-learn style estimator;
- ``default_plugins.detectors`` (outside this package) registers the detectors through the
  ``register_detectors`` hook.

Torch is imported only when a policy is trained or used.
"""
from __future__ import annotations

from .detectors import DETECTOR_NAMES
from .estimator import BaseDetector, MetaAnomalyDetector

__all__ = ["DETECTOR_NAMES", "BaseDetector", "MetaAnomalyDetector"]
