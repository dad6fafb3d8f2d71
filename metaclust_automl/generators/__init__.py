"""Every generator of labelled tables, in one package: code and a seed in, a table with its
reference labels out, the same table for the same seed on any machine.

- ``clusters``: the clustering corpus's synthetic families (blobs, moons, rings, spirals,
  chainlink, stripes, scenes, mixed-type tables, and those of the three modules below), named
  by parameters that task ids record, with the column transforms every generator takes
  (noise, outliers, irrelevant columns, skewed, scaled and integer-valued columns);
- ``heavy_tailed``, ``hypercube``, ``scenes3d``: Student-t / Laplace mixtures,
  make_classification-like hypercube classes, and 3-D shape scenes (issue 16's families);
- ``layout``: what the cluster generators share (sizes, centre layouts, rotations);
- ``real_subsets``: class subsets, subsamples and column subsets of the datasets scikit-learn
  ships (the corpus's real families);
- ``manifolds``: curved manifolds and anisotropic blobs in many dimensions (the prototype
  rule's meta-training tasks, the deep backends' tests and benchmark);
- ``shapes``: scikit-learn's textbook shapes for the tiny knowledge bases of tests and examples;
- ``mixed``: mixed-type frames (overlapping numbers, categories that name the cluster some
  of the time), raw for the encoders' tests, encoded as the loader would by ``clusters.mixed``;
- ``anomalies``: the anomaly policy's training corpus (normal rows plus ADBench-style
  anomalies, y = 1 anomalous), from ``meta_datasets/anomaly/corpus.json``.

The shipped knowledge base, prototype rule and anomaly policy were built from these tables,
so how a generator draws its numbers must not change: ``tests/test_generators_pinned.py``
pins one table of each. This ``__init__`` imports nothing, so using one generator loads no
other (and the corpus package may import ``clusters`` without a cycle).
"""
