"""``python -m metaclust_automl`` runs the CLI."""
import sys

from .cli import main

sys.exit(main())
