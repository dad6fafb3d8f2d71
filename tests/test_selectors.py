"""Selectors learn from a knowledge base and rank: the toy knowledge base has a clear answer
(one configuration is best on each of two families of tables, told apart by a meta-feature)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from metaclust_automl.errors import KnowledgeBaseError
from metaclust_automl.selectors.base import Query
from metaclust_automl.selectors.features import Standardiser, config_descriptors
from metaclust_automl.selectors.fitting import group_split
from metaclust_automl.selectors.state import StaleWeightsError, kb_fingerprint
from metaclust_automl.selectors.knn import KNNSelector
from metaclust_automl.selectors.maml import MAMLSelector
from metaclust_automl.selectors.rl2 import RL2Selector
from metaclust_automl.selectors.tinykb import toy_kb

FAST = {
    "knn": lambda: KNNSelector(k=3),
    "maml": lambda: MAMLSelector(steps=100, meta_batch=8, n_bags=2),
    "rl2": lambda: RL2Selector(steps=120, batch=32, max_budget=3, n_bags=2),
}
_fitted: dict[str, object] = {}


@pytest.fixture(scope="module")
def kb():
    return toy_kb(n_tasks=40, seed=0)


def fitted(name, kb):
    if name not in _fitted:
        _fitted[name] = FAST[name]().fit(kb)
    return _fitted[name]


def family_query(f: float, **kw) -> Query:
    return Query(metafeatures=np.array([f, 0.0, 0.0, 0.0]), **kw)


def probe_from(kb, task: int):
    return lambda c: dict(zip(kb.index_names, kb.C[task, c].tolist()))


@pytest.mark.parametrize("name", ["knn", "maml", "rl2"])
def test_selector_ranks_the_right_configuration_first(name, kb):
    sel = fitted(name, kb)
    a = sel.predict_scores(family_query(-1.0))
    b = sel.predict_scores(family_query(1.0))
    assert a.shape == b.shape == (len(kb.configs),)
    assert kb.configs[int(np.argmax(a))].id == "good-a"
    assert kb.configs[int(np.argmax(b))].id == "good-b"
    # the bad configuration is never above the good one of the family
    assert a[0] > a[5] and b[1] > b[5]


@pytest.mark.parametrize("name", ["knn", "maml", "rl2"])
def test_selector_with_budget_probes_and_still_ranks(name, kb):
    sel = fitted(name, kb)
    calls: list[int] = []
    probe = probe_from(kb, 0)  # task 0 is of family A

    def counting(c):
        calls.append(c)
        return probe(c)

    scores = sel.predict_scores(family_query(-1.0, probe=counting, budget=2))
    assert 1 <= len(calls) <= 2 and len(set(calls)) == len(calls)
    assert kb.configs[int(np.argmax(scores))].id == "good-a"


@pytest.mark.parametrize("name", ["knn", "maml", "rl2"])
def test_feasible_mask_limits_what_is_probed(name, kb):
    sel = fitted(name, kb)
    feasible = np.ones(len(kb.configs), bool)
    feasible[0] = False  # good-a cannot run here
    calls: list[int] = []
    sel.predict_scores(family_query(-1.0, probe=lambda c: calls.append(c) or probe_from(kb, 0)(c),
                                    budget=3, feasible=feasible))
    assert 0 not in calls


@pytest.mark.parametrize("name", ["knn", "maml", "rl2"])
def test_save_load_round_trip(name, kb, tmp_path):
    sel = fitted(name, kb)
    sel.save(tmp_path / name)
    files = sorted(p.name for p in (tmp_path / name).iterdir())
    assert "selector.json" in files and not any(f.endswith((".pkl", ".pickle", ".pt")) for f in files)
    meta = json.loads((tmp_path / name / "selector.json").read_text())
    assert meta["kb_fingerprint"] == kb_fingerprint(kb)
    again = type(sel).load(tmp_path / name, kb)
    for f in (-1.0, 1.0):
        np.testing.assert_allclose(again.predict_scores(family_query(f)), sel.predict_scores(family_query(f)),
                                   atol=1e-5)


@pytest.mark.parametrize("name", ["knn", "maml"])
def test_weights_of_another_knowledge_base_are_rejected(name, kb, tmp_path):
    fitted(name, kb).save(tmp_path / name)
    other = toy_kb(n_tasks=40, seed=1)
    with pytest.raises(StaleWeightsError, match="different knowledge base"):
        type(fitted(name, kb)).load(tmp_path / name, other)


def test_tampered_weights_are_rejected(kb, tmp_path):
    fitted("maml", kb).save(tmp_path / "m")
    path = tmp_path / "m" / "weights.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(KnowledgeBaseError, match="checksum"):
        MAMLSelector.load(tmp_path / "m", kb)


def test_loading_a_foreign_directory_fails_clearly(kb, tmp_path):
    with pytest.raises(KnowledgeBaseError, match="train-selectors"):
        KNNSelector.load(tmp_path, kb)
    fitted("knn", kb).save(tmp_path / "k")
    with pytest.raises(KnowledgeBaseError, match="not 'maml'"):
        MAMLSelector.load(tmp_path / "k", kb)


def test_few_labels_change_the_ranking_when_they_disagree(kb):
    sel = fitted("maml", kb)
    before = sel.predict_scores(family_query(-1.0))
    assert kb.configs[int(np.argmax(before))].id == "good-a"
    rng = np.random.default_rng(0)
    n = 200
    truth = rng.integers(0, 3, n)
    labels = np.full(n, -1)
    labels[:60] = truth[:60]  # 60 known labels

    def run(c):  # good-b reproduces the truth, everything else is random
        return truth.copy() if kb.configs[c].id == "good-b" else rng.integers(0, 3, n)

    after = sel.predict_scores(family_query(-1.0, labels=labels, run=run))
    assert kb.configs[int(np.argmax(after))].id == "good-b"
    assert not np.allclose(after, before)


def test_labels_that_agree_keep_the_ranking(kb):
    sel = fitted("maml", kb)
    n = 200
    truth = np.arange(n) % 3
    labels = np.where(np.arange(n) < 50, truth, -1)
    rng = np.random.default_rng(1)
    after = sel.predict_scores(family_query(
        -1.0, labels=labels, run=lambda c: truth.copy() if kb.configs[c].id == "good-a" else rng.integers(0, 3, n)))
    assert kb.configs[int(np.argmax(after))].id == "good-a"


def test_numpy_forward_matches_torch(kb):
    import torch

    from metaclust_automl.selectors import nets

    sel = fitted("maml", kb)
    K, I = len(kb.configs), len(kb.index_names)
    z = np.array([0.3, -0.2, 1.0, 0.1])
    obs = np.random.default_rng(0).normal(size=(K, I))
    mask = np.array([1, 0, 1, 0, 0, 1], float)
    base = np.linspace(0.1, 0.9, K)
    p = nets.to_torch(sel.params_)
    f32 = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    want = nets.quality_torch(p, f32(z[None]), f32(sel.desc_), f32(obs[None]), f32(mask[None]),
                              f32(base[None]))[0].detach().numpy()
    np.testing.assert_allclose(nets.quality_numpy(sel.params_, z, sel.desc_, obs, mask, base), want, atol=1e-4)

    pol = fitted("rl2", kb)
    pt = nets.to_torch(pol.params_)
    desc = torch.tensor(pol.desc_, dtype=torch.float32)
    h = nets.policy_h0_torch(pt, torch.tensor(z[None], dtype=torch.float32))
    x = torch.randn(1, pt["gru.wi"].shape[1], generator=torch.Generator().manual_seed(0))
    h1 = nets.policy_step_torch(pt, h, x)
    q, logits = nets.policy_heads_torch(pt, h1, *nets.policy_config_torch(pt, desc), f32(base[None]))
    npol = nets.PolicyNumpy(pol.params_, pol.desc_)
    h1n = npol.step(npol.h0(z), x[0].numpy().astype(float))
    qn, ln = npol.heads(h1n, base)
    np.testing.assert_allclose(h1n, h1[0].detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(qn, q[0].detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(ln, logits[0].detach().numpy(), atol=1e-3)


def test_same_seed_same_weights(kb):
    a = MAMLSelector(steps=20, meta_batch=4, n_bags=1, random_state=3).fit(kb)
    b = MAMLSelector(steps=20, meta_batch=4, n_bags=1, random_state=3).fit(kb)
    for k in a.params_:
        np.testing.assert_array_equal(a.params_[k], b.params_[k])


def test_unfitted_selector_says_so():
    from metaclust_automl.errors import ConfigError

    for cls in (KNNSelector, MAMLSelector, RL2Selector):
        with pytest.raises(ConfigError, match="not fitted"):
            cls().predict_scores(family_query(0.0))


def test_registered_through_the_hook():
    from metaclust_automl.plugins import get_registry

    reg = get_registry()
    for name, cls in (("knn", KNNSelector), ("maml", MAMLSelector), ("rl2", RL2Selector)):
        assert isinstance(reg.selector(name)(), cls)


def test_helpers(kb):
    s = Standardiser.fit(np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [100.0, 1.0]]))
    z = s.transform(np.array([[1.0, 1.0], [1e9, 1.0]]))
    assert np.all(np.isfinite(z)) and z[1, 0] == s.clip and z[0, 1] == 0.0
    D, names = config_descriptors(kb)
    assert D.shape[0] == len(kb.configs) and "algo=kmeans" in names
    assert D[0, names.index("algo=kmeans")] == 1 and D[1, names.index("algo=kmeans")] == 0
    train, val = group_split(kb, 0.2, seed=0)
    groups_t = {kb.tasks[i].group for i in train}
    assert val.size > 0 and not groups_t & {kb.tasks[i].group for i in val}
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(kb.tasks)))


# -- scikit-learn's conventions ------------------------------------------------------------

@pytest.mark.parametrize("name", ["knn", "maml", "rl2"])
def test_selectors_follow_scikit_learn_conventions(name, kb):
    """__init__ stores its parameters unchanged (a string stays a string: nothing is converted
    there), get_params/set_params read them back, and what fit learns ends in '_'."""
    from metaclust_automl.errors import ConfigError
    from metaclust_automl.selectors.base import Selector

    sel = FAST[name]()
    assert isinstance(sel, Selector)
    params = sel.get_params()
    assert set(vars(sel)) == set(params)  # nothing but parameters before fit
    sel.set_params(metric="nmi")
    assert sel.get_params()["metric"] == "nmi"
    with pytest.raises(ConfigError, match="no parameter"):
        sel.set_params(not_a_parameter=1)
    if name != "knn":  # the randomised ones take random_state; knn is deterministic
        assert params["random_state"] == 0
    learned = set(vars(fitted(name, kb))) - set(params)
    assert learned and all(a.endswith("_") for a in learned), sorted(learned)


def test_the_selector_base_class_is_abstract():
    from metaclust_automl.selectors.base import Selector

    with pytest.raises(TypeError):
        Selector()  # type: ignore[abstract]

    class NoScores(Selector):
        def fit(self, kb):
            return self

    with pytest.raises(TypeError):
        NoScores()  # type: ignore[abstract]


def test_random_state_sets_the_seed(kb):
    a = MAMLSelector(steps=20, meta_batch=4, n_bags=1, random_state=3).fit(kb)
    b = MAMLSelector(steps=20, meta_batch=4, n_bags=1, random_state=4).fit(kb)
    assert any(not np.array_equal(a.params_[k], b.params_[k]) for k in a.params_)
