"""Everything that builds a shipped artefact, apart from the code that uses it at run time.

- ``kb/``: the knowledge base, from a corpus of labelled tasks with Optuna (``metaclust train kb``,
  alias ``metaclust meta-train``): search per task x backend, portfolio, performance matrix;
- ``selector_weights``: every selector fitted on a knowledge base and saved as plain files
  (``metaclust train selectors``, alias ``metaclust train-selectors``);
- ``prototype_rule``: the prototype backend's update rule, meta-trained with ES-MAML
  (``metaclust train prototype-rule``, alias ``python -m metaclust_automl.backends.prototype_meta``),
  on the tasks of ``prototype_tasks``;
- ``anomaly_policy``: the anomaly policy, meta-trained with REINFORCE (``metaclust train
  anomaly-policy``, alias ``python -m metaclust_automl.anomaly.train``);
- ``confidence_calibration``: the confidence calibration (``data/trust/calibration.json``)
  fitted on a knowledge base's runs (``metaclust train confidence``, alias ``metaclust
  calibrate-confidence``);
- ``progress``: the progress bar they share.

The typer commands are in ``cli/train_cmd.py``; the training tasks come from ``generators/``.
Nothing at run time imports this package (``recommend``, ``backends`` and ``anomaly`` read the
artefacts through their own loaders), and this ``__init__`` imports nothing.
"""
