"""From a table to the policy's state: fit the detector bank, normalise, describe.

Shared by training (states of the corpus tasks) and scoring (states of a user's table),
so both see exactly the same features.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..threads import table_threads
from .detectors import DETECTOR_NAMES, DetectorBank
from .features import ScoreNormaliser, build_state, detector_descriptors, table_descriptors


@dataclass
class Observation:
    """A fitted table: the detectors, their in-sample scores and the table's descriptors."""

    bank: DetectorBank
    normaliser: ScoreNormaliser
    table: np.ndarray
    detectors_desc: np.ndarray
    scores: np.ndarray
    state: np.ndarray

    def state_of(self, X: np.ndarray) -> np.ndarray:
        """The state of new rows, placed on the fitted table's scales."""
        with table_threads(*X.shape):
            S = self.bank.score(X)
        ranks, mags = self.normaliser.transform(S)
        return build_state(ranks, mags, self.table, self.detectors_desc)


def observe(X: np.ndarray, *, detectors: tuple[str, ...] = DETECTOR_NAMES, max_reference: int = 10_000,
            seed: int = 0) -> Observation:
    """Fit every detector on ``X`` (a validated float matrix) and build the in-sample state."""
    bank = DetectorBank(max_reference=max_reference, seed=seed, names=tuple(detectors))
    with table_threads(*X.shape):
        S, Z = bank.fit_transform(X)
        normaliser = ScoreNormaliser.fit(S)
        ranks, mags = normaliser.transform(S)
        n_constant = X.shape[1] - bank.keep_.size
        table = table_descriptors(Z, n_constant, seed=seed)
        del Z
    det = detector_descriptors(ranks, mags, seed=seed)
    return Observation(bank=bank, normaliser=normaliser, table=table, detectors_desc=det, scores=S,
                       state=build_state(ranks, mags, table, det))
