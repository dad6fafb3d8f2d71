"""Corpora of labelled tasks: the built-in one (``meta_datasets/``) and a user's directories."""
from .builtin import (
    balanced_subset,
    builtin_corpus,
    builtin_families,
    builtin_task_ids,
    load_builtin_task,
    task_checksum,
    task_spec,
)
from .tasks import LabelledTask, load_corpus, load_directory

__all__ = [
    "LabelledTask",
    "balanced_subset",
    "builtin_corpus",
    "builtin_families",
    "builtin_task_ids",
    "load_builtin_task",
    "load_corpus",
    "load_directory",
    "task_checksum",
    "task_spec",
]
