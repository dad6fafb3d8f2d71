"""``python -m metaclust_automl.backends.prototype_meta ARGS`` is ``metaclust train prototype-rule ARGS``."""
import sys

from ...cli import main

sys.exit(main(["train", "prototype-rule", *sys.argv[1:]]))
