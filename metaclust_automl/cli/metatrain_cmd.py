"""``metaclust meta-train``: build a knowledge base from labelled datasets with Optuna.

Many machines: start the same command on each, pointed at one shared storage, e.g.
``--storage postgresql://user:pw@dbhost/metaclust`` (or ``--storage journal:/shared/mt.log``
on a shared file system); they split the work and each writes the same knowledge base.
"""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..running.backend_runner import DEFAULT_TIME_LIMIT
from .app import OutAliasOpt, ProgressOpt, SeedOpt, app, console, err_console, pick_output, split_list

#: the backends searched when --backends is not given (metatrain.DEFAULT_BACKENDS; kept
#: here as text so that --help does not import the meta-training code)
DEFAULT_BACKENDS_TEXT = "kmeans, gmm, agglomerative, dbscan, hdbscan, birch"


def _backends(raw: Optional[list[str]]) -> Optional[list[str]]:
    if raw is None:
        return None
    names = split_list(raw)
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
    output: Annotated[Optional[str], typer.Option(
        "-o", "--output", metavar="DIR", help="Knowledge base directory to write (required).")] = None,
    out_alias: OutAliasOpt = None,
    trials: Annotated[int, typer.Option("--trials", metavar="N", help="Finished Optuna trials per task x "
                                        "backend (a rerun tops up to this).")] = 20,
    storage: Annotated[Optional[str], typer.Option(
        "--storage", metavar="URL", help="Optuna storage URL shared by all workers (default: sqlite file in "
                                         "OUT.work/); postgresql://..., journal:/path for shared disks.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", help="Worker processes on this machine.")] = 1,
    backends: Annotated[Optional[list[str]], typer.Option(
        "--backends", metavar="NAMES", help=f"Backends to search; repeatable or comma-separated (default: "
        f"{DEFAULT_BACKENDS_TEXT}; a plugin's backend only when named here).")] = None,
    selectors: Annotated[Optional[list[str]], typer.Option(
        "--selectors", metavar="NAMES", help="Selectors to train into OUT/selectors/ once the knowledge base "
        "is written, so that recommend --kb OUT needs no fitting; repeatable or comma-separated "
        "(default: knn, maml, rl2; 'none' to skip).")] = None,
    label_column: Annotated[str, typer.Option("--label-column", metavar="COL",
                                              help="Label column of CSV/parquet tasks.")] = "label",
    time_limit: Annotated[float, typer.Option(
        "--time-limit", metavar="SECONDS", help="Seconds per configuration run; slower runs are recorded as "
        "timed out (0: no limit).")] = DEFAULT_TIME_LIMIT,
    portfolio_size: Annotated[Optional[int], typer.Option(
        "--portfolio-size", metavar="N", help="Configurations in the portfolio (default 80; with --extend, "
        "default: keep all, else cut greedily on measured ARI).")] = None,
    sampler: Annotated[str, typer.Option(
        "--sampler", metavar="tpe|qmc", help="tpe, or qmc (quasi-random by trial slot: the same result with "
        "any number of workers).")] = "tpe",
    max_rows: Annotated[Optional[int], typer.Option(
        "--max-rows", metavar="N", help="Run configurations on a seeded sample of this many rows of bigger "
                                        "tasks (meta-features still use every row).")] = None,
    limit: Annotated[Optional[int], typer.Option(
        "--limit", metavar="N", help="Built-in corpus only: at most this many tasks, spread over the "
        "families.")] = None,
    exclude_families: Annotated[Optional[list[str]], typer.Option(
        "--exclude-families", metavar="NAMES", help="Built-in corpus only: families to leave out (e.g. "
        "datasets you will evaluate on); repeatable or comma-separated.")] = None,
    extend: Annotated[Optional[str], typer.Option(
        "--extend", metavar="KB", help="Extend this knowledge base instead of searching from scratch: run the "
        "--add-configs configurations on its tasks and every configuration on the corpus tasks it lacks "
        "(--trials, --backends and --sampler are then not used).")] = None,
    add_configs: Annotated[Optional[str], typer.Option(
        "--add-configs", metavar="k-rules|FILE", help="With --extend: 'k-rules' (the built-in grid of k-rule "
        "configurations) or a JSON file [{algorithm, params}, ...].")] = None,
    builtin: Annotated[bool, typer.Option(
        "--builtin", help="With CORPUS paths: the built-in corpus too (before them), e.g. to extend a knowledge "
        "base built from both with meta-features added since.")] = False,
    progress: ProgressOpt = True,
    seed: SeedOpt = 0,
) -> None:
    """Meta-train: search backends on labelled tasks, write a knowledge base, train its selectors.

    Searches the built-in backends named under --backends (a plugin's backend only when
    named there). Resumable; worker processes and machines may share one storage.
    """
    from ..errors import ConfigError
    from .app import option_time_limit
    from ..metatrain import build_knowledge_base
    from ..metatrain.build import check_kb_output

    out = pick_output(output, out_alias)
    if out is None:
        raise ConfigError("meta-train needs -o/--output DIR: the knowledge base directory to write")
    if sampler not in ("tpe", "qmc"):
        raise ConfigError(f"--sampler must be tpe or qmc, got {sampler!r}")
    limit_s = option_time_limit(time_limit)
    portfolio_size_given = portfolio_size is not None
    if portfolio_size is None:
        portfolio_size = 80
    selector_names = _selector_names(selectors)
    check_kb_output(out)  # before the corpus is read: nothing in OUT is ever deleted by mistake
    if corpus and not builtin:
        if limit is not None or exclude_families is not None:
            raise ConfigError("--limit and --exclude-families apply to the built-in corpus only; "
                              "drop them or the CORPUS paths (or add --builtin)")
        from ..corpus import load_corpus

        tasks = load_corpus(corpus, label_column=label_column)
        info = {"source": "directories", "paths": list(corpus), "label_column": label_column}
    else:
        from ..corpus import builtin_corpus, builtin_families

        families = None
        excluded = sorted(set(split_list(exclude_families) or []))
        if excluded:
            known = builtin_families()
            unknown = [f for f in excluded if f not in known]
            if unknown:
                raise ConfigError(f"unknown corpus family {unknown[0]!r}; the families are: {', '.join(known)}")
            families = [f for f in known if f not in excluded]
        tasks = builtin_corpus(families=families, limit=limit, seed=seed)
        info = {"source": "builtin", "limit": limit, "excluded_families": excluded}
        if corpus:  # --builtin with CORPUS paths: both, ids unique across them
            from ..corpus import load_corpus
            from ..corpus.tasks import check_unique

            tasks = tasks + load_corpus(corpus, label_column=label_column)
            check_unique(tasks)
            info = {"source": "builtin+directories", "limit": limit, "excluded_families": excluded,
                    "paths": list(corpus), "label_column": label_column}
    try:
        if extend is not None:
            from ..knowledge_base import KnowledgeBase
            from ..metatrain.extend import extend_knowledge_base, grid_candidates

            base = KnowledgeBase.load(extend)
            size = portfolio_size if portfolio_size_given else None
            kb = extend_knowledge_base(base, tasks, out, add=grid_candidates(add_configs) if add_configs else (),
                                       storage=storage, jobs=jobs, seed=seed, time_limit=limit_s,
                                       max_rows=max_rows, portfolio_size=size, progress=progress, corpus=info)
        else:
            if add_configs is not None:
                raise ConfigError("--add-configs needs --extend KB_DIR")
            kb = build_knowledge_base(
                tasks, out, trials=trials, backends=_backends(backends), storage=storage, jobs=jobs, seed=seed,
                time_limit=limit_s, portfolio_size=portfolio_size, sampler=sampler,
                progress=progress, max_rows=max_rows, corpus=info, verbose=True)
    except Exception as exc:
        _storage_error(exc)
        raise
    console.print(f"{out}: {len(kb.tasks)} tasks, {len(kb.configs)} configurations, "
                  f"{len(kb.metafeature_names)} meta-features", highlight=False)
    if selector_names:
        from ..selectors.saving import train_and_save, weights_dir
        from .recommend_cmd import print_selector_report

        report = train_and_save(kb, weights_dir(out), selector_names, seed=seed, progress=progress)
        print_selector_report(report)
        err_console.print(f"ready: metaclust recommend TABLE --kb {out}", highlight=False, soft_wrap=True)


def _selector_names(raw: Optional[list[str]]) -> list[str]:
    """--selectors: the default three, 'none' for none; unknown names fail before any work."""
    from ..plugins import get_registry
    from ..selectors.saving import DEFAULT_SELECTORS

    names = split_list(raw) if raw is not None else list(DEFAULT_SELECTORS)
    if names == ["none"]:
        return []
    reg = get_registry()
    for name in names:
        reg.selector(name)
    return names
