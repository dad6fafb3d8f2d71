"""Recommending configurations for a new table.

- :mod:`.ranking`: the one ranking path (``rank``) that the CLI, ``MetaClusterer``,
  ``metaclust evaluate`` and ``bench/`` all call;
- :mod:`.recommender`: ``Recommender``, the product in one class (rank, then run the best
  configuration with fallbacks);
- :mod:`.recommendation`: the plain dataclass each ranked configuration is;
- :mod:`.weights`: fitted selectors for a knowledge base (saved weights, else fitted now).
"""
from .ranking import PROBE_ROWS, Ranking, TableSession, clip_to_kb_range, labels_to_codes, metafeature_vector, rank
from .recommendation import Recommendation
from .recommender import DEFAULT_SELECTOR, Recommender
from .weights import find_saved, load_selector, shipped_weights_path, weight_dirs

__all__ = ["DEFAULT_SELECTOR", "PROBE_ROWS", "Ranking", "Recommendation", "Recommender", "TableSession",
           "clip_to_kb_range", "find_saved", "labels_to_codes", "load_selector", "metafeature_vector", "rank",
           "shipped_weights_path", "weight_dirs"]
