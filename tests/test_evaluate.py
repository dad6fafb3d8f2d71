"""`metaclust evaluate`: per-task scoring, leave-one-out without leakage, report files.

Selectors are tiny ones defined here against the Selector protocol, and the knowledge
base is built here from a few generated tasks, so that these tests need neither the
selectors' nor meta-training's code.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_moons

from metaclust_automl import metafeatures
from metaclust_automl.backends.noise import apply_policy
from metaclust_automl.corpus import LabelledTask, load_corpus
from metaclust_automl.errors import ConfigError, KnowledgeBaseError
from metaclust_automl.evaluation import leave_one_out as loo
from metaclust_automl.evaluation import report, runner
from metaclust_automl.knowledge_base import STATUS, Config, KnowledgeBase, Task
from metaclust_automl.metrics import INDEX_NAMES, external_scores, internal_indices
from metaclust_automl.plugins import get_registry
from metaclust_automl.selectors.base import Query, Selector

GRID = [("kmeans", {"n_clusters": k}) for k in (2, 3, 4, 5)] + [
    ("hdbscan", {"min_cluster_size_frac": 0.08}),
    ("agglomerative", {"n_clusters": 3, "linkage": "single"}),
    ("dbscan", {"eps_quantile": 0.9, "min_samples": 4}),
]


# -- a tiny corpus and knowledge base -------------------------------------------------

def make_tasks() -> list[LabelledTask]:
    """Six small tasks in three groups; some rows unlabelled (-1, not scored)."""
    specs = [("g1", "blobs2", 2, 0), ("g1", "blobs3", 3, 1), ("g2", "blobs4", 4, 2),
             ("g2", "moons", 0, 3), ("g3", "blobs5", 5, 4), ("g3", "wide3", 3, 5)]
    tasks = []
    for group, name, k, seed in specs:
        if k == 0:
            X, y = make_moons(n_samples=90, noise=0.06, random_state=seed)
        else:
            X, y = make_blobs(n_samples=90, n_features=2 + seed % 2, centers=k,
                              cluster_std=0.6 + 0.3 * (name == "wide3"), random_state=seed)
        y = y.astype(np.int64)
        y[:3] = -1
        tasks.append(LabelledTask(id=f"{group}/{name}", X=X, y=y, group=group))
    return tasks


def build_kb(tasks: list[LabelledTask], seed: int = 0) -> KnowledgeBase:
    """Every grid configuration run on every task, scored as the evaluation scores it (the
    labels as delivered: noise given its nearest cluster; indices of the method's partition)."""
    reg = get_registry()
    T, K = len(tasks), len(GRID)
    P = {m: np.zeros((T, K)) for m in ("ari", "nmi", "acc")}
    C = np.zeros((T, K, len(INDEX_NAMES)))
    rows = []
    for t, task in enumerate(tasks):
        mf = metafeatures.extract(task.X, seed=seed)
        rows.append(mf)
        for c, (algo, params) in enumerate(GRID):
            run = reg.backend(algo).run(task.X, params, seed=seed)
            for m, v in external_scores(task.y, apply_policy(run, task.X).labels, ignore_label=-1).items():
                P[m][t, c] = v
            ii = internal_indices(task.X, run.labels, seed=seed)
            C[t, c] = [ii[i] for i in INDEX_NAMES]
    names = list(rows[0])
    return KnowledgeBase(
        tasks=[Task(id=t.id, group=t.group, n=t.X.shape[0], d=t.X.shape[1]) for t in tasks],
        configs=[Config(id=f"c{i}", algorithm=a, params=p) for i, (a, p) in enumerate(GRID)],
        metafeature_names=names, index_names=list(INDEX_NAMES),
        M=np.array([[r[n] for n in names] for r in rows]), P=P, C=C,
        seconds=np.zeros((T, K)), status=np.full((T, K), STATUS["ok"], dtype=np.int8))


@pytest.fixture(scope="module")
def tasks() -> list[LabelledTask]:
    return make_tasks()


@pytest.fixture(scope="module")
def kb(tasks) -> KnowledgeBase:
    return build_kb(tasks)


# -- tiny selectors ---------------------------------------------------------------------

class MeanSelector(Selector):
    """Oracle-free: every configuration scored by its mean ARI over the knowledge base."""

    name = "mean"

    def fit(self, kb: KnowledgeBase, *, seed: int = 0) -> MeanSelector:
        self.mean = kb.performance("ari").mean(axis=0)
        return self

    def predict_scores(self, query: Query) -> np.ndarray:
        return self.mean.copy()


class Memoriser(Selector):
    """Returns the exact performance row of a task it was fitted on when the query's
    meta-features are that task's: with leakage its top-1 IS the ceiling. The spy part knows
    the corpus, and tells who is asking by the query's table (its meta-features are moved
    into the range of the knowledge base it was fitted on, so they need not be the task's)."""

    name = "memo"

    def __init__(self, full_kb: KnowledgeBase | None = None, log: list | None = None,
                 corpus: list[LabelledTask] | None = None) -> None:
        self.full_kb, self.log, self.corpus = full_kb, log if log is not None else [], corpus or []

    def fit(self, kb: KnowledgeBase, *, seed: int = 0) -> Memoriser:
        self.M, self.P = kb.M.copy(), kb.performance("ari")
        self.ids, self.groups = kb.task_ids, [t.group for t in kb.tasks]
        return self

    def predict_scores(self, query: Query) -> np.ndarray:
        hits = np.flatnonzero(np.all(self.M == query.metafeatures, axis=1))
        if self.full_kb is not None:  # who is asking? (the spy part)
            asking = next((t for t in self.corpus if t.X.shape == query.X.shape and np.array_equal(t.X, query.X)),
                          None)
            self.log.append({"task": asking, "fitted_ids": list(self.ids),
                             "fitted_groups": list(self.groups), "hit": bool(hits.size)})
        return self.P[hits[0]].copy() if hits.size else self.P.mean(axis=0)


class Prober(Selector):
    """Spends its budget probing configurations in order and picks the best silhouette."""

    name = "probe"

    def __init__(self, greedy: bool = False) -> None:
        self.greedy = greedy

    def fit(self, kb: KnowledgeBase, *, seed: int = 0) -> Prober:
        self.K = len(kb.configs)
        return self

    def predict_scores(self, query: Query) -> np.ndarray:
        scores = np.zeros(self.K)
        if query.probe is None:
            return scores
        for c in range(min(self.K, query.budget + (1 if self.greedy else 0))):
            scores[c] = 1.0 + query.probe(c)["silhouette"]
        return scores


class Broken(Selector):
    name = "broken"

    def fit(self, kb: KnowledgeBase, *, seed: int = 0) -> Broken:
        return self

    def predict_scores(self, query: Query) -> np.ndarray:
        return np.zeros(3)  # wrong length: the protocol asks for one score per configuration


# -- the leave-one-out decision (pure) -------------------------------------------------

def test_training_indices_hold_out_the_task_and_optionally_its_group():
    ids = ["a/1", "a/2", "b/1", "b/2", "c/1"]
    groups = ["a", "a", "b", "b", "c"]
    assert loo.training_indices(ids, groups, "a/1", "a").tolist() == [1, 2, 3, 4]
    assert loo.training_indices(ids, groups, "a/1", "a", by_group=True).tolist() == [2, 3, 4]
    # a task the knowledge base does not hold: everything may be used (or all but its group)
    assert loo.training_indices(ids, groups, "new", "x").tolist() == [0, 1, 2, 3, 4]
    assert loo.training_indices(ids, groups, "new", "b", by_group=True).tolist() == [0, 1, 4]
    # no group named: only the task itself
    assert loo.training_indices(ids, groups, "c/1", "", by_group=True).tolist() == [0, 1, 2, 3]


def test_training_indices_refuse_to_leave_nothing():
    with pytest.raises(KnowledgeBaseError, match="no knowledge-base task is left"):
        loo.training_indices(["a/1", "a/2"], ["a", "a"], "a/1", "a", by_group=True)
    with pytest.raises(KnowledgeBaseError):
        loo.training_indices(["a/1"], ["a", "b"], "a/1")


def test_corpus_has_groups_needs_two_distinct_names():
    assert not loo.corpus_has_groups(["clustering"] * 4)
    assert not loo.corpus_has_groups(["", ""])
    assert loo.corpus_has_groups(["fcps", "sipu", "fcps"])


# -- leave-one-out end to end ----------------------------------------------------------

def _plan(kb, selectors, **kw) -> runner.Plan:
    factories = kw.pop("factories")
    return runner.Plan(selectors=selectors, kb=kb, selector_factory=lambda n: factories[n](), **kw)


def _ari(results, method):
    return {r.task: r.ari for r in results if r.method == method}


def test_memoriser_with_leakage_would_reach_the_ceiling(tasks, kb, monkeypatch):
    """The control: if the task were in its own training set, the memoriser would score the
    ceiling on every task. This is what the next tests rule out."""
    assert len({tuple(r) for r in kb.M}) == len(kb.tasks)  # the memoriser can tell tasks apart
    monkeypatch.setattr(runner, "training_indices", lambda ids, *a, **k: np.arange(len(ids)))
    log: list = []
    res = runner.evaluate_corpus(tasks, _plan(kb, ["memo"], factories={"memo": lambda: Memoriser(kb, log, tasks)}),
                                 progress=False)
    assert all(entry["hit"] for entry in log)
    assert _ari(res, "memo") == pytest.approx(_ari(res, "ceiling"))


@pytest.mark.parametrize("by_group", [False, True])
def test_leave_one_out_never_lets_a_task_see_itself(tasks, kb, by_group):
    log: list = []
    res = runner.evaluate_corpus(tasks, _plan(kb, ["memo"], by_group=by_group,
                                              factories={"memo": lambda: Memoriser(kb, log, tasks)}), progress=False)
    assert len(log) == len(tasks)
    for entry in log:
        assert entry["task"] is not None
        assert entry["task"].id not in entry["fitted_ids"]
        assert not entry["hit"]
        if by_group:
            assert entry["task"].group not in entry["fitted_groups"]
        else:  # only the task itself is held out
            assert len(entry["fitted_ids"]) == len(kb.tasks) - 1
    memo, ceil = _ari(res, "memo"), _ari(res, "ceiling")
    assert set(memo) == set(ceil) == {t.id for t in tasks}
    # it found no row of its own, so it ran the best configuration on average over the others
    P, groups = kb.performance("ari"), np.array([t.group for t in kb.tasks])
    for t, task in enumerate(kb.tasks):
        others = groups != task.group if by_group else np.arange(len(kb.tasks)) != t
        assert memo[task.id] == pytest.approx(P[t, int(np.argmax(P[others].mean(axis=0)))])


def test_fits_are_shared_by_tasks_with_the_same_training_set(tasks, kb):
    fitted: list = []

    class Counting(MeanSelector):
        def fit(self, kb, *, seed=0):
            fitted.append(tuple(kb.task_ids))
            return super().fit(kb, seed=seed)

    runner.evaluate_corpus(tasks, _plan(kb, ["mean"], by_group=True, factories={"mean": Counting}),
                           progress=False)
    assert len(fitted) == 3  # one fit per held-out group, not one per task
    unseen = [LabelledTask(id=f"new/{t.id}", X=t.X, y=t.y, group="new") for t in tasks[:3]]
    fitted.clear()
    res = runner.evaluate_corpus(unseen, _plan(kb, ["mean"], factories={"mean": Counting}), progress=False)
    assert fitted == [tuple(kb.task_ids)]  # unseen tasks: the whole knowledge base, fitted once
    assert not any(r.kind == "ceiling" for r in res)  # no ceiling for tasks the KB does not hold


class SavedMean(MeanSelector):
    """A mean selector with saved weights (one JSON file) that know their knowledge base."""

    def save(self, directory) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "mean.json").write_text(json.dumps({"tasks": self.tasks, "mean": [9.0] * len(self.mean)}))

    def fit(self, kb, *, seed=0):
        self.tasks = kb.task_ids
        return super().fit(kb, seed=seed)

    @classmethod
    def load(cls, directory, kb):
        state = json.loads((Path(directory) / "mean.json").read_text())
        if state["tasks"] != kb.task_ids:
            raise KnowledgeBaseError("stale weights: fitted on another knowledge base")
        self = cls()
        self.mean, self.tasks = np.asarray(state["mean"]), state["tasks"]
        return self


def test_saved_weights_are_used_only_for_the_whole_knowledge_base(tasks, kb, tmp_path):
    kb_dir = kb.save(tmp_path / "kb")
    loaded = KnowledgeBase.load(kb_dir)
    SavedMean().fit(loaded).save(kb_dir / "selectors" / "mean")
    unseen = [LabelledTask(id=f"new/{t.id}", X=t.X, y=t.y, group="new") for t in tasks[:2]]
    res = runner.evaluate_corpus(unseen, _plan(loaded, ["mean"], factories={"mean": SavedMean}), progress=False)
    assert all(r.note.startswith("weights loaded from") for r in res)
    # a task of the knowledge base: the selector is refitted without it, never loaded
    res = runner.evaluate_corpus(tasks[:2], _plan(loaded, ["mean"], factories={"mean": SavedMean}), progress=False)
    assert all(r.note == f"fitted on {len(tasks) - 1} tasks" for r in res if r.method == "mean")
    # stale weights (another knowledge base) are refused and the selector is fitted
    small = KnowledgeBase.load(kb_dir).subset([0, 1, 2])
    small.path = kb_dir
    res = runner.evaluate_corpus(unseen, _plan(small, ["mean"], factories={"mean": SavedMean}), progress=False)
    assert all(r.note == "fitted on 3 tasks" for r in res)


def test_scores_and_config_of_the_top1_are_what_running_it_gives(tasks, kb):
    res = runner.evaluate_corpus(tasks, _plan(kb, ["mean"], factories={"mean": MeanSelector}), progress=False)
    reg = get_registry()
    for task in tasks:
        row = next(r for r in res if r.task == task.id and r.method == "mean")
        t = kb.task_ids.index(task.id)
        others = np.delete(kb.performance("ari"), t, axis=0).mean(axis=0)
        c = int(np.argmax(others))
        assert row.algorithm == GRID[c][0]
        labels = apply_policy(reg.backend(GRID[c][0]).run(task.X, GRID[c][1], seed=0), task.X).labels
        assert row.ari == pytest.approx(external_scores(task.y, labels, ignore_label=-1)["ari"])
        assert row.ari == pytest.approx(kb.P["ari"][t, c])
        assert row.seconds > 0 and row.fit_seconds >= 0 and row.probes == 0
        ceil = next(r for r in res if r.task == task.id and r.method == "ceiling")
        assert ceil.ari == pytest.approx(kb.P["ari"][t].max())
        assert ceil.ari >= row.ari - 1e-12


def test_budget_probes_are_counted_and_bounded(tasks, kb):
    res = runner.evaluate_corpus(tasks[:2], _plan(kb, ["probe"], budget=3, factories={"probe": Prober}),
                                 progress=False)
    zero = [r for r in res if r.method == "probe"]
    budgeted = [r for r in res if r.method == "probe@3"]
    assert len(zero) == len(budgeted) == 2
    assert all(r.probes == 0 and r.ok for r in zero)
    assert all(r.probes == 3 and r.ok for r in budgeted)
    assert all(r.algorithm == "kmeans" for r in budgeted)  # it chose among the 3 it probed
    over = runner.evaluate_corpus(tasks[:1], _plan(kb, ["probe"], budget=2,
                                                   factories={"probe": lambda: Prober(greedy=True)}), progress=False)
    bad = next(r for r in over if r.method == "probe@2")
    assert not bad.ok and "budget of 2" in bad.error


def test_a_failing_selector_is_a_recorded_result_not_a_crash(tasks, kb, tmp_path):
    res = runner.evaluate_corpus(tasks[:2], _plan(kb, ["broken", "mean"],
                                                  factories={"broken": Broken, "mean": MeanSelector}), progress=False)
    broken = [r for r in res if r.method == "broken"]
    assert all(not r.ok and "scores" in r.error for r in broken)
    summary = {s["method"]: s for s in report.summarise(res)}
    assert summary["broken"]["failed"] == 2 and summary["broken"]["mean_ari"] == 0.0
    assert summary["mean"]["failed"] == 0


def test_nothing_left_to_learn_from_is_a_recorded_failure(tasks, kb):
    only_g1 = kb.subset([i for i, t in enumerate(kb.tasks) if t.group == "g1"])
    res = runner.evaluate_corpus(tasks[:2], _plan(only_g1, ["mean"], by_group=True, factories={"mean": MeanSelector}),
                                 progress=False)
    rows = [r for r in res if r.method == "mean"]
    assert len(rows) == 2 and all("no knowledge-base task is left" in r.error for r in rows)
    assert len([r for r in res if r.method == "ceiling"]) == 2


def test_selectors_without_a_knowledge_base_are_refused(tasks):
    with pytest.raises(KnowledgeBaseError, match="knowledge base"):
        runner.evaluate_corpus(tasks, runner.Plan(selectors=["mean"]), progress=False)


# -- the report ----------------------------------------------------------------------

def _result(task, method, kind, ari, **kw):
    return runner.Result(task=task, group="", n=10, d=2, k_true=2, method=method, kind=kind, acc=ari, nmi=ari,
                         ari=ari, seconds=0.5, **kw)


def test_summary_counts_wins_ties_losses_and_regret():
    rows = []
    for t, (sel, base, ceil) in enumerate([(0.9, 0.5, 1.0), (0.5, 0.505, 0.8), (0.2, 0.6, 0.6), (0.7, 0.1, 0.9)]):
        rows += [_result(f"t{t}", "sel", "selector", sel), _result(f"t{t}", "base", "baseline", base),
                 _result(f"t{t}", "ceiling", "ceiling", ceil)]
    rows.append(_result("t4", "sel", "selector", float("nan"), error="boom"))
    rows.append(_result("t4", "base", "baseline", 0.3))
    s = {r["method"]: r for r in report.summarise(rows)}
    assert s["sel"]["wtl"]["base"] == (2, 1, 2)          # the failure on t4 counts as ARI 0
    assert s["sel"]["mean_ari"] == pytest.approx((0.9 + 0.5 + 0.2 + 0.7 + 0) / 5)
    assert s["sel"]["median_ari"] == pytest.approx(0.5)
    assert s["sel"]["failed"] == 1
    assert s["sel"]["regret_tasks"] == 4
    assert s["sel"]["mean_regret"] == pytest.approx(np.mean([0.1, 0.3, 0.4, 0.2]))
    assert s["base"]["wtl"] == {}
    md = report.summary_markdown(report.summarise(rows))
    assert "W/T/L vs base" in md and "2/1/2" in md and "(1 failed)" in md


def test_results_csv_round_trips(tmp_path):
    rows = [_result("g/t0", "sel", "selector", 0.25, algorithm="kmeans", params='{"n_clusters": 3}'),
            _result("g/t0", "base", "baseline", 0.5, sampled=True, note="run on a sample"),
            _result("g/t1", "sel", "selector", float("nan"), error="BackendError: no")]
    path = tmp_path / "results.csv"
    path.write_text(report.results_csv(rows))
    back = report.read_results_csv(path)
    assert [(r.task, r.method, r.sampled, r.error, r.params) for r in back] == \
        [(r.task, r.method, r.sampled, r.error, r.params) for r in rows]
    assert back[0].ari == pytest.approx(0.25) and np.isnan(back[2].ari)


# -- the command -------------------------------------------------------------------------

def write_corpus(tasks: list[LabelledTask], root: Path) -> Path:
    for t in tasks:
        folder = root / t.group
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / f"{t.id.split('/')[-1]}.npz", X=t.X, y=t.y)
    return root


@pytest.fixture
def with_selectors(monkeypatch):
    reg = get_registry()
    for name, cls in (("mean", MeanSelector), ("probe", Prober), ("memo", Memoriser)):
        monkeypatch.setitem(reg.selectors, name, cls)
    return reg


def test_evaluate_command_end_to_end(tasks, kb, tmp_path, cli, with_selectors):
    corpus = write_corpus(tasks, tmp_path / "corpus")
    loaded = load_corpus([corpus])
    assert [t.id for t in loaded] == sorted(t.id for t in tasks)  # ids match the knowledge base's
    kb_dir = kb.save(tmp_path / "kb")
    out = tmp_path / "out"
    code, stdout, err = cli("evaluate", corpus, "--kb", kb_dir, "--selectors", "mean,probe", "--baselines",
                            "--trials", "3", "--budget", "2", "--out", out)
    assert code == 0, err
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    methods = {"mean", "mean@2", "probe", "probe@2", "dbscan_default", "hdbscan_default", "kmeans_silhouette",
               "optuna_silhouette", "ceiling"}
    assert {r["method"] for r in rows} == methods
    assert len(rows) == len(tasks) * len(methods)
    for r in rows:
        assert r["error"] == "", r
        assert -1.0 <= float(r["ari"]) <= 1.0 and 0.0 <= float(r["acc"]) <= 1.0
    md = (out / "report.md").read_text()
    assert "metaclust evaluate" in md and "--budget 2" in md and "## Summary" in md
    assert "W/T/L vs kmeans_silhouette" in md and "regret vs ceiling" in md
    for png in ("ari_scatter.png", "ari_distribution.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "evaluation summary" in stdout
    assert not list(out.glob(".*.tmp"))  # nothing half-written left behind


def test_evaluate_leave_one_out_reuses_a_kb_built_on_the_corpus(tasks, kb, tmp_path, cli, with_selectors):
    corpus = write_corpus(tasks, tmp_path / "corpus")
    kb_dir = kb.save(tmp_path / "kb")
    out = tmp_path / "out"
    code, _, err = cli("evaluate", corpus, "--kb", kb_dir, "--leave-one-out", "--selectors", "memo", "--out", out)
    assert code == 0, err
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    memo = {r["task"]: float(r["ari"]) for r in rows if r["method"] == "memo"}
    ceil = {r["task"]: float(r["ari"]) for r in rows if r["method"] == "ceiling"}
    assert set(memo) == set(ceil) and len(memo) == len(tasks)
    assert any(memo[t] < ceil[t] - 1e-9 for t in memo)
    assert "leave-one-group-out" in (out / "report.md").read_text()


def test_evaluate_leave_one_out_builds_a_kb_from_the_corpus(tasks, kb, tmp_path, cli, with_selectors, monkeypatch):
    """Without --kb, --leave-one-out meta-trains on the corpus (faked here: meta-training is
    another module's job) into OUT/kb, then holds each task out of its own scoring."""
    import types

    calls = []

    def build_knowledge_base(corpus_tasks, out_dir, **kw):
        calls.append(([t.id for t in corpus_tasks], Path(out_dir), kw))
        kb.save(out_dir)
        return KnowledgeBase.load(out_dir)

    monkeypatch.setitem(__import__("sys").modules, "metaclust_automl.training.kb",
                        types.SimpleNamespace(build_knowledge_base=build_knowledge_base))
    corpus = write_corpus(tasks, tmp_path / "corpus")
    out = tmp_path / "out"
    code, _, err = cli("evaluate", corpus, "--leave-one-out", "--no-group", "--selectors", "memo",
                       "--trials", "7", "--seed", "3", "--out", out)
    assert code == 0, err
    (ids, where, kw), = calls
    assert ids == sorted(t.id for t in tasks) and where == out / "kb"
    assert kw["trials"] == 7 and kw["seed"] == 3
    assert (out / "kb" / "manifest.json").is_file()
    md = (out / "report.md").read_text()
    assert "leave-one-out (task held out)" in md and "--no-group" in md


def _two_csv_tasks(folder, label: str):
    """Two labelled two-blob CSV tables in ``folder`` (created), the label in column ``label``."""
    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    folder.mkdir()
    for i in range(2):
        lines = [f"a,b,{label}"] + [f"{x0},{x1},{lab}" for (x0, x1), lab in zip(X + i, y)]
        (folder / f"t{i}.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_evaluate_csv_corpus_with_a_label_column(tmp_path, cli):
    folder = _two_csv_tasks(tmp_path / "c", "cls")
    code, _, err = cli("evaluate", folder, "--baselines", "--selectors", "none", "--trials", "2",
                       "--label-column", "cls", "--out", tmp_path / "o")
    assert code == 0, err
    text = (tmp_path / "o" / "results.csv").read_text()
    assert text.count("\n") == 1 + 2 * 4


def test_evaluate_json_is_one_object_with_the_tables_numbers(tmp_path):
    """--json: stdout is one strict-JSON object (piped to ``python -m json.tool``), with the
    per-task rows of results.csv and the summary's numbers; nothing else on stdout."""
    import subprocess
    import sys

    folder = _two_csv_tasks(tmp_path / "c", "label")
    out = tmp_path / "o"
    cmd = [sys.executable, "-c", "from metaclust_automl.cli import run; run()", "evaluate", str(folder), "--baselines", "--selectors",
           "none", "--trials", "2", "--out", str(out), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=proc.stdout, capture_output=True, text=True)
    assert tool.returncode == 0, tool.stderr
    data = json.loads(proc.stdout)
    assert "evaluation summary" not in proc.stdout and "wrote" in proc.stderr
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(data["results"]) == len(rows) == 2 * 4
    for got, want in zip(data["results"], rows):
        assert got["task"] == want["task"] and got["method"] == want["method"]
        assert got["ari"] == pytest.approx(float(want["ari"]), abs=1e-6)
    summary = {s["method"]: s for s in data["summary"]}
    assert set(summary) == {r["method"] for r in rows}
    for method, s in summary.items():
        aris = [float(r["ari"]) for r in rows if r["method"] == method]
        assert s["tasks"] == 2 and s["mean_ari"] == pytest.approx(np.mean(aris), abs=1e-6)
    assert data["written"]["results"] == str(out / "results.csv")


def test_evaluate_errors_are_one_line(tasks, kb, tmp_path, cli, with_selectors):
    corpus = write_corpus(tasks[:2], tmp_path / "corpus")
    code, _, err = cli("evaluate", corpus, "--selectors", "nope", "--out", tmp_path / "o")
    assert code == 2 and "unknown selector 'nope'" in err and "Traceback" not in err
    code, _, err = cli("evaluate", corpus, "--selectors", "none", "--out", tmp_path / "o")
    assert code == 2 and "nothing to evaluate" in err
    other = build_kb([LabelledTask(id="elsewhere/x", X=tasks[0].X, y=tasks[0].y, group="elsewhere"),
                      LabelledTask(id="elsewhere/y", X=tasks[1].X, y=tasks[1].y, group="elsewhere")])
    code, _, err = cli("evaluate", corpus, "--kb", other.save(tmp_path / "okb"), "--leave-one-out",
                       "--selectors", "mean", "--out", tmp_path / "o")
    assert code != 0 and "built on this corpus" in err
    code, _, err = cli("evaluate", corpus, "--baselines", "--out", tmp_path / "missing" / "o")
    assert code == 2 and "does not exist" in err
