"""What ``metaclust evaluate`` scores with: which knowledge base, held out how, and the notes the
report must carry. Decided here, not in the command, so that the rules (a leave-one-out needs
a knowledge base built on the corpus; a task never scores itself) are read and tested in one
place.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..knowledge_base import KnowledgeBase


@dataclass
class Choice:
    """The knowledge base (None: baselines only), the hold-out mode in words, and notes."""

    kb: KnowledgeBase | None
    by_group: bool
    mode: str
    notes: list[str] = field(default_factory=list)


def choose(tasks: Sequence[Any], selectors: Sequence[str], *, kb_dir: str | None, leave_one_out: bool,
           no_group: bool, build_kb: Callable[[], KnowledgeBase]) -> Choice:
    """The knowledge base to score ``selectors`` with on ``tasks``: the one in ``kb_dir``; else,
    for a leave-one-out, one built on the corpus (``build_kb``); else the shipped one (also with
    no selector, for the ceiling of the tasks it holds, when it is there). KnowledgeBaseError when
    a leave-one-out's knowledge base holds none of the corpus's tasks."""
    from ..errors import KnowledgeBaseError
    from ..knowledge_base import load_default
    from .leave_one_out import corpus_has_groups

    by_group = leave_one_out and not no_group and corpus_has_groups([t.group for t in tasks])
    notes: list[str] = []
    base = None
    if kb_dir is not None:
        base = KnowledgeBase.load(kb_dir)
    elif leave_one_out and selectors:
        base = build_kb()
    elif selectors:
        base = load_default()
    else:
        try:
            base = load_default()  # only for the ceiling of tasks it holds
        except KnowledgeBaseError:
            notes.append("no knowledge base: no ceiling and no selectors")
    ids = {t.id for t in tasks}
    if leave_one_out and base is not None:
        shared = set(base.task_ids) & ids
        if not shared:
            raise KnowledgeBaseError(f"--leave-one-out needs a knowledge base built on this corpus, but "
                                     f"{base.path or 'the knowledge base'} holds none of its tasks; drop --kb "
                                     "to build one, or drop --leave-one-out")
        if len(shared) < len(tasks):
            notes.append(f"{len(tasks) - len(shared)} corpus tasks are not in the knowledge base (no ceiling for them)")
    if base is not None:
        overlap = len(set(base.task_ids) & ids)
        if overlap and not leave_one_out:
            notes.append(f"{overlap} corpus tasks are in the knowledge base; each was held out when scoring itself")
    mode = ("baselines only (no selector)" if not selectors else
            "leave-one-group-out (task and its group held out)" if by_group else
            "leave-one-out (task held out)" if leave_one_out else
            "unseen tasks: selectors fitted on the knowledge base, minus any task of the same id")
    return Choice(kb=base, by_group=by_group, mode=mode, notes=notes)
