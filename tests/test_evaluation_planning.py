"""``evaluation.planning.choose``: which knowledge base ``metaclust evaluate`` scores with."""
from __future__ import annotations

import types

import numpy as np
import pytest

from metaclust_automl.errors import KnowledgeBaseError
from metaclust_automl.evaluation.planning import choose
from metaclust_automl.selectors.tinykb import toy_kb


def _tasks(ids, groups=None):
    return [types.SimpleNamespace(id=i, group=(groups or [""] * len(ids))[k], X=np.zeros((3, 2)), y=np.zeros(3))
            for k, i in enumerate(ids)]


def _never():
    raise AssertionError("no knowledge base should be built")


def test_leave_one_out_builds_on_the_corpus_and_notes_tasks_it_lacks():
    kb = toy_kb(6)
    tasks = _tasks(["toy-0", "toy-1", "new"], ["a", "b", "a"])
    got = choose(tasks, ["knn"], kb_dir=None, leave_one_out=True, no_group=False, build_kb=lambda: kb)
    assert got.kb is kb and got.by_group and "group" in got.mode
    assert got.notes == ["1 corpus tasks are not in the knowledge base (no ceiling for them)"]
    got = choose(tasks, ["knn"], kb_dir=None, leave_one_out=True, no_group=True, build_kb=lambda: kb)
    assert not got.by_group and got.mode == "leave-one-out (task held out)"


def test_leave_one_out_on_a_knowledge_base_of_other_tasks_is_refused():
    kb = toy_kb(6)
    with pytest.raises(KnowledgeBaseError, match="holds none of its tasks"):
        choose(_tasks(["x", "y"]), ["knn"], kb_dir=None, leave_one_out=True, no_group=False, build_kb=lambda: kb)


def test_unseen_tasks_use_the_named_knowledge_base_and_say_which_held_themselves_out(tmp_path):
    toy_kb(6).save(tmp_path / "kb")
    got = choose(_tasks(["toy-2", "z"]), ["knn"], kb_dir=str(tmp_path / "kb"), leave_one_out=False,
                 no_group=False, build_kb=_never)
    assert got.kb is not None and len(got.kb.tasks) == 6 and got.mode.startswith("unseen tasks")
    assert got.notes == ["1 corpus tasks are in the knowledge base; each was held out when scoring itself"]
    got = choose(_tasks(["z"]), [], kb_dir=str(tmp_path / "kb"), leave_one_out=False, no_group=False,
                 build_kb=_never)
    assert got.mode == "baselines only (no selector)" and got.notes == []
