"""One progress bar for the commands that build a shipped artefact.

Training runs for minutes to hours; a bar per phase (tasks prepared, meta-steps, selectors
fitted) says how far it got, and the trainer's own messages are printed above it. Disabled
(``--no-progress``), the bar is silent and the messages still go to stderr, one per line.
"""
from __future__ import annotations

import sys
from typing import Any


class Bar:
    """A rich progress bar on stderr whose phase (description and total) can change."""

    def __init__(self, enabled: bool, description: str = "", total: int | None = None) -> None:
        self.progress: Any = None
        self.task: Any = None
        self._done = description
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=Console(stderr=True), transient=False)
            self.task = self.progress.add_task(description, total=total)

    def __enter__(self) -> Bar:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=self._done)
            self.progress.stop()

    def phase(self, description: str, total: int | None, done: str | None = None) -> None:
        """Start counting something else from zero (``done``: the text left when the bar stops)."""
        self._done = done or description
        if self.progress is not None:
            self.progress.reset(self.task, total=total, description=description)

    def show(self, text: str) -> None:
        """Describe what runs now, keeping the count."""
        if self.progress is not None:
            self.progress.update(self.task, description=text)

    def advance(self, steps: int = 1) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, steps)

    def log(self, message: str) -> None:
        """A trainer's message: above the bar, or a plain stderr line without one."""
        if self.progress is not None:
            self.progress.console.print(message, highlight=False, soft_wrap=True)
        else:
            print(message, file=sys.stderr, flush=True)
