"""``metaclust train kb|selectors|prototype-rule|anomaly-policy``: one group for everything that
builds a shipped artefact.

``kb`` and ``selectors`` are the ``meta-train`` and ``train-selectors`` commands themselves
(those names stay as aliases); ``prototype-rule`` and ``anomaly-policy`` take the options of
``python -m metaclust_automl.backends.prototype_meta`` and ``python -m
metaclust_automl.anomaly.train`` under the same names (``--out``, ``--seed``, ``--steps``)
and run them, so the module entry points stay valid.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import SeedOpt, app
from .metatrain_cmd import meta_train
from .recommend_cmd import train_selectors

train_app = typer.Typer(help="Build the shipped artefacts: knowledge base, selector weights, prototype rule, "
                             "anomaly policy.", no_args_is_help=True)
app.add_typer(train_app, name="train")

train_app.command("kb")(meta_train)
train_app.command("selectors")(train_selectors)


def _run(main, argv: list[str], what: str) -> None:  # noqa: ANN001 - a module's argparse main
    from ..errors import MetaclustError

    code = int(main(argv) or 0)
    if code:
        raise MetaclustError(f"{what} stopped with exit code {code} (see the messages above)")


@train_app.command("prototype-rule")
def prototype_rule(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Safetensors file to write (default: the "
                                                "shipped metaclust_automl/data/weights/prototype_rule.safetensors).")] = None,
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
) -> None:
    """Meta-train the prototype backend's update rule (learning-rate, temperature and balance
    schedules) on generated and built-in tasks; prints progress and the held-out ARI."""
    from ..backends import prototype_meta
    from ..errors import ConfigError

    if method not in ("es", "maml"):
        raise ConfigError(f"--method must be es or maml, got {method!r}")
    argv = ["--method", method, "--iters", str(iters), "--meta-batch", str(meta_batch), "--pairs", str(pairs),
            "--sigma", str(sigma), "--steps", str(steps), "--meta-lr", str(meta_lr), "--eval-tasks", str(eval_tasks),
            "--corpus-share", str(corpus_share), "--threads", str(threads), "--seed", str(seed)]
    if out is not None:
        argv += ["--out", str(out)]
    _run(prototype_meta.main, argv, "meta-training the prototype rule")


@train_app.command("anomaly-policy")
def anomaly_policy(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write policy.safetensors and "
                                      "policy.json to (metaclust_automl/data/anomaly ships them).")],
    spec: Annotated[Optional[Path], typer.Option("--spec", help="Corpus spec (default: "
                                                 "meta_datasets/anomaly/corpus.json).")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", min=1, help="Policy-gradient steps "
                                                 "(default: the shipped policy's).")] = None,
    limit_per_family: Annotated[Optional[int], typer.Option("--limit-per-family", min=1,
                                                            help="Use at most this many tasks per family.")] = None,
    cache: Annotated[Optional[Path], typer.Option("--cache", help="npz file of the corpus states: read when it "
                                                  "exists, else written (speeds up reruns).")] = None,
    seed: SeedOpt = 0,
) -> None:
    """Meta-train the anomaly policy (reinforcement learning across labelled anomaly tasks)."""
    from ..anomaly import train

    argv = ["--out", str(out), "--seed", str(seed)]
    for flag, value in (("--spec", spec), ("--steps", steps), ("--limit-per-family", limit_per_family),
                        ("--cache", cache)):
        if value is not None:
            argv += [flag, str(value)]
    _run(train.main, argv, "training the anomaly policy")
