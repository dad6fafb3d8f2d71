"""Evaluation: how much better than a blind baseline is the recommendation, and what does it cost?

- :mod:`.baselines`: what a user does today without labels (KMeans with k by silhouette,
  HDBSCAN and DBSCAN defaults, Optuna TPE on silhouette);
- :mod:`.runner`: scoring every method on one labelled task;
- :mod:`.leave_one_out`: which knowledge-base tasks a selector may learn from for a task;
- :mod:`.report`: ``results.csv``, ``report.md`` and the plots.
"""
