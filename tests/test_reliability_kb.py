"""Knowledge base, selector.json and weights are validated before use (issue 14, "Knowledge
base and weights"): values, types, shapes and ranges, NaN/inf, huge integers and deep JSON
each give a KnowledgeBaseError (one line from the CLI), and the manifest is checksummed.
"""
from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaclust_automl.errors import KnowledgeBaseError
from metaclust_automl.knowledge_base import (MANIFEST, MANIFEST_DIGEST, STATUS, KnowledgeBase, default_kb_path,
                                             load_default, manifest_digest)
from metaclust_automl.plainjson import loads
from metaclust_automl.recommend import shipped_weights_path
from metaclust_automl.selectors.knn import KNNSelector
from metaclust_automl.selectors.maml import MAMLSelector
from metaclust_automl.selectors.rl2 import RL2Selector

from tables import blobs_csv
from tinykb_dir import tiny_kb_dir


@pytest.fixture
def kb_copy(tmp_path):
    d = tmp_path / "kb"
    shutil.copytree(tiny_kb_dir(), d)
    return d


def edit_manifest(d, change, *, resign: bool = False):
    path = d / MANIFEST
    m = json.loads(path.read_text())
    change(m)
    if resign:
        m[MANIFEST_DIGEST] = manifest_digest(m)
    path.write_text(json.dumps(m))


def test_shipped_knowledge_base_loads_and_is_checksummed():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kb = load_default()
    m = json.loads((default_kb_path() / MANIFEST).read_text())
    assert m[MANIFEST_DIGEST] == manifest_digest(m)
    assert len(kb.tasks) > 0


def test_reversed_metafeature_names_are_caught(kb_copy):
    edit_manifest(kb_copy, lambda m: m["metafeature_names"].reverse())
    with pytest.raises(KnowledgeBaseError, match="does not match its checksum"):
        KnowledgeBase.load(kb_copy)


def test_manifest_without_checksum_still_loads_with_a_warning(kb_copy):
    edit_manifest(kb_copy, lambda m: m.pop(MANIFEST_DIGEST))
    with pytest.warns(UserWarning, match="no checksum of its own"):
        KnowledgeBase.load(kb_copy)


def test_reformatting_the_manifest_keeps_the_checksum(kb_copy):
    path = kb_copy / MANIFEST
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4, sort_keys=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kb = KnowledgeBase.load(kb_copy)
    assert len(kb.configs) > 0 and len(kb.tasks) > 0


@pytest.mark.parametrize("text, why", [
    ('{"format": "metaclust-knowledge-base", "n": ' + "9" * 5000 + "}", "digits"),
    ("[" * 100_000 + "]" * 100_000, "nested"),
    ('{"a": NaN}', "NaN"),
    ('{"a": ' + "[" * 40 + "]" * 40 + "}", "deeper than"),
])
def test_hostile_json_is_refused(kb_copy, cli, text, why):
    (kb_copy / MANIFEST).write_text(text)
    with pytest.raises(KnowledgeBaseError, match=why):
        KnowledgeBase.load(kb_copy)
    data = blobs_csv(kb_copy.parent, 100, seed=1)[0]
    code, out, err = cli("recommend", data, "--kb", kb_copy)
    assert code == 1 and err.startswith("error:") and "internal error" not in err, err
    assert len(err.strip().splitlines()) == 1


def kb_with_arrays(kb_copy, change):
    """The tiny knowledge base with its arrays changed (and its checksums made to match)."""
    kb = KnowledgeBase.load(kb_copy)
    arrays = {"M": kb.M, "C": kb.C, "seconds": kb.seconds, "status": kb.status,
              **{f"P_{m}": v for m, v in kb.P.items()}}
    arrays = {k: np.array(v) for k, v in arrays.items()}
    change(arrays)
    np.savez_compressed(kb_copy / "arrays.npz", **arrays)
    from metaclust_automl.knowledge_base import sha256_file

    edit_manifest(kb_copy, lambda m: m["files"].update({"arrays.npz": sha256_file(kb_copy / "arrays.npz")}),
                  resign=True)


@pytest.mark.parametrize("change, why", [
    (lambda a: a["P_ari"].__setitem__((0, 0), np.nan), "NaN for runs marked as successful"),
    (lambda a: a["P_ari"].__setitem__((0, 0), np.inf), "infinite"),
    (lambda a: a["P_nmi"].__setitem__((1, 1), 7.0), "outside"),
    (lambda a: a["status"].__setitem__((0, 0), 9), "unknown codes"),
    (lambda a: a["seconds"].__setitem__((0, 0), -1.0), "non-negative"),
    (lambda a: a["C"].__setitem__((0, 0, 0), np.inf), "internal indices"),
])
def test_bad_values_in_the_arrays(kb_copy, change, why):
    def apply(arrays):
        arrays["status"][0, 0] = STATUS["ok"]
        arrays["status"][1, 1] = STATUS["ok"]
        change(arrays)

    kb_with_arrays(kb_copy, apply)
    with pytest.raises(KnowledgeBaseError, match=why):
        KnowledgeBase.load(kb_copy)


def test_nan_where_a_run_failed_is_fine(kb_copy):
    def apply(arrays):
        arrays["status"][0, 0] = STATUS["failed"]
        arrays["P_ari"][0, 0] = np.nan

    kb_with_arrays(kb_copy, apply)
    assert KnowledgeBase.load(kb_copy).performance("ari")[0, 0] == 0.0


@pytest.mark.parametrize("change, why", [
    (lambda m: m["tasks"][0].update(n=-5), "bad id or size"),
    (lambda m: m["configs"][0].update(params={"k": [1, 2]}), "not plain values"),
    (lambda m: m.update(tasks="abc"), "malformed manifest"),
])
def test_bad_manifest_values(kb_copy, change, why):
    edit_manifest(kb_copy, change, resign=True)
    with pytest.raises(KnowledgeBaseError, match=why):
        KnowledgeBase.load(kb_copy)


# -- selector states --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return load_default()


def selector_copy(tmp_path, name):
    d = tmp_path / name
    shutil.copytree(shipped_weights_path() / name, d)
    return d


def edit_state(d, change):
    path = d / "selector.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("cls", [KNNSelector, MAMLSelector, RL2Selector])
def test_shipped_selectors_load(shipped, cls):
    selector = cls.load(shipped_weights_path() / cls.name, shipped)
    assert isinstance(selector, cls) and selector.name == cls.name


@pytest.mark.parametrize("cls, change, why", [
    (MAMLSelector, lambda m: m["hyper"].update(n_bags=1e8), "n_bags"),
    (RL2Selector, lambda m: m["hyper"].update(n_bags=2.5), "n_bags"),
    (KNNSelector, lambda m: m["hyper"].update(k=-1), "k"),
    (KNNSelector, lambda m: m["hyper"].update(metric="accuracy!"), "metric"),
    (KNNSelector, lambda m: m["hyper"].update(surprise=1), "unknown hyper-parameter"),
    (MAMLSelector, lambda m: m["hyper"].update(hidden=True), "hidden"),
    (MAMLSelector, lambda m: m["metafeature_scaler"]["center"].pop(), "centres"),
    (KNNSelector, lambda m: m["metafeature_scaler"]["scale"].__setitem__(0, 0.0), "scale 0"),
    (KNNSelector, lambda m: m["index_scaler"].update(clip="big"), "clip"),
])
def test_bad_selector_state(tmp_path, shipped, cls, change, why):
    d = selector_copy(tmp_path, cls.name)
    edit_state(d, change)
    with pytest.raises(KnowledgeBaseError, match=why):
        cls.load(d, shipped)


def nan_weight(tensors):
    key = sorted(tensors)[0]
    tensors[key] = tensors[key].copy()
    tensors[key].flat[0] = np.nan


def misshapen_weight(tensors):
    key = next(k for k in sorted(tensors) if tensors[k].ndim == 2)
    tensors[key] = np.ascontiguousarray(tensors[key][:, :-1])


@pytest.mark.parametrize("cls", [MAMLSelector, RL2Selector])
@pytest.mark.parametrize("change, why", [(nan_weight, "NaN or inf"), (misshapen_weight, "do not fit|no usable")])
def test_bad_weights(tmp_path, shipped, cls, change, why):
    from safetensors.numpy import load_file, save_file

    from metaclust_automl.checksums import sha256_file as _sha256

    d = selector_copy(tmp_path, cls.name)
    tensors = dict(load_file(str(d / "weights.safetensors")))
    change(tensors)
    save_file(tensors, str(d / "weights.safetensors"))
    edit_state(d, lambda m: m.update(weights_sha256=_sha256(d / "weights.safetensors")))
    with pytest.raises(KnowledgeBaseError, match=why):
        cls.load(d, shipped)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True),
                       st.text(max_size=5), st.booleans(), st.none()))
def test_any_knn_k_loads_or_is_refused(tmp_path_factory, shipped, value):
    d = selector_copy(tmp_path_factory.mktemp("s"), "knn")
    path = d / "selector.json"
    meta = json.loads(path.read_text())
    meta["hyper"]["k"] = value
    path.write_text(json.dumps(meta))
    try:
        sel = KNNSelector.load(d, shipped)
    except KnowledgeBaseError:
        return
    assert 1 <= sel.k <= 100_000


def test_plainjson_bounds():
    assert loads('{"a": 12345678901234567890}', "x") == {"a": 12345678901234567890}
    with pytest.raises(KnowledgeBaseError, match="21 digits"):
        loads('{"a": 123456789012345678901}', "x")
