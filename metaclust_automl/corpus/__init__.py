"""Corpora of labelled tasks: the built-in one (``meta_datasets/``) and a user's directories."""
from .tasks import LabelledTask, load_corpus, load_directory

__all__ = ["LabelledTask", "load_corpus", "load_directory"]
