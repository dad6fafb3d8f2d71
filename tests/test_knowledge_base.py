"""The knowledge base on disk: round trip, and clear errors for damaged or foreign ones."""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from metaclust_automl.errors import KnowledgeBaseError
from metaclust_automl.knowledge_base import ARRAYS, MANIFEST, STATUS, Config, KnowledgeBase, Task, sha256_file


def make_kb(T: int = 3, K: int = 2) -> KnowledgeBase:
    rng = np.random.default_rng(0)
    return KnowledgeBase(
        tasks=[Task(id=f"t{i}", group="g", n=100, d=2, source="test") for i in range(T)],
        configs=[Config(id=f"kmeans-{k}", algorithm="kmeans", params={"n_clusters": k + 2, "preprocess": "none"})
                 for k in range(K)],
        metafeature_names=["a", "b"], index_names=["silhouette", "n_clusters"],
        M=rng.normal(size=(T, 2)), P={m: rng.uniform(size=(T, K)) for m in ("ari", "nmi", "acc")},
        C=rng.normal(size=(T, K, 2)), seconds=rng.uniform(size=(T, K)),
        status=np.zeros((T, K), dtype=np.int8), info={"sampler": "qmc", "build": {"jobs": 1}})


@pytest.fixture
def saved(tmp_path):
    kb = make_kb()
    kb.save(tmp_path / "kb")
    return tmp_path / "kb", kb


def _rewrite_manifest(d, change) -> None:
    m = json.loads((d / MANIFEST).read_text())
    change(m)
    (d / MANIFEST).write_text(json.dumps(m))


def test_round_trip_keeps_everything(saved):
    d, kb = saved
    back = KnowledgeBase.load(d)
    assert back.task_ids == kb.task_ids and [c.params for c in back.configs] == [c.params for c in kb.configs]
    for m in ("ari", "nmi", "acc"):
        np.testing.assert_array_equal(back.P[m], kb.P[m])
    np.testing.assert_array_equal(back.C, kb.C)
    assert back.content_digest() == kb.content_digest()
    assert back.info["sampler"] == "qmc"


def test_content_digest_ignores_timings_and_build_info_only():
    a, b = make_kb(), make_kb()
    b.seconds = b.seconds + 1.0
    b.info["build"] = {"jobs": 2, "storage": "postgresql://x"}
    assert a.content_digest() == b.content_digest()
    b.P["ari"][0, 0] += 1e-9
    assert a.content_digest() != b.content_digest()
    c = make_kb()
    c.status[1, 1] = STATUS["timeout"]
    assert a.content_digest() != c.content_digest()


def test_missing_directory_and_manifest(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="not a directory"):
        KnowledgeBase.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KnowledgeBaseError, match="manifest.json is missing"):
        KnowledgeBase.load(tmp_path / "empty")


def test_corrupt_manifest(saved):
    d, _ = saved
    (d / MANIFEST).write_bytes(b"{\"format\": \"metaclust-kn\xff\xfe")
    with pytest.raises(KnowledgeBaseError, match="corrupt"):
        KnowledgeBase.load(d)


def test_foreign_directory(saved):
    d, _ = saved
    _rewrite_manifest(d, lambda m: m.update(format="someone-elses-model"))
    with pytest.raises(KnowledgeBaseError, match="not a metaclust knowledge base"):
        KnowledgeBase.load(d)
    (d / MANIFEST).write_text("[1, 2, 3]")
    with pytest.raises(KnowledgeBaseError, match="not a metaclust knowledge base"):
        KnowledgeBase.load(d)


def test_wrong_schema_version(saved):
    d, _ = saved
    _rewrite_manifest(d, lambda m: m.update(schema_version=99))
    with pytest.raises(KnowledgeBaseError, match="schema version 99.*rebuild it"):
        KnowledgeBase.load(d)


def test_truncated_arrays(saved):
    d, _ = saved
    data = (d / ARRAYS).read_bytes()
    (d / ARRAYS).write_bytes(data[: len(data) // 2])
    with pytest.raises(KnowledgeBaseError, match="checksum.*truncated or modified"):
        KnowledgeBase.load(d)
    # even with a matching checksum, a truncated zip is a clear error
    _rewrite_manifest(d, lambda m: m["files"].update({ARRAYS: sha256_file(d / ARRAYS)}))
    with pytest.raises(KnowledgeBaseError, match="cannot read arrays.npz"):
        KnowledgeBase.load(d)


def test_tampered_values(saved):
    d, kb = saved
    with np.load(d / ARRAYS, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["P_ari"][0, 0] = 1.0
    np.savez_compressed(d / ARRAYS, **arrays)
    with pytest.raises(KnowledgeBaseError, match="does not match its checksum"):
        KnowledgeBase.load(d)


def test_missing_file_and_escaping_names(saved):
    d, _ = saved
    os.remove(d / ARRAYS)
    with pytest.raises(KnowledgeBaseError, match="incomplete: arrays.npz is missing"):
        KnowledgeBase.load(d)
    _rewrite_manifest(d, lambda m: m["files"].update({"../../etc/passwd": "0" * 64}))
    with pytest.raises(KnowledgeBaseError):
        KnowledgeBase.load(d)
    _rewrite_manifest(d, lambda m: m.update(files={}))
    with pytest.raises(KnowledgeBaseError, match="no checksums"):
        KnowledgeBase.load(d)


def test_wrong_shapes_with_valid_checksums(saved):
    d, _ = saved
    with np.load(d / ARRAYS, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["C"] = arrays["C"][:, :1]
    np.savez_compressed(d / ARRAYS, **arrays)
    _rewrite_manifest(d, lambda m: m["files"].update({ARRAYS: sha256_file(d / ARRAYS)}))
    with pytest.raises(KnowledgeBaseError, match="C has shape"):
        KnowledgeBase.load(d)


def test_object_arrays_are_refused_not_unpickled(saved):
    d, _ = saved
    with np.load(d / ARRAYS, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["M"] = np.array([[{"x": 1}, None]] * 3, dtype=object)
    np.savez(d / ARRAYS, **arrays)  # would need pickle to read
    _rewrite_manifest(d, lambda m: m["files"].update({ARRAYS: sha256_file(d / ARRAYS)}))
    with pytest.raises(KnowledgeBaseError):
        KnowledgeBase.load(d)


def test_malformed_manifest_fields(saved):
    d, _ = saved
    _rewrite_manifest(d, lambda m: m.update(tasks=[{"id": "t0", "bogus": 1}]))
    with pytest.raises(KnowledgeBaseError, match="malformed manifest"):
        KnowledgeBase.load(d)


def test_not_a_zip(saved):
    d, _ = saved
    (d / ARRAYS).write_bytes(b"PK\x03\x04 this is not really a zip file" * 10)
    _rewrite_manifest(d, lambda m: m["files"].update({ARRAYS: sha256_file(d / ARRAYS)}))
    with pytest.raises(KnowledgeBaseError, match="cannot read"):
        KnowledgeBase.load(d)
    assert not zipfile.is_zipfile(d / ARRAYS)


def test_failed_save_leaves_the_old_knowledge_base(saved, tmp_path):
    d, kb = saved
    bad = make_kb()
    bad.M = bad.M[:1]  # shapes no longer agree
    with pytest.raises(KnowledgeBaseError):
        bad.save(d)
    assert KnowledgeBase.load(d).content_digest() == kb.content_digest()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
