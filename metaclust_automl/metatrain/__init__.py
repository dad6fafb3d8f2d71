"""Meta-training: from labelled tasks to the knowledge base, with Optuna.

``build_knowledge_base(tasks, out_dir, ...)`` runs the whole pipeline (see
:mod:`.build`); ``metaclust meta-train`` is its command line. Work is split into slots
of Optuna studies kept in one storage (:mod:`.slots`), so a run resumes where it
stopped and any number of processes, on any number of machines, share it.

The shipped knowledge base (``metaclust_automl/data/kb``) is built from the built-in
corpus by this one command (about 25 minutes on 2 cores)::

    metaclust meta-train --out metaclust_automl/data/kb --jobs 2 --sampler qmc \\
        --storage build/metatrain/optuna.db
"""
from __future__ import annotations

from .build import (DEFAULT_BACKENDS, DEFAULT_PORTFOLIO_SIZE, DEFAULT_TIME_LIMIT, DEFAULT_TRIALS,
                    build_knowledge_base)

__all__ = ["DEFAULT_BACKENDS", "DEFAULT_PORTFOLIO_SIZE", "DEFAULT_TIME_LIMIT", "DEFAULT_TRIALS",
           "build_knowledge_base"]
