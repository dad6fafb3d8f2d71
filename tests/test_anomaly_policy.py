"""The RL policy: it learns from tiny tasks, and its plain files round-trip and are checked."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from metaclust_automl.generators.anomalies import generate
from metaclust_automl.anomaly.observe import observe
from metaclust_automl.anomaly.policy import META_FILE, WEIGHTS_FILE, Policy
from metaclust_automl.training.anomaly_policy import TrainConfig, task_states, train_policy
from metaclust_automl.errors import KnowledgeBaseError

SPEC = {
    "format": "metaclust-anomaly-corpus", "seed": 11, "max_rows": 250,
    "augment": {},
    "families": [
        {"family": "synthetic", "count": 10, "dims": [2, 4, 6], "rows": [120, 220],
         "contamination": [0.05, 0.1], "anomalies": ["global", "clustered", "local"]},
    ],
}
CONFIG = TrainConfig(hidden=(16, 16), steps=150, tasks_per_batch=8, rows_per_class=16, eval_every=50,
                     validation_share=0.2, dropout=0.0, lr=5e-3, seed=0)


@pytest.fixture(scope="module")
def trained() -> Policy:
    states = task_states(list(generate(SPEC)), seed=0)
    return train_policy(states, CONFIG)


def planted_table(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 3))
    X[:8] = rng.uniform(-7, 7, size=(8, 3)) + 6.0 * np.sign(rng.normal(size=(8, 3)))
    y = np.r_[np.ones(8), np.zeros(192)]
    return X, y


def test_policy_trained_on_tiny_tasks_ranks_planted_anomalies_above_normal_rows(trained: Policy) -> None:
    X, y = planted_table()
    p = trained.prob_anomalous(observe(X).state)
    assert np.all((p >= 0) & (p <= 1))
    assert roc_auc_score(y, p) > 0.95
    assert p[y == 1].mean() > p[y == 0].mean() + 0.2  # it learned to *call* them, not only to rank
    assert trained.info["validation_auc"] > 0.8 and trained.info["train_tasks"] == 8


def balanced_accuracy_of_calls(p: np.ndarray, y: np.ndarray) -> float:
    calls = p >= 0.5
    return 0.5 * (calls[y == 1].mean() + (~calls[y == 0]).mean())


def test_training_is_what_makes_the_calls_right(trained: Policy) -> None:
    import torch

    from metaclust_automl.anomaly.policy import build_network

    torch.manual_seed(123)
    net = build_network(len(trained.detectors), len(trained.feature_names), (16, 16))
    blank = Policy(net=net, feature_names=trained.feature_names, detectors=trained.detectors,
                   input_mean=trained.input_mean, input_std=trained.input_std, hidden=(16, 16))
    X, y = planted_table()
    state = observe(X).state
    assert balanced_accuracy_of_calls(trained.prob_anomalous(state), y) > 0.9
    assert balanced_accuracy_of_calls(blank.prob_anomalous(state), y) < 0.75


def test_contamination_head_learns_the_share_of_anomalies(trained: Policy) -> None:
    # the tiny corpus has 5% and 10% anomalies: the estimate lands near there, not at 0.001 or 0.5
    X, _ = planted_table()
    assert 0.02 < trained.estimate_contamination(observe(X).state) < 0.25


def test_undetectable_tasks_are_left_out_of_training() -> None:
    from metaclust_automl.training.anomaly_policy import TaskStates, filter_tasks

    rng = np.random.default_rng(0)
    normal = rng.normal(size=(200, 3)) * 3.0
    X = np.vstack([normal, rng.normal(size=(10, 3)) * 0.1])  # "anomalies" in the dense centre
    y = np.r_[np.zeros(200), np.ones(10)].astype(int)
    inverted = TaskStates("inverted", "test", observe(X).state, y)
    Xp, yp = planted_table()
    fine = TaskStates("planted", "test", observe(Xp).state, yp.astype(int))
    kept, dropped = filter_tasks([inverted, fine])
    assert [t.id for t in kept] == ["planted"] and dropped == 1


def test_training_is_reproducible_with_the_same_seed(trained: Policy) -> None:
    states = task_states(list(generate(SPEC)), seed=0)
    again = train_policy(states, CONFIG)
    X, _ = planted_table()
    state = observe(X).state
    np.testing.assert_allclose(again.prob_anomalous(state), trained.prob_anomalous(state), rtol=1e-6)


def test_save_load_round_trip(trained: Policy, tmp_path) -> None:
    trained.save(tmp_path / "p")
    assert sorted(f.name for f in (tmp_path / "p").iterdir()) == [META_FILE, WEIGHTS_FILE]
    loaded = Policy.load(tmp_path / "p")
    X, _ = planted_table(seed=9)
    state = observe(X).state
    # torch runs in float32: on logits up to ~15 its rounding reaches a few 1e-6 (measured
    # 3.7e-6 before and after the numpy forward pass was restructured)
    np.testing.assert_allclose(loaded.logits(state), trained.logits(state), rtol=0, atol=2e-5)
    np.testing.assert_allclose(loaded.prob_anomalous(state), trained.prob_anomalous(state), rtol=0, atol=1e-6)
    assert loaded.detectors == trained.detectors and loaded.hidden == (16, 16)
    assert loaded.info["best_step"] == trained.info["best_step"]


def test_tampered_or_foreign_files_are_refused(trained: Policy, tmp_path) -> None:
    d = tmp_path / "p"
    trained.save(d)
    blob = bytearray((d / WEIGHTS_FILE).read_bytes())
    blob[-1] ^= 0xFF
    (d / WEIGHTS_FILE).write_bytes(bytes(blob))
    with pytest.raises(KnowledgeBaseError, match="checksum"):
        Policy.load(d)

    trained.save(d)
    meta = json.loads((d / META_FILE).read_text())
    meta["feature_names"] = meta["feature_names"][:-1]
    (d / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(KnowledgeBaseError, match="retrain"):
        Policy.load(d)

    (d / META_FILE).write_text("{not json")
    with pytest.raises(KnowledgeBaseError, match="JSON"):
        Policy.load(d)
    with pytest.raises(KnowledgeBaseError, match="no anomaly policy"):
        Policy.load(tmp_path / "missing")


def test_shipped_policy_loads_and_scores_planted_anomalies() -> None:
    policy = Policy.load()
    X, y = planted_table(seed=5)
    assert roc_auc_score(y, policy.prob_anomalous(observe(X).state)) > 0.95


def test_task_states_record_the_anomaly_kind_and_the_cache_keeps_it(tmp_path) -> None:
    from metaclust_automl.errors import ConfigError
    from metaclust_automl.training.anomaly_policy import load_cache, save_cache

    tasks = list(generate(SPEC, limit_per_family=4))
    states = task_states(tasks, seed=0)
    assert [s.kind for s in states] == [t.info["kind"] for t in tasks]
    assert set(s.kind for s in states) <= {"global", "clustered", "local"}
    path = tmp_path / "states.npz"
    save_cache(path, states, "h")
    back = load_cache(path, "h")
    assert [s.kind for s in back] == [s.kind for s in states]
    np.testing.assert_array_equal(back[0].state, states[0].state)
    # a cache written before the kinds were recorded is refused, not read as kind-less
    with np.load(path) as z:
        old = {k: z[k] for k in z.files if k != "kinds"}
    np.savez(tmp_path / "old.npz", **old)
    with pytest.raises(ConfigError, match="kinds"):
        load_cache(tmp_path / "old.npz", "h")


def test_kind_balanced_mean_weights_kinds_not_tasks() -> None:
    from metaclust_automl.training.anomaly_policy import kind_balanced_mean

    # three "a" tasks at 1.0 and one "b" task at 0.0: the task mean is 0.75, the kind mean 0.5
    assert kind_balanced_mean([1.0, 1.0, 1.0, 0.0], ["a", "a", "a", "b"]) == pytest.approx(0.5)


def test_training_without_kind_balance_or_hard_negatives_still_learns() -> None:
    from dataclasses import replace

    states = task_states(list(generate(SPEC)), seed=0)
    plain = train_policy(states, replace(CONFIG, balance_kinds=False, hard_negatives=0.0))
    X, y = planted_table()
    assert roc_auc_score(y, plain.prob_anomalous(observe(X).state)) > 0.95
