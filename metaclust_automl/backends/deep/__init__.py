"""Helpers shared by the torch backends (``prototype`` and ``gan``).

Nothing here imports torch at module import: each function that needs it imports it
when called, so that ``import metaclust_automl`` stays fast.

- ``space``: the normalised space both backends work in (centred, at most 64
  principal directions, rows on the unit sphere) and neighbour mining in it;
- ``runtime``: device choice, seeding and the training progress bar;
- ``rule``: the prototype method's update rule (step sizes, temperature and balance
  schedules), plain or meta-learned, and its safetensors file;
- ``prototypes``: the prototype model and its training loop, differentiable so that
  meta-training can run through it;
- ``merge``: switching off redundant prototypes after training;
- ``synthetic``: generated labelled tasks (meta-training, tests, benchmark).
"""
