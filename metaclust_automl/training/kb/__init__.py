"""Meta-training: from labelled tasks to the knowledge base, with Optuna.

``build_knowledge_base(tasks, out_dir, ...)`` runs the whole pipeline (see
:mod:`.build`); ``metaclust meta-train`` is its command line. Work is split into slots
of Optuna studies kept in one storage (:mod:`.slots`), so a run resumes where it
stopped and any number of processes, on any number of machines, share it.

The shipped knowledge base (``metaclust_automl/data/kb``) is built from the built-in
corpus, without the families that hold the same data as the evaluation benchmark's
UCI wine and breast-cancer (wdbc) sets, by this one command, run from the repository root (``build/`` is git-ignored;
rerunning it resumes from that storage)::

    metaclust meta-train --out metaclust_automl/data/kb --exclude-families wine,breast-cancer --jobs 2 --sampler qmc --trials 4 --portfolio-size 48 --max-rows 1500 --time-limit 20 --storage build/metatrain/optuna.db

Many machines: run the same command on each with ``--storage postgresql://user:pw@host/db``
(``pip install psycopg2-binary``) or, on a shared file system without a database server,
``--storage journal:/shared/metatrain.log``. The workers split the studies between them;
with ``--sampler qmc`` every machine writes the same knowledge base, equal in content to
a one-worker build. A killed worker's unfinished trials are taken over by the others (at
once on the same host; from another host after a lease of a few time limits, see
``runner.Settings.lease_s``).
"""
from __future__ import annotations

from .build import (DEFAULT_BACKENDS, DEFAULT_PORTFOLIO_SIZE, DEFAULT_TIME_LIMIT, DEFAULT_TRIALS,
                    build_knowledge_base)

__all__ = ["DEFAULT_BACKENDS", "DEFAULT_PORTFOLIO_SIZE", "DEFAULT_TIME_LIMIT", "DEFAULT_TRIALS",
           "build_knowledge_base"]
