"""``metaclust meta-train``: build a knowledge base from labelled datasets with Optuna.

Many machines: start the same command on each, pointed at one shared storage, e.g.
``--storage postgresql://user:pw@dbhost/metaclust`` (or ``--storage journal:/shared/mt.log``
on a shared file system); they split the work and each writes the same knowledge base.
"""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from .app import SeedOpt, app, console


def _backends(raw: Optional[str]) -> Optional[list[str]]:
    if raw is None:
        return None
    names = [b.strip() for b in raw.split(",") if b.strip()]
    if not names:
        from ..errors import ConfigError

        raise ConfigError("--backends needs at least one name, e.g. --backends kmeans,hdbscan")
    return names


def _storage_error(exc: Exception) -> None:
    """A database error half-way through (a damaged page, a full disk) as one DataError."""
    import sqlite3

    from ..errors import DataError

    if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("sqlalchemy"):
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(f"the meta-training storage failed: {first}; if it is damaged, move it away and "
                        "rerun (finished work in it is lost)") from None


@app.command("meta-train")
def meta_train(
    corpus: Annotated[Optional[list[str]], typer.Argument(
        help="Directories or files of labelled tasks (CSV/parquet with a label column, .npz with X "
             "and y, .data.gz with .labels0.gz). None: the built-in corpus.")] = None,
    out: Annotated[str, typer.Option("--out", "-o", help="Knowledge base directory to write.")] = ...,
    trials: Annotated[int, typer.Option("--trials", help="Finished Optuna trials per task x backend "
                                                           "(a rerun tops up to this).")] = 20,
    storage: Annotated[Optional[str], typer.Option(
        "--storage", help="Optuna storage URL shared by all workers (default: sqlite file in "
                          "OUT.work/); postgresql://..., journal:/path for shared disks.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes on this machine.")] = 1,
    backends: Annotated[Optional[str], typer.Option(
        "--backends", help="Comma-separated backends to search (default: kmeans,gmm,agglomerative,"
                           "dbscan,hdbscan,birch).")] = None,
    label_column: Annotated[str, typer.Option("--label-column", help="Label column of CSV/parquet tasks.")] = "label",
    time_limit: Annotated[float, typer.Option(
        "--time-limit", help="Seconds per configuration run; slower runs are recorded as timed out "
                             "(0: no limit).")] = 60.0,
    portfolio_size: Annotated[int, typer.Option("--portfolio-size", help="Configurations in the portfolio.")] = 80,
    sampler: Annotated[str, typer.Option(
        "--sampler", help="tpe, or qmc (quasi-random by trial slot: the same result with any "
                          "number of workers).")] = "tpe",
    max_rows: Annotated[Optional[int], typer.Option(
        "--max-rows", help="Run configurations on a seeded sample of this many rows of bigger "
                           "tasks (meta-features still use every row).")] = None,
    limit: Annotated[Optional[int], typer.Option(
        "--limit", help="Built-in corpus only: at most this many tasks, spread over the families.")] = None,
    exclude_families: Annotated[Optional[str], typer.Option(
        "--exclude-families", help="Built-in corpus only: comma-separated families to leave out "
                                   "(e.g. datasets you will evaluate on).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
    seed: SeedOpt = 0,
) -> None:
    """Meta-train: search every backend on labelled tasks and write a knowledge base.

    Resumable; worker processes and machines may share one storage.
    """
    from ..errors import ConfigError
    from .app import option_time_limit
    from ..metatrain import build_knowledge_base
    from ..metatrain.build import check_kb_output

    if sampler not in ("tpe", "qmc"):
        raise ConfigError(f"--sampler must be tpe or qmc, got {sampler!r}")
    limit_s = option_time_limit(time_limit)
    check_kb_output(out)  # before the corpus is read: nothing in OUT is ever deleted by mistake
    if corpus:
        if limit is not None or exclude_families is not None:
            raise ConfigError("--limit and --exclude-families apply to the built-in corpus only; "
                              "drop them or the CORPUS paths")
        from ..corpus import load_corpus

        tasks = load_corpus(corpus, label_column=label_column)
        info = {"source": "directories", "paths": list(corpus), "label_column": label_column}
    else:
        from ..corpus import builtin_corpus, builtin_families

        families = None
        excluded = sorted({f.strip() for f in (exclude_families or "").split(",") if f.strip()})
        if excluded:
            known = builtin_families()
            unknown = [f for f in excluded if f not in known]
            if unknown:
                raise ConfigError(f"unknown corpus family {unknown[0]!r}; the families are: {', '.join(known)}")
            families = [f for f in known if f not in excluded]
        tasks = builtin_corpus(families=families, limit=limit, seed=seed)
        info = {"source": "builtin", "limit": limit, "excluded_families": excluded}
    try:
        kb = build_knowledge_base(
            tasks, out, trials=trials, backends=_backends(backends), storage=storage, jobs=jobs, seed=seed,
            time_limit=limit_s, portfolio_size=portfolio_size, sampler=sampler,
            progress=progress, max_rows=max_rows, corpus=info, verbose=True)
    except Exception as exc:
        _storage_error(exc)
        raise
    console.print(f"{out}: {len(kb.tasks)} tasks, {len(kb.configs)} configurations, "
                  f"{len(kb.metafeature_names)} meta-features", highlight=False)
