"""The old entry point ``python -m metaclust_automl.backends.prototype_meta ARGS``: it runs
``metaclust train prototype-rule ARGS`` (same options). The code lives in ``metaclust_automl.training.prototype_rule``."""
