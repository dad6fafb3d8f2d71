"""The knowledge-base build must see a mixed table as a user's table would be seen: with its
column layout (the 366-task base once stored 0 for the column-type meta-features of every
mixed task because the layout was dropped here)."""
from __future__ import annotations

import numpy as np

from metaclust_automl.corpus.builtin import builtin_task_ids, load_builtin_task
from metaclust_automl.encoding import layout_of
from metaclust_automl.metafeatures import extract
from metaclust_automl.training.kb.tasks import prepare_tasks


def _mixed_task():
    tid = next(t for t in builtin_task_ids() if "/mixed-types/" in t)
    return load_builtin_task(tid)


def test_prepared_mixed_task_keeps_its_layout_whole_and_sampled():
    task = _mixed_task()
    assert layout_of(task.X) is not None
    whole = prepare_tasks([task])[0]
    sampled = prepare_tasks([task], max_rows=200)[0]
    assert layout_of(whole.X) is not None
    assert sampled.X.shape[0] == 200 and layout_of(sampled.X) is not None
    assert layout_of(sampled.table) is not None and sampled.table.shape == task.X.shape


def test_prepared_mixed_task_has_the_column_type_metafeatures_of_the_table():
    task = _mixed_task()
    prepared = prepare_tasks([task])[0]
    direct = extract(task.X, seed=0)
    built = extract(prepared.table, seed=0)
    typed = [k for k in direct if "categorical" in k or "binary" in k]
    assert typed and any(direct[k] != 0 for k in typed)
    for k in direct:
        assert np.isclose(direct[k], built[k], equal_nan=True), k


def test_numeric_task_is_a_plain_array():
    tid = next(t for t in builtin_task_ids() if "/blobs-iso/" in t)
    prepared = prepare_tasks([load_builtin_task(tid)])[0]
    assert layout_of(prepared.X) is None and type(prepared.X) is np.ndarray
