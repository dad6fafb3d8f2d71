"""The tasks the prototype rule is meta-trained and checked on.

Two sources, mixed:
- the built-in corpus (``meta_datasets/clustering.json``): moons, rings, spirals,
  stripes, blobs of unequal density and size, noise, irrelevant columns...; these are
  hard for a neighbour-based method, so they are where one rule beats another;
- generated high-dimensional tasks (``generators.manifolds``): curved manifolds and blobs in
  8-100 dimensions, closer to images and embeddings, mostly easy.
Left out of the corpus: ``digits``, the data set the deep benchmark scores the rule
on, and ``wine`` and ``breast-cancer``, which duplicate datasets of the evaluation
set (as in the shipped knowledge base). Corpus tasks are split once, by a fixed
permutation, into a training pool and a held-out pool; tables are capped at
``MAX_ROWS`` rows by a fixed subsample, which keeps one training run under a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..corpus.tasks import LabelledTask
from ..generators import manifolds

EXCLUDED_FAMILIES = ("digits", "wine", "breast-cancer")
MAX_ROWS = 2000
HELD_OUT_SHARE = 0.2
#: generated tasks are drawn with this many rows
SYNTHETIC_ROWS = (300, 1200)


@dataclass
class TaskPool:
    """Corpus tasks for training and for the held-out check, the share of draws that
    come from the corpus rather than the generator, and the generated tasks' rows."""

    train: list[LabelledTask] = field(default_factory=list)
    held_out: list[LabelledTask] = field(default_factory=list)
    corpus_share: float = 0.7
    rows: tuple[int, int] = SYNTHETIC_ROWS

    def sample(self, rng: np.random.Generator) -> LabelledTask:
        """One training task: a corpus task with probability ``corpus_share``, else a
        generated one."""
        if self.train and rng.random() < self.corpus_share:
            return self.train[int(rng.integers(len(self.train)))]
        return manifolds.sample_task(rng, self.rows)


def corpus_task(X: np.ndarray, y: np.ndarray, name: str, seed: int = 0) -> LabelledTask:
    """A labelled table as a task (noise rows keep label -1 and are not scored), at most
    ``MAX_ROWS`` rows."""
    if X.shape[0] > MAX_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(X.shape[0], MAX_ROWS, replace=False))
        X, y = X[keep], y[keep]
    return LabelledTask(id=name, X=np.asarray(X, dtype=np.float64), y=np.asarray(y), group=name)


def task_pool(corpus_share: float = 0.7, seed: int = 0) -> TaskPool:
    """The training and held-out corpus pools (see the module docstring); with
    ``corpus_share`` 0 every training task is generated, and the held-out pool is still
    there to score the result."""
    from ..corpus.builtin import builtin_corpus, builtin_families

    families = [f for f in builtin_families() if f not in EXCLUDED_FAMILIES]
    tasks = [corpus_task(t.X, t.y, t.id) for t in builtin_corpus(families=families)]
    tasks = [t for t in tasks if t.n_classes >= 2]
    order = np.random.default_rng(seed).permutation(len(tasks))
    cut = int(round(HELD_OUT_SHARE * len(tasks)))
    return TaskPool(train=[tasks[i] for i in order[cut:]], held_out=[tasks[i] for i in sorted(order[:cut])],
                    corpus_share=corpus_share)
