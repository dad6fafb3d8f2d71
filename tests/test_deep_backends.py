"""The torch backends ``prototype`` and ``gan`` on tiny generated data (CPU, seconds)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from metaclust_automl.errors import ConfigError, KnowledgeBaseError
from metaclust_automl.metrics import ari

torch = pytest.importorskip("torch")

FAST_PROTO = {"steps": 60, "hidden": 32, "batch_size": 64, "verbose": False}
FAST_GAN = {"steps": 150, "hidden": 32, "batch_size": 64, "verbose": False}


@pytest.fixture(autouse=True)
def _few_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def separated() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=180, n_features=5, centers=3, cluster_std=0.7, random_state=3)
    return X, y


@pytest.fixture
def prototype():
    from metaclust_automl.backends.prototype import PrototypeBackend

    return PrototypeBackend()


@pytest.fixture
def gan():
    from metaclust_automl.backends.gan import GANBackend

    return GANBackend()


class FakeTrial:
    """Answers an Optuna-style search space with the low end of every range."""

    def suggest_int(self, name, low, high, log=False):
        return low

    def suggest_float(self, name, low, high, log=False):
        return low

    def suggest_categorical(self, name, choices):
        return choices[0]


# -- registry, parameters ---------------------------------------------------------------

def test_both_backends_are_registered_with_a_device_parameter():
    from metaclust_automl.plugins import get_registry

    reg = get_registry()
    for name in ("prototype", "gan"):
        backend = reg.backend(name)
        described = {p["name"]: p for p in backend.describe()["parameters"]}
        assert described["device"]["choices"] == ["auto", "cpu", "cuda"]
        assert described["device"]["searched"] is False
        assert described["n_clusters"]["searched"] is True
        assert backend.uses_torch and backend.cost == "linear"


@pytest.mark.parametrize("name", ["prototype", "gan"])
def test_search_space_draws_only_searched_parameters_and_they_validate(name):
    from metaclust_automl.plugins import get_registry

    backend = get_registry().backend(name)
    drawn = backend.search_space(FakeTrial())
    assert "device" not in drawn and "verbose" not in drawn and "n_clusters" in drawn
    assert backend.validate(drawn)["n_clusters"] == drawn["n_clusters"]


def test_importing_the_registry_does_not_import_torch():
    code = ("import sys, metaclust_automl.plugins as p; p.get_registry(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cuda_request_without_cuda_is_a_config_error(prototype, separated):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="cuda"):
        prototype.run(separated[0], {"n_clusters": 3, "device": "cuda", **FAST_PROTO})


# -- prototype --------------------------------------------------------------------------

def test_prototype_labels_every_row_and_finds_the_blobs(prototype, separated):
    X, y = separated
    run = prototype.run(X, {"n_clusters": 3, **FAST_PROTO}, seed=0)
    assert run.labels.shape == (X.shape[0],)
    assert run.labels.min() >= 0  # no noise label
    assert run.n_clusters == 3
    assert ari(y, run.labels) > 0.95


@pytest.mark.parametrize("rule", ["meta", "plain"])
def test_prototype_is_deterministic_for_a_seed(prototype, separated, rule):
    X, _ = make_blobs(n_samples=150, n_features=4, centers=4, cluster_std=2.0, random_state=1)
    params = {"n_clusters": 4, "rule": rule, **FAST_PROTO}
    a = prototype.run(X, params, seed=7).labels
    b = prototype.run(X, params, seed=7).labels
    np.testing.assert_array_equal(a, b)


def test_prototype_switches_off_unneeded_prototypes(prototype, separated):
    X, y = separated
    run = prototype.run(X, {"n_clusters": 7, **FAST_PROTO}, seed=0)
    assert run.n_clusters == 3
    assert ari(y, run.labels) > 0.95


def test_switch_off_merges_a_split_mode_and_drops_a_nearly_empty_cluster():
    from metaclust_automl.backends.deep.merge import switch_off

    rng = np.random.default_rng(0)
    blob = rng.normal(size=(600, 3))
    other = rng.normal(size=(300, 3)) + np.array([9.0, 0.0, 0.0])
    U = np.vstack([blob, other])
    labels = np.r_[np.where(blob[:, 1] < 0, 0, 1), np.full(300, 2)]
    labels[5] = 3  # a prototype that holds one row
    out, notes = switch_off(U, labels, min_share=0.01, valley=0.85)
    assert out.min() == 0 and np.unique(out).size == 2
    assert np.unique(out[:600]).size == 1 and np.unique(out[600:]).size == 1
    assert len(notes) == 2
    # with the merge made impossible only the nearly empty cluster goes
    out, _ = switch_off(U, labels, min_share=0.01, valley=1.01)
    assert np.unique(out).size == 3


def test_prototype_tiles_follow_curved_clusters(prototype):
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=300, noise=0.05, random_state=0)
    run = prototype.run(X, {"n_clusters": 2, "prototypes_per_cluster": 6, **FAST_PROTO}, seed=0)
    assert run.n_clusters == 2
    assert ari(y, run.labels) > 0.9


def test_group_tiles_joins_tiles_linked_by_neighbours():
    from metaclust_automl.backends.deep.merge import group_tiles

    # 6 tiles of 10 rows in two chains: 0-1-2 and 3-4-5; each row's neighbours lie in
    # its own tile or the next one along its chain
    tiles = np.repeat(np.arange(6), 10)
    rng = np.random.default_rng(0)
    chain_next = {0: 1, 1: 2, 2: 1, 3: 4, 4: 5, 5: 4}
    neighbours = np.stack([rng.choice(np.flatnonzero(np.isin(tiles, [t, chain_next[t]])), 4)
                           for t in tiles])
    labels = group_tiles(tiles, neighbours, 2)
    assert np.unique(labels[:30]).size == 1 and np.unique(labels[30:]).size == 1
    assert labels[0] != labels[30]
    np.testing.assert_array_equal(group_tiles(tiles, neighbours, 6), tiles)  # as many groups as tiles


def test_prototype_handles_fewer_rows_than_prototypes(prototype):
    X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0], [5.0, 5.1]])
    labels = prototype.run(X, {"n_clusters": 8, **FAST_PROTO}, seed=0).labels
    assert labels.shape == (6,) and labels.min() >= 0 and np.unique(labels).size <= 6
    labels = prototype.run(X, {"n_clusters": 2, **FAST_PROTO}, seed=0).labels
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1])


# -- the update rule's weights ------------------------------------------------------------

def _some_rule():
    from metaclust_automl.backends.deep import rule

    r = rule.UpdateRule.plain()
    r.logs["tau"] = np.linspace(np.log(0.2), np.log(0.03), rule.KNOTS).astype(np.float32)
    r.logs["balance"] = np.full(rule.KNOTS, np.log(2.0), dtype=np.float32)
    r.meta = {"note": "test rule"}
    return r


def test_rule_save_load_round_trip_and_same_labels(tmp_path, separated):
    from metaclust_automl.backends.deep import rule
    from metaclust_automl.backends.prototype import PrototypeBackend

    original = _some_rule()
    path = rule.save_rule(tmp_path / "rule.safetensors", original)
    loaded = rule.load_rule(path)
    assert loaded.learned and loaded.meta == {"note": "test rule"}
    for name in rule.NAMES:
        np.testing.assert_array_equal(loaded.logs[name], original.logs[name])

    backend = PrototypeBackend()
    backend.rule_path = path
    X = separated[0]
    one = {"n_clusters": 3, "restarts": 1, "prototypes_per_cluster": 1, **FAST_PROTO}
    via_file = backend.run(X, one, seed=2).labels
    # the same schedules given directly to the training loop give the same labels
    from metaclust_automl.backends.deep import prototypes, space

    gen = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    Z = torch.from_numpy(space.transform(space.fit_space(X, seed=2), X))
    nb = space.mine_neighbours(Z, 10, gen)
    p0 = prototypes.init_params(Z, 3, 32, gen, nb)
    fitted = prototypes.train(p0, Z, nb, original.tensors(), steps=60, batch_size=64, generator=gen)
    direct = prototypes.assign(fitted, Z).numpy()
    assert ari(direct, via_file) == pytest.approx(1.0)


def test_missing_rule_file_falls_back_to_plain_with_a_warning(tmp_path, separated):
    from metaclust_automl.backends.deep.rule import RuleWarning
    from metaclust_automl.backends.prototype import PrototypeBackend

    backend = PrototypeBackend()
    backend.rule_path = tmp_path / "absent.safetensors"
    with pytest.warns(RuleWarning, match="plain"):
        meta = backend.run(separated[0], {"n_clusters": 3, **FAST_PROTO}, seed=1).labels
    plain = backend.run(separated[0], {"n_clusters": 3, "rule": "plain", **FAST_PROTO}, seed=1).labels
    np.testing.assert_array_equal(meta, plain)


def test_corrupt_or_foreign_rule_files_are_refused(tmp_path):
    from safetensors.numpy import save

    from metaclust_automl.backends.deep import rule

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    with pytest.raises(KnowledgeBaseError):
        rule.load_rule(bad)
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(save({"weight": np.zeros(3, dtype=np.float32)}, metadata={"format": "other"}))
    with pytest.raises(KnowledgeBaseError, match="not a metaclust prototype rule"):
        rule.load_rule(foreign)


def test_shipped_rule_is_meta_learned_and_loads():
    from metaclust_automl.backends.deep import rule

    loaded = rule.load_rule(rule.DEFAULT_PATH)
    assert loaded.learned
    assert loaded.meta.get("iters", 0) > 0
    assert rule.DEFAULT_PATH.stat().st_size < 100_000
    # the build scored it on held-out tasks of both kinds; a rule worse than plain there is not shipped
    for kind in ("corpus", "generated"):
        assert loaded.meta[f"heldout_{kind}_tasks"] > 0
        assert loaded.meta[f"heldout_{kind}_ari_learned"] > loaded.meta[f"heldout_{kind}_ari_plain"]


def test_es_meta_training_moves_the_rule_deterministically_within_bounds():
    from metaclust_automl.training import prototype_rule
    from metaclust_automl.backends.deep import rule
    from metaclust_automl.training import prototype_tasks as meta_tasks

    def train():
        pool = meta_tasks.TaskPool(corpus_share=0.0, rows=(60, 90))
        learned, info = prototype_rule.meta_train_es(iters=2, steps=5, seed=1, meta_lr=0.05, pool=pool,
                                                     pairs=1, sigma=0.2, log=lambda s: None)
        return learned, info

    first, info = train()
    again, _ = train()
    plain = rule.UpdateRule.plain()
    assert info["method"] == "es" and info["iters"] == 2
    moved = False
    for name in rule.NAMES:
        np.testing.assert_array_equal(first.logs[name], again.logs[name])
        assert first.logs[name].shape == (rule.KNOTS,) and np.all(np.isfinite(first.logs[name]))
        moved |= not np.allclose(first.logs[name], plain.logs[name])
    assert moved  # the Adam step changed the schedules (sign of the ES estimate aside)


# -- gan ------------------------------------------------------------------------------------

def test_gan_labels_every_row_from_the_encoder(gan, separated):
    X, y = separated
    run = gan.run(X, {"n_clusters": 3, **FAST_GAN}, seed=0)
    assert run.labels.shape == (X.shape[0],)
    assert run.labels.min() >= 0
    assert ari(y, run.labels) > 0.9


def test_gan_is_deterministic_for_a_seed(gan):
    X, _ = make_blobs(n_samples=150, n_features=4, centers=4, cluster_std=2.0, random_state=1)
    params = {"n_clusters": 4, **FAST_GAN}
    np.testing.assert_array_equal(gan.run(X, params, seed=3).labels, gan.run(X, params, seed=3).labels)


def test_gan_losses_stay_finite_and_early_stopping_ends_training(separated):
    from metaclust_automl.backends.deep import clustergan, space

    X = separated[0]
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    Z = torch.from_numpy(space.transform(space.fit_space(X), X))
    nb = space.mine_neighbours(Z, 10, gen)
    cfg = clustergan.GanConfig(k=3, hidden=32, steps=2000, batch_size=64, check_every=20, patience=2, tol=1.0)
    report = clustergan.train(clustergan.build(Z, nb, cfg, gen), Z, nb, cfg, gen)
    assert report["stopped_early"] and report["steps"] == 40
    assert np.isfinite(report["d"]) and np.isfinite(report["ge"])
    # a pure ClusterGAN (no real-row terms) also trains with finite losses
    cfg = clustergan.GanConfig(k=3, hidden=32, steps=60, batch_size=64, real_weight=0.0, cycle_weight=0.0)
    report = clustergan.train(clustergan.build(Z, nb, cfg, gen), Z, nb, cfg, gen)
    assert not report["stopped_early"] and report["steps"] == 60
    assert np.isfinite(report["d"]) and np.isfinite(report["ge"])


def test_gan_tiles_follow_curved_clusters(gan):
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=300, noise=0.05, random_state=0)
    run = gan.run(X, {"n_clusters": 2, "prototypes_per_cluster": 6, **FAST_GAN}, seed=0)
    assert run.n_clusters == 2
    assert ari(y, run.labels) > 0.9


def test_gan_training_length_scales_with_the_table_unless_given(gan):
    from metaclust_automl.backends.gan import MAX_STEPS, MIN_STEPS, auto_steps

    p = gan.validate({"n_clusters": 3})
    assert p["steps"] is None
    assert auto_steps(100, 256) == MIN_STEPS  # a tiny table: the floor
    assert auto_steps(1797, 256) == 400  # digits: 50 passes of 8 batches
    assert auto_steps(70_000, 256) == MAX_STEPS  # a big one: sampled
    assert gan.config(p, 3, 1797).steps == 400
    assert gan.config(gan.validate({"n_clusters": 3, "steps": 77}), 3, 1797).steps == 77


def test_hand_written_adam_matches_torch_optim():
    from metaclust_automl.backends.deep.optim import Adam

    torch.manual_seed(0)
    target = torch.randn(5, 3)
    ours, theirs = torch.nn.Parameter(torch.zeros(5, 3)), torch.nn.Parameter(torch.zeros(5, 3))
    opt_ours = Adam([([ours], 0.05)], betas=(0.5, 0.9), eps=1e-8)
    opt_theirs = torch.optim.Adam([theirs], lr=0.05, betas=(0.5, 0.9), eps=1e-8)
    for _ in range(30):
        for p, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            ((p - target) ** 4).sum().backward()
            opt.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-4, atol=1e-5)
    assert float((ours.detach() - target).abs().max()) < float(target.abs().max())  # it moved to the target


def test_training_runs_on_one_thread_unless_asked_and_restores_the_callers(monkeypatch):
    from metaclust_automl.backends.deep.runtime import training_threads

    torch.set_num_threads(2)
    cpu = torch.device("cpu")
    monkeypatch.delenv("METACLUST_TORCH_THREADS", raising=False)
    with training_threads(cpu):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    monkeypatch.setenv("METACLUST_TORCH_THREADS", "2")
    torch.set_num_threads(1)
    with training_threads(cpu):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("METACLUST_TORCH_THREADS", "many")
    with pytest.raises(ConfigError, match="METACLUST_TORCH_THREADS"):
        with training_threads(cpu):
            pass


# -- helpers: neighbours, switching off -----------------------------------------------------

def test_block_wise_neighbours_stay_in_their_block_and_are_exact_below_it():
    from metaclust_automl.backends.deep import space

    X = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    Z = torch.from_numpy(X)
    exact = space.mine_neighbours(Z, 5, torch.Generator().manual_seed(0))
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    np.testing.assert_array_equal(np.sort(exact.numpy(), 1), np.sort(np.argsort(d2, 1)[:, :5], 1))
    blocked = space.mine_neighbours(Z, 5, torch.Generator().manual_seed(0), block=64, chunk=16).numpy()
    assert blocked.shape == (200, 5)
    assert not np.any(blocked == np.arange(200)[:, None])  # never itself
    # the rows were shuffled into 4 blocks of 50 by the same generator
    perm = torch.randperm(200, generator=torch.Generator().manual_seed(0))
    block_of = np.empty(200, dtype=int)
    for b, idx in enumerate(torch.tensor_split(perm, 4)):
        block_of[idx.numpy()] = b
    assert np.all(block_of[blocked] == block_of[:, None])
    # and within its block each row gets its exact nearest neighbours
    for i in range(0, 200, 37):
        same = np.flatnonzero((block_of == block_of[i]) & (np.arange(200) != i))
        expected = same[np.argsort(d2[i, same])[:5]]
        assert set(blocked[i]) == set(expected)


def test_valley_ratio_tells_one_mode_from_two():
    from metaclust_automl.backends.deep.merge import valley_ratio

    rng = np.random.default_rng(0)
    one = rng.normal(size=(2000, 2))
    left, right = one[one[:, 0] < 0], one[one[:, 0] >= 0]
    assert valley_ratio(left, right) > 0.9
    far = rng.normal(size=(1000, 2)) + np.array([8.0, 0.0])
    assert valley_ratio(one[:1000], far) < 0.05


def test_valley_ratio_separates_parallel_elongated_clusters():
    """Two long, thin, parallel clusters offset along their length: on the line through
    their means they overlap (no valley), across them they are far apart. The test must
    look across, or switching off would merge them."""
    from metaclust_automl.backends.deep.merge import switch_off, valley_ratio

    rng = np.random.default_rng(0)
    a = np.c_[rng.uniform(0.0, 10.0, 800), rng.normal(0.0, 0.1, 800)]
    b = np.c_[rng.uniform(1.0, 11.0, 800), rng.normal(1.5, 0.1, 800)]
    assert valley_ratio(a, b) < 0.05
    labels = np.r_[np.zeros(800, dtype=int), np.ones(800, dtype=int)]
    out, _ = switch_off(np.vstack([a, b]), labels, min_share=0.01, valley=0.85)
    assert np.unique(out).size == 2


# -- command line ----------------------------------------------------------------------------

def test_cli_clusters_a_csv_with_the_prototype_backend(cli, tmp_path, separated):
    X, _ = separated
    data = tmp_path / "data.csv"
    data.write_text("a,b,c,d,e\n" + "\n".join(",".join(f"{v:.5f}" for v in row) for row in X) + "\n")
    out = tmp_path / "out.csv"
    code, _, err = cli("cluster", data, "-a", "prototype", "--set", "n_clusters=3", "--set", "steps=40",
                       "--set", "hidden=32", "-o", out)
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0] == "label" and len(lines) == X.shape[0] + 1
    assert {int(v) for v in lines[1:]} == {0, 1, 2}


def test_cli_gan_with_its_defaults_finds_generated_curved_clusters(cli, tmp_path):
    """The user's path (CSV without labels, default training length, a constant column
    the loader drops) on a small generated table of curved clusters."""
    from metaclust_automl.generators.manifolds import manifold_mixture
    from metaclust_automl.metrics import external_scores

    task = manifold_mixture(400, 4, 12, noise=0.05, separation=2.0, seed=5)
    X = np.column_stack([task.X, np.zeros(task.X.shape[0])])
    data = tmp_path / "curved.csv"
    header = ",".join(f"c{j}" for j in range(X.shape[1]))
    data.write_text(header + "\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in X) + "\n")
    out = tmp_path / "labels.csv"
    code, _, err = cli("cluster", data, "-a", "gan", "--set", "n_clusters=4", "--set", "hidden=32",
                       "--seed", "1", "-o", out)
    assert code == 0, err
    labels = np.array([int(v) for v in out.read_text().splitlines()[1:]])
    assert labels.shape == task.y.shape
    assert external_scores(task.y, labels)["acc"] >= 0.9


def test_reach_keeps_the_nearest_share_of_neighbours_and_plain_keeps_all():
    from metaclust_automl.backends.deep import rule

    assert [rule.partners(r, 10) for r in (1.0, 0.5, 0.31, 0.1, 0.01)] == [10, 5, 4, 1, 1]
    ten = np.arange(10)[None, :]  # one row's ten mined neighbours, nearest first
    assert rule.final_links(rule.UpdateRule.plain().tensors(), ten).shape[1] == 10
    shrinking = rule.UpdateRule.plain()
    shrinking.logs["reach"] = np.linspace(0.0, np.log(0.3), rule.KNOTS).astype(np.float32)
    np.testing.assert_array_equal(rule.final_links(shrinking.tensors(), ten), [[0, 1, 2]])


def test_training_pairs_rows_only_with_their_partners(monkeypatch):
    """With reach r, every mini-batch pair is a row and one of its nearest ceil(r m)
    neighbours: the loss never sees a farther one."""
    from metaclust_automl.backends.deep import prototypes, rule

    Z = torch.randn(80, 4, generator=torch.Generator().manual_seed(0))
    nb = torch.stack([(torch.arange(80) + j) % 80 for j in range(1, 9)], dim=1)  # neighbour j is row + j
    seen = []
    real = prototypes.batch_loss
    monkeypatch.setattr(prototypes, "batch_loss", lambda p, Za, Zb, *a: seen.append((Za, Zb)) or real(p, Za, Zb, *a))
    r = rule.UpdateRule.plain()
    r.logs["reach"][:] = np.log(0.25)
    gen = torch.Generator().manual_seed(1)
    prototypes.train(prototypes.init_params(Z, 3, 8, gen), Z, nb, r.tensors(), steps=6, batch_size=16, generator=gen)
    offsets = set()
    for Za, Zb in seen:
        rows_a = [int(torch.where((Z == a).all(1))[0][0]) for a in Za]
        rows_b = [int(torch.where((Z == b).all(1))[0][0]) for b in Zb]
        offsets |= {(b - a) % 80 for a, b in zip(rows_a, rows_b)}
    assert offsets == {1, 2}


def test_version_one_rule_files_load_with_the_plain_reach(tmp_path):
    from safetensors.numpy import save

    from metaclust_automl.backends.deep import rule

    old = {k: np.full(rule.KNOTS, np.log(v), dtype=np.float32) for k, v in rule.PLAIN_VALUES.items() if k != "reach"}
    path = tmp_path / "v1.safetensors"
    path.write_bytes(save(old, metadata={"format": rule.FORMAT, "version": "1", "meta": "{}"}))
    loaded = rule.load_rule(path)
    np.testing.assert_allclose(loaded.logs["reach"], np.log(rule.PLAIN_VALUES["reach"]))


def test_meta_task_pool_leaves_out_the_benchmark_and_mixes_both_sources():
    from metaclust_automl.training import prototype_tasks as meta_tasks

    pool = meta_tasks.task_pool(corpus_share=0.5)
    names = [t.group for t in pool.train + pool.held_out]
    assert not any(f"/{fam}/" in name for name in names for fam in meta_tasks.EXCLUDED_FAMILIES)
    assert pool.held_out and not {id(t) for t in pool.train} & {id(t) for t in pool.held_out}
    assert max(t.X.shape[0] for t in pool.train + pool.held_out) <= meta_tasks.MAX_ROWS
    assert all(t.n_classes >= 2 and t.n_classes == np.unique(t.y[t.y >= 0]).size for t in pool.train)
    rng = np.random.default_rng(0)
    drawn = [pool.sample(rng) for _ in range(40)]
    from_corpus = sum(any(t is c for c in pool.train) for t in drawn)
    assert 5 < from_corpus < 35
    generated = meta_tasks.TaskPool(corpus_share=0.0, rows=(50, 60)).sample(rng)
    assert 50 <= generated.X.shape[0] < 60
