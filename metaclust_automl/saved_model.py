"""Saved models: what a fitted clustering needs to label tomorrow's rows, as plain files.

A model directory holds ``model.json`` (format, version, algorithm, parameters, column
schema, how new rows are labelled), ``state.npz`` (preprocessing statistics, cluster
centres, a stratified pool of fitted rows and their labels) and ``manifest.json`` (sha256
of both). Loading runs no code and checks every digest: no pickle anywhere.

How a new row is labelled, per backend (``PREDICT_RULES``):

- kmeans, birch: the nearest cluster centre (k-means' own rule; BIRCH's global clusters);
- gmm: the most likely Gaussian, estimated from the fitted clusters;
- kprototypes: the nearest prototype under the k-prototypes cost (numbers + gamma x mismatches);
- hdbscan, dbscan: the nearest fitted core row (non-noise) if the new row lies within that
  row's reach (DBSCAN: eps; HDBSCAN: the largest core distance, to the min_samples-th
  neighbour, among the fitted rows of that cluster), else noise. The hdbscan
  package's ``approximate_predict`` needs its pickled tree, which a plain-file model cannot hold;
- every other backend (agglomerative, spectral, OPTICS, mean shift, plugins): the label of
  the nearest fitted row.

A row identical to a fitted row gets that row's label, so predicting the fitted table
reproduces its labels. New data must have every fitted column (extra columns are ignored and
named in a note); a numeric column that now holds text is an error; an unseen category is
coded as no known level (equally far from every level) and named in a note.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import preprocess
from .errors import DataError, MetaclustError

FORMAT = "metaclust-model"
VERSION = 1
MODEL_FILE = "model.json"
STATE_FILE = "state.npz"
MANIFEST_FILE = "manifest.json"
#: at most this many fitted rows are kept for nearest-row rules (every cluster represented)
POOL_ROWS = 20_000
PREDICT_RULES = {"kmeans": "centroid", "birch": "centroid", "gmm": "gaussian",
                 "kprototypes": "prototype", "hdbscan": "core", "dbscan": "core"}


class ModelError(MetaclustError, ValueError):
    """A model directory is missing, corrupt, tampered with, or does not fit the new rows."""

    exit_code = 2


@dataclass
class SavedModel:
    """A fitted clustering that labels new rows (see the module docstring for the rules)."""

    algorithm: str
    params: dict[str, Any]
    resolved: dict[str, Any]
    columns: list[str]
    schema: Any  # encoding.Schema or None (a numeric table)
    rule: str
    state: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)

    # -- building -------------------------------------------------------------------------
    @classmethod
    def from_run(cls, X: np.ndarray, labels: np.ndarray, algorithm: str, params: dict[str, Any],
                 resolved: dict[str, Any], columns: list[str], schema: Any = None, seed: int = 0,
                 noise_assigned: bool = False) -> SavedModel:
        """The model of a finished run: ``X`` the (encoded) table it ran on, ``labels`` its labels.
        ``noise_assigned``: the run's noise rows were given their nearest cluster
        (``backends.noise``), so a new row is too: a density backend's new rows then take the
        nearest fitted row's label, without the reach test that would call them noise."""
        from .backends.assignment import stratified_pool
        from .encoding import keep_layout

        method = str(params.get("preprocess", "none"))
        stats = preprocess.fit(X, method, seed=seed)
        Xp = keep_layout(preprocess.transform(X, method, stats), X)
        labels = np.asarray(labels, dtype=np.int64)
        rule = PREDICT_RULES.get(algorithm, "nearest_row")
        if noise_assigned and rule == "core":
            rule = "nearest_row"
        state: dict[str, np.ndarray] = {f"pre_{k}": np.asarray(v) for k, v in stats.items()}
        pool = stratified_pool(labels, POOL_ROWS, np.random.default_rng(seed))
        state["pool"], state["pool_labels"] = np.ascontiguousarray(Xp[pool]), labels[pool]
        state["raw_pool"] = np.ascontiguousarray(np.asarray(X)[pool])
        ids, inverse = np.unique(labels[labels >= 0], return_inverse=True)
        if ids.size:  # cluster means in one pass over the rows
            sums = np.zeros((ids.size, Xp.shape[1]))
            np.add.at(sums, inverse, np.asarray(Xp)[labels >= 0])
            state["centre_ids"] = ids
            state["centres"] = sums / np.bincount(inverse)[:, None]
        if rule == "core":
            state["reach"] = _reach(np.asarray(Xp), labels, pool, algorithm, resolved)
        if rule == "prototype":
            from .backends.kprototypes import prototypes

            state.update(prototypes(Xp, labels, resolved))
        return cls(algorithm=algorithm, params=dict(params), resolved=dict(resolved),
                   columns=list(columns), schema=schema, rule=rule, state=state)

    # -- labelling ------------------------------------------------------------------------
    def encode_frame(self, df: pd.DataFrame, source: str = "new data") -> np.ndarray:
        """The new rows in the fitted encoding (raises ModelError on a schema mismatch)."""
        from .loading import _clean_names, _numeric_column

        names = _clean_names(df.columns)
        df = df.set_axis(names, axis=1)
        missing = [c for c in self.columns if c not in names]
        if missing:
            shown = ", ".join(repr(c) for c in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise ModelError(f"{source} lacks column{'s' if len(missing) > 1 else ''} {shown} that the "
                             f"model was fitted on; it needs: {', '.join(self.columns[:10])}")
        extra = [c for c in names if c not in self.columns]
        self.notes = []
        if extra:
            self.notes.append(f"ignored {len(extra)} column{'s' if len(extra) > 1 else ''} the model "
                              f"was not fitted on: {', '.join(repr(c) for c in extra[:5])}")
        numeric = self.schema.numeric if self.schema is not None else self.columns
        num = np.empty((len(df), len(numeric)))
        for j, name in enumerate(numeric):
            values, wrong = _numeric_column(df[name])
            if values is None or pd.api.types.is_bool_dtype(df[name].dtype):
                raise ModelError(f"{source}: column {name!r} was numeric when the model was fitted "
                                 f"but holds {wrong or df[name].dtype!s:.30} here; convert it to numbers")
            if not np.isfinite(values).all():
                bad = int(np.count_nonzero(~np.isfinite(values)))
                raise ModelError(f"{source}: column {name!r} has {bad} missing or infinite value"
                                 f"{'s' if bad > 1 else ''}; fill them before predicting")
            num[:, j] = values
        if self.schema is None:
            return num
        from .encoding import category_strings

        for name in self.schema.categorical:
            unseen = sorted(set(category_strings(df[name]).tolist()) - set(self.schema.levels[name]))
            if unseen:
                self.notes.append(f"column {name!r}: {len(unseen)} categor{'ies' if len(unseen) > 1 else 'y'} "
                                  f"not seen when fitting ({', '.join(map(repr, unseen[:3]))}), coded as "
                                  "no known level")
        return self.schema.encode(num, df)

    def predict_encoded(self, X: np.ndarray) -> np.ndarray:
        """Labels of rows already in the fitted encoding (before the backend's preprocessing)."""
        from .backends.assignment import gaussian_labels, nearest_labels
        from .encoding import keep_layout

        X = np.asarray(X, dtype=np.float64) if not hasattr(X, "layout") else X
        width = self.state["raw_pool"].shape[1]
        if X.ndim != 2 or X.shape[1] != width:
            raise ModelError(f"the model was fitted on {width} encoded columns; got {X.shape[-1]}")
        stats = {k[4:]: v for k, v in self.state.items() if k.startswith("pre_")}
        Xp = keep_layout(preprocess.transform(X, str(self.params.get("preprocess", "none")), stats), X)
        pool, pool_labels = self.state["pool"], self.state["pool_labels"]
        if "centres" not in self.state:  # every fitted row was noise
            labels = np.full(X.shape[0], -1, dtype=np.int64)
        elif self.rule == "centroid":
            labels = nearest_labels(np.asarray(Xp), self.state["centres"], self.state["centre_ids"])
        elif self.rule == "gaussian":
            labels = gaussian_labels(np.asarray(Xp), pool, pool_labels,
                                     covariance_type=str(self.resolved.get("covariance_type", "full")))
        elif self.rule == "prototype":
            from .backends.kprototypes import predict_prototypes

            labels = predict_prototypes(Xp, self.state)
        else:
            core = pool_labels >= 0
            idx, dist = _nearest(np.asarray(Xp), pool[core])
            labels = pool_labels[core][idx]
            if self.rule == "core":  # beyond the nearest core row's reach: noise
                labels = np.where(dist <= self.state["reach"][core][idx], labels, -1)
        return _exact_rows(X, self.state["raw_pool"], pool_labels, labels)

    def predict_frame(self, df: pd.DataFrame, source: str = "new data") -> np.ndarray:
        return self.predict_encoded(self.encode_frame(df, source))

    # -- files ------------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write the model as plain files (atomically; refuses a directory that is not a model)."""
        from .atomic import atomic_directory
        from .knowledge_base import sha256_file

        target = Path(directory)
        if target.exists():
            if not target.is_dir():
                raise ModelError(f"cannot save a model to {target}: it is a file")
            if any(target.iterdir()) and not (target / MANIFEST_FILE).is_file():
                raise ModelError(f"{target} exists and is not a metaclust model; choose a new or "
                                 "empty directory (nothing was overwritten)")
        meta = {"format": FORMAT, "version": VERSION, "algorithm": self.algorithm,
                "params": _plain(self.params), "resolved": _plain(self.resolved),
                "columns": list(self.columns), "rule": self.rule,
                "schema": self.schema.to_json() if self.schema is not None else None}
        with atomic_directory(target) as tmp:
            (tmp / MODEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
            np.savez(tmp / STATE_FILE, **self.state)
            manifest = {"format": FORMAT, "version": VERSION,
                        "files": {name: sha256_file(tmp / name) for name in (MODEL_FILE, STATE_FILE)}}
            (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike) -> SavedModel:
        """Read a model directory, checking its format and every file's digest."""
        from .encoding import Schema
        from .knowledge_base import sha256_file

        d = Path(directory)
        if not (d / MANIFEST_FILE).is_file():
            raise ModelError(f"{d} is not a metaclust model (no {MANIFEST_FILE}); save one with "
                             "`metaclust cluster DATA --save-model DIR`")
        try:
            manifest = json.loads((d / MANIFEST_FILE).read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
                raise ModelError(f"{d} holds a model of another format or version "
                                 f"({manifest.get('format')} {manifest.get('version')}); this metaclust "
                                 f"reads {FORMAT} {VERSION}")
            for name in (MODEL_FILE, STATE_FILE):
                if sha256_file(d / name) != manifest["files"][name]:
                    raise ModelError(f"{d / name} does not match its checksum; the model is corrupt "
                                     "or was edited: save it again")
            meta = json.loads((d / MODEL_FILE).read_text(encoding="utf-8"))
            with np.load(d / STATE_FILE, allow_pickle=False) as z:
                state = {k: z[k] for k in z.files}
            schema = Schema.from_json(meta["schema"]) if meta["schema"] is not None else None
            return cls(algorithm=str(meta["algorithm"]), params=dict(meta["params"]),
                       resolved=dict(meta["resolved"]), columns=[str(c) for c in meta["columns"]],
                       schema=schema, rule=str(meta["rule"]), state=state)
        except ModelError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError, DataError) as exc:
            raise ModelError(f"cannot read the model in {d}: {exc}") from None


def _plain(obj: Any) -> Any:
    from .backends.resolve import jsonable

    return jsonable(obj)


def _nearest_index(X: np.ndarray, ref: np.ndarray) -> np.ndarray:
    from .backends.assignment import nearest_labels

    return nearest_labels(X, ref, np.arange(ref.shape[0]))


def _nearest(X: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the nearest reference row, distance to it); ``ref`` holds at least one row
    (the caller has a cluster, so a non-noise fitted row)."""
    idx = _nearest_index(X, ref)
    return idx, np.sqrt(((X - ref[idx]) ** 2).sum(axis=1))


def _reach(Xp: np.ndarray, labels: np.ndarray, pool: np.ndarray, algorithm: str,
           resolved: dict[str, Any]) -> np.ndarray:
    """How far from each pooled row a new row may lie and still join its cluster: DBSCAN's
    eps, or the largest HDBSCAN core distance (to the min_samples-th neighbour) in its cluster."""
    if algorithm == "dbscan" and "eps" in resolved:
        return np.full(pool.size, float(resolved["eps"]))
    from sklearn.neighbors import NearestNeighbors

    k = int(min(max(1, resolved.get("min_samples", 5)), Xp.shape[0] - 1))
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(Xp).kneighbors(Xp[pool])  # pooled rows only
    core = dist[:, -1]
    lab = labels[pool]
    reach = np.zeros(pool.size)
    for i in np.unique(lab[lab >= 0]):  # the sparsest core distance of the cluster
        reach[lab == i] = core[lab == i].max()
    return reach


def _exact_rows(X: np.ndarray, raw_pool: np.ndarray, pool_labels: np.ndarray, labels: np.ndarray
                ) -> np.ndarray:
    """Rows identical to a fitted (pooled) row take that row's label."""
    key = {np.ascontiguousarray(r).tobytes(): int(lab) for r, lab in zip(raw_pool, pool_labels)}
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    out = labels.astype(np.int64, copy=True)
    for i in range(X.shape[0]):
        hit = key.get(X[i].tobytes())
        if hit is not None:
            out[i] = hit
    return out
