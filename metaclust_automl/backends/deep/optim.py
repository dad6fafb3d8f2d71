"""Adam, written out, for the torch backends.

Why not ``torch.optim``: creating its first optimizer imports ``torch._dynamo``, which
costs about 2 s per process (measured with ``python -X importtime``) on a run that
otherwise takes a few seconds on a small table. The same update serves the
functional, differentiable training loop of ``prototypes`` (meta-training runs
through it) and the module-based loop of ``clustergan``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-6


def adam_direction(m1: Any, m2: Any, grad: Any, step: int, betas: tuple[float, float] = ADAM_BETAS,
                   eps: float = ADAM_EPS) -> tuple[Any, Any, Any]:
    """New first and second moments and the bias-corrected step direction (to be scaled
    by the learning rate) after gradient ``grad`` at step ``step`` (counted from 1).
    Out of place, so a caller can differentiate through it."""
    b1, b2 = betas
    c1, c2 = 1.0 - b1 ** step, 1.0 - b2 ** step
    m1 = b1 * m1 + (1 - b1) * grad
    m2 = b2 * m2 + (1 - b2) * grad * grad
    return m1, m2, (m1 / c1) / ((m2 / c2 + eps ** 2).sqrt() + eps)


class Adam:
    """Adam over groups of parameters, each group ``(parameters, learning rate)``;
    ``zero_grad`` and ``step`` as in ``torch.optim``."""

    def __init__(self, groups: Sequence[tuple[Iterable[Any], float]], betas: tuple[float, float] = ADAM_BETAS,
                 eps: float = ADAM_EPS) -> None:
        import torch

        self.groups = [(list(params), float(lr)) for params, lr in groups]
        self.betas, self.eps, self.steps = betas, eps, 0
        self.moments = {id(p): (torch.zeros_like(p), torch.zeros_like(p)) for ps, _ in self.groups for p in ps}

    def zero_grad(self) -> None:
        for params, _ in self.groups:
            for p in params:
                p.grad = None

    def step(self) -> None:
        import torch

        self.steps += 1
        with torch.no_grad():
            for params, lr in self.groups:
                for p in params:
                    if p.grad is None:
                        continue
                    m1, m2, direction = adam_direction(*self.moments[id(p)], p.grad, self.steps, self.betas,
                                                       self.eps)
                    self.moments[id(p)] = (m1, m2)
                    p.sub_(lr * direction)
