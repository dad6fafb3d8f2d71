"""The old entry point ``python -m metaclust_automl.anomaly.train ARGS``: it runs
``metaclust train anomaly-policy ARGS`` (same options). The code lives in ``metaclust_automl.training.anomaly_policy``."""
