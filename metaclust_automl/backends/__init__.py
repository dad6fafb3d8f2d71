"""Clustering backends. See ``base.Backend`` for the protocol that plugins implement."""
from .base import COST_CLASSES, Backend, ClusterRun, normalise_labels

__all__ = ["COST_CLASSES", "Backend", "ClusterRun", "normalise_labels"]
