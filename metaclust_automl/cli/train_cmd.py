"""``metaclust train kb|selectors|prototype-rule|anomaly-policy|confidence|judge``: one group for everything that
builds a shipped artefact, with the same option names (``-o/--output``, ``--seed``,
``--progress/--no-progress``) and a progress bar in each.

``kb``, ``selectors`` and ``confidence`` are the ``meta-train``, ``train-selectors`` and
``calibrate-confidence`` commands themselves (those names stay as aliases); ``prototype-rule`` and ``anomaly-policy`` run
``training.prototype_rule.train_rule`` and ``training.anomaly_policy.train``. Their old module
entry points (``python -m metaclust_automl.backends.prototype_meta``, ``python -m
metaclust_automl.anomaly.train``) run these commands, and ``--out`` stays accepted.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import OutAliasOpt, ProgressOpt, SeedOpt, app, err_console, pick_output
from .metatrain_cmd import meta_train
from .recommend_cmd import train_selectors
from .trust_cmd import calibrate_confidence

train_app = typer.Typer(help="Build the shipped artefacts: knowledge base, selector weights, prototype rule, "
                             "anomaly policy, confidence calibration, probe-judge rows.", no_args_is_help=True)
app.add_typer(train_app, name="train")

train_app.command("kb")(meta_train)
train_app.command("selectors")(train_selectors)
train_app.command("confidence")(calibrate_confidence)


def _command_line(name: str, options: dict[str, Any]) -> str:
    """The command with every option it ran with, recorded in the artefact's metadata."""
    parts = ["metaclust", "train", name]
    for flag, value in options.items():
        if value is not None:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


@train_app.command("prototype-rule")
def prototype_rule(
    output: Annotated[Optional[str], typer.Option("-o", "--output", metavar="FILE", help="Safetensors file to "
                      "write (default: the shipped metaclust_automl/data/weights/prototype_rule.safetensors).")] = None,
    out_alias: OutAliasOpt = None,
    method: Annotated[str, typer.Option("--method", help="Meta-learner: es (evolution strategies) or maml.")] = "es",
    iters: Annotated[int, typer.Option("--iters", min=1, help="Meta-gradient steps.")] = 150,
    meta_batch: Annotated[int, typer.Option("--meta-batch", min=1, help="maml: tasks per meta-gradient step.")] = 2,
    pairs: Annotated[int, typer.Option("--pairs", min=1, help="es: antithetic pairs (tasks) per step.")] = 8,
    sigma: Annotated[float, typer.Option("--sigma", help="es: perturbation scale in log space.")] = 0.2,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps unrolled per task.")] = 200,
    meta_lr: Annotated[float, typer.Option("--meta-lr", help="Adam step size on the log-schedules.")] = 0.03,
    eval_tasks: Annotated[int, typer.Option("--eval-tasks", min=0, help="Held-out generated tasks scored at the end.")] = 32,
    corpus_share: Annotated[float, typer.Option("--corpus-share", help="Share of training tasks drawn from the "
                                                "built-in corpus (the rest are generated).")] = 0.7,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Torch CPU threads.")] = 2,
    seed: SeedOpt = 0,
    progress: ProgressOpt = True,
) -> None:
    """Meta-train the prototype backend's update rule (learning-rate, temperature and balance
    schedules) on generated and built-in tasks; prints progress and the held-out ARI."""
    from ..errors import ConfigError
    from ..training.prototype_rule import train_rule

    if method not in ("es", "maml"):
        raise ConfigError(f"--method must be es or maml, got {method!r}")
    out = pick_output(output, out_alias)
    options = {"-o": out, "--method": method, "--iters": iters, "--meta-batch": meta_batch, "--pairs": pairs,
               "--sigma": sigma, "--steps": steps, "--meta-lr": meta_lr, "--eval-tasks": eval_tasks,
               "--corpus-share": corpus_share, "--threads": threads, "--seed": seed}
    path, _ = train_rule(out, method=method, iters=iters, meta_batch=meta_batch, pairs=pairs, sigma=sigma,
                         steps=steps, meta_lr=meta_lr, eval_tasks=eval_tasks, corpus_share=corpus_share,
                         threads=threads, seed=seed, progress=progress,
                         command=_command_line("prototype-rule", options))
    err_console.print(f"wrote {path}", highlight=False, soft_wrap=True)


@train_app.command("anomaly-policy")
def anomaly_policy(
    output: Annotated[Optional[str], typer.Option("-o", "--output", metavar="DIR", help="Directory to write "
                      "policy.safetensors and policy.json to (metaclust_automl/data/anomaly ships them); "
                      "required.")] = None,
    out_alias: OutAliasOpt = None,
    spec: Annotated[Optional[Path], typer.Option("--spec", help="Corpus spec (default: "
                                                 "meta_datasets/anomaly/corpus.json).")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", min=1, help="Policy-gradient steps "
                                                 "(default: the shipped policy's).")] = None,
    limit_per_family: Annotated[Optional[int], typer.Option("--limit-per-family", min=1,
                                                            help="Use at most this many tasks per family.")] = None,
    cache: Annotated[Optional[Path], typer.Option("--cache", help="npz file of the corpus states: read when it "
                                                  "exists, else written (speeds up reruns).")] = None,
    seed: SeedOpt = 0,
    progress: ProgressOpt = True,
) -> None:
    """Meta-train the anomaly policy (reinforcement learning across labelled anomaly tasks)."""
    from ..errors import ConfigError
    from ..training.anomaly_policy import train

    out = pick_output(output, out_alias)
    if out is None:
        raise ConfigError("give the directory to write the policy to with -o/--output")
    options = {"-o": out, "--spec": spec, "--steps": steps, "--limit-per-family": limit_per_family,
               "--cache": cache, "--seed": seed}
    policy = train(out, spec=spec, steps=steps, seed=seed, limit_per_family=limit_per_family, cache=cache,
                   progress=progress, command=_command_line("anomaly-policy", options))
    err_console.print(f"wrote {out} (held-out ROC-AUC {policy.info.get('validation_auc')}, "
                      f"{policy.info.get('total_seconds')} s)", highlight=False, soft_wrap=True)


@train_app.command("judge")
def judge(
    datasets: Annotated[Optional[Path], typer.Argument(help="Directory of the knowledge base's dataset tasks "
                                                       "(e.g. ../shared/datasets/clustering); built-in tasks are "
                                                       "generated.")] = None,
    kb: Annotated[Optional[str], typer.Option("--kb", help="Knowledge base (default: the shipped one).")] = None,
    output: Annotated[Optional[str], typer.Option("-o", "--output", metavar="FILE", help="Rows file to write "
                      "(default: the shipped metaclust_automl/data/judge/rows.json).")] = None,
    out_alias: OutAliasOpt = None,
    seed: SeedOpt = 0,
    progress: ProgressOpt = True,
) -> None:
    """Build the probe judge's training rows: every task's first five held-out knn candidates,
    run on its probe sample (about a second per task)."""
    from ..atomic import check_output_path
    from ..errors import DataError
    from ..knowledge_base import KnowledgeBase, load_default
    from ..selectors.judge import rows_path
    from ..training.judge_rows import build_rows, save_rows

    if datasets is not None and not datasets.is_dir():
        raise DataError(f"{datasets} is not a directory")
    out = pick_output(output, out_alias) or str(rows_path())
    check_output_path(out)
    base = load_default() if kb is None else KnowledgeBase.load(kb)
    rows = build_rows(base, datasets=datasets, seed=seed, progress=progress)
    if not rows["tasks"]:
        raise DataError("no task of the knowledge base could be loaded; give the directory of its dataset tasks")
    path = save_rows(rows, out)
    note = f"; {len(rows['missing'])} tasks not found (e.g. {rows['missing'][0]})" if rows["missing"] else ""
    err_console.print(f"wrote {path}: {len(rows['tasks'])} tasks in {rows['seconds']} s{note}",
                      highlight=False, soft_wrap=True)
