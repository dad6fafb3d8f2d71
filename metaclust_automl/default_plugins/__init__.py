"""The built-in plugins: backends, meta-feature groups, selectors and anomaly detectors,
registered through the same pluggy hooks as a third-party package (as ``llm`` does), one
module per kind. ``plugins.BUILTIN_MODULES`` lists them; the implementations live in
``backends/``, ``metafeatures/``, ``selectors/`` and ``anomaly/``."""
