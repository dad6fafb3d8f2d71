"""Which knowledge-base tasks a selector may learn from when it is scored on a task.

The one rule that makes an evaluation honest: a task never sees itself. A knowledge
base built from the evaluated corpus holds the task's own performance row; a selector
fitted on it could simply look the answer up (its score would equal the ceiling).
With ``by_group``, the other tasks of the same group (a battery, a source) are held out
too, because near-copies of a dataset leak almost as much as the dataset itself.

Kept pure (ids in, indices out) so that a test can check it without fitting anything.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import KnowledgeBaseError


def corpus_has_groups(groups: Sequence[str]) -> bool:
    """Whether the groups mean anything: at least two distinct, non-empty names.

    A flat directory gives every task the same group; holding that group out would
    hold out everything."""
    return len({g for g in groups if g}) >= 2


def training_indices(kb_task_ids: Sequence[str], kb_groups: Sequence[str], task_id: str,
                     task_group: str = "", *, by_group: bool = False) -> np.ndarray:
    """Indices of the knowledge-base tasks a selector may be fitted on to score ``task_id``.

    Always excludes the task itself (same id). With ``by_group`` and a non-empty
    ``task_group``, also excludes every knowledge-base task of that group. Raises
    KnowledgeBaseError when nothing is left to learn from."""
    if len(kb_task_ids) != len(kb_groups):
        raise KnowledgeBaseError(f"{len(kb_task_ids)} task ids but {len(kb_groups)} groups")
    ids = np.asarray(list(kb_task_ids), dtype=object)
    keep = ids != task_id
    if by_group and task_group:
        keep &= np.asarray(list(kb_groups), dtype=object) != task_group
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        what = f"task {task_id!r}" + (f" and group {task_group!r}" if by_group and task_group else "")
        raise KnowledgeBaseError(f"no knowledge-base task is left to learn from once {what} is held out; "
                                 "use a knowledge base with more tasks")
    return idx
