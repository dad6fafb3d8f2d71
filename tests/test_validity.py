"""The learned validity index: fitted from the knowledge base's C and P, it judges probes."""
from __future__ import annotations

import numpy as np

from metaclust_automl.knowledge_base import STATUS, load_default
from metaclust_automl.selectors.validity import ValidityIndex, for_kb, rescore_probes


def test_it_predicts_held_out_ari_better_than_the_mean():
    kb = load_default()
    T = len(kb.tasks)
    train, test = np.arange(T) % 4 != 0, np.arange(T) % 4 == 0
    vi = ValidityIndex.fit(kb, rows=np.flatnonzero(train))
    P = np.nan_to_num(kb.performance("ari"), nan=0.0)
    ok = kb.status == STATUS["ok"]
    pred, true = [], []
    for t in np.flatnonzero(test):
        for c in np.flatnonzero(ok[t]):
            pred.append(vi.predict(kb.configs[c].algorithm, kb.C[t, c]))
            true.append(P[t, c])
    pred, true = np.array(pred), np.array(true)
    mse, base = np.mean((pred - true) ** 2), np.mean((true - true.mean()) ** 2)
    assert mse < 0.8 * base
    assert np.corrcoef(pred, true)[0, 1] > 0.4


def test_rescore_changes_only_probed_configurations():
    kb = load_default()
    scores = np.linspace(0.0, 1.0, len(kb.configs))
    good = dict(zip(kb.index_names, [0.7, 6.0, 0.4, 3.0, 0.0, 0.5]))
    bad = dict(zip(kb.index_names, [-0.1, 2.0, 4.0, 30.0, 0.4, -0.6]))
    out = rescore_probes(kb, scores, {0: good, 1: bad})
    assert np.array_equal(out[2:], scores[2:])
    assert out[0] > out[1]  # the same prior, a better probe
    assert rescore_probes(kb, scores, {}) is scores
    assert for_kb(kb) is for_kb(kb)  # fitted once per knowledge base
