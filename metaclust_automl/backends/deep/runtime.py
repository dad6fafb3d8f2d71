"""Device choice, seeding and the training progress bar of the torch backends."""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from ...params import Param
from ...torch_device import check_device, resolve_device  # noqa: F401 - the backends' device helpers

DEVICE = Param("device", "categorical", default="auto", choices=("auto", "cpu", "cuda"), search=False,
               help="where torch trains: auto = CUDA when available, else CPU")
VERBOSE = Param("verbose", "bool", default=True, search=False,
                help="show a training progress bar on stderr (only when stderr is a terminal)")


@contextlib.contextmanager
def seeded(seed: int, device: Any) -> Iterator[Any]:
    """Seed torch for one run without disturbing the caller's global random state.

    Yields a CPU ``torch.Generator`` for data order and sampling, so that the order of
    mini-batches is the same on every device for one seed.
    """
    import torch

    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


def _stderr_console(factory: Any) -> Any:
    """The command line's stderr console when the CLI is running (its spinner and this
    bar then share one console and render as one display), else a new one. Looked up
    in ``sys.modules`` so the library never imports the CLI."""
    app = sys.modules.get("metaclust_automl.cli.app")
    console = getattr(app, "err_console", None)
    return console if console is not None else factory(stderr=True)


class TrainingProgress:
    """A rich progress bar on stderr, shown only when asked for and stderr is a terminal
    (so that pipes, logs and pytest output stay clean)."""

    def __init__(self, description: str, total: int, verbose: bool = True) -> None:
        self.description = description
        self.total = max(int(total), 1)
        self.enabled = bool(verbose) and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> TrainingProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                      console=_stderr_console(Console), transient=True)
            try:
                self._progress.start()
            except Exception:  # noqa: BLE001 - another live display is active: stay quiet
                self._progress = None
                self.enabled = False
            else:
                self._task = self._progress.add_task(self.description, total=self.total, info="")
        return self

    def advance(self, steps: int = 1, info: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=steps, info=info)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
