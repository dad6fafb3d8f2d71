"""``python -m metaclust_automl.anomaly.train ARGS`` is ``metaclust train anomaly-policy ARGS``."""
import sys

from ...cli import main

sys.exit(main(["train", "anomaly-policy", *sys.argv[1:]]))
