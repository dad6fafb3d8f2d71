"""Many machines: two ``metaclust meta-train`` workers sharing a real PostgreSQL server build
the same knowledge base as one worker on SQLite.

The test starts a throw-away PostgreSQL server (Debian's package) on 127.0.0.1 with its
data and socket in a temporary directory, runs the two workers against it at the same
time, and compares the knowledge bases' content digests (run times and provenance
excluded; same trials counted once).

On a fresh Debian/Ubuntu machine: ``apt-get install -y postgresql`` (the server binaries
land in /usr/lib/postgresql/VERSION/bin; no service needs to run). The server refuses
to run as root, so as root the test runs it as the ``postgres`` user (created by the
package) through ``runuser``. It is skipped only when no PostgreSQL server binaries exist.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_moons

from metaclust_automl.knowledge_base import KnowledgeBase

REPO = Path(__file__).resolve().parents[1]


def _pg_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.append(found)
    for c in candidates:
        if Path(c).with_name("pg_ctl").exists():
            return Path(c).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]


@pytest.fixture(scope="module")
def postgres_url():
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) found; apt-get install -y postgresql")
    import psycopg2  # a test dependency (psycopg2-binary)

    root = Path(tempfile.mkdtemp(prefix="metaclust-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        import pwd

        pw = pwd.getpwnam("postgres")
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    log = root / "server.log"
    try:
        subprocess.run(_as_server_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                        "--no-sync"]), check=True, capture_output=True, timeout=120)
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                                        "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
                                        "start"]), check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace") + (log.read_text() if log.exists() else "")
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {detail[-2000:]}")
    try:
        con = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        con.autocommit = True
        con.cursor().execute("CREATE DATABASE metatrain")
        con.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/metatrain"
    finally:
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _corpus(root: Path) -> Path:
    corpus = root / "corpus"
    corpus.mkdir()
    for i in range(3):
        X, y = make_blobs(n_samples=100, centers=2 + i, n_features=2, random_state=i)
        np.savez(corpus / f"blobs{i}.npz", X=X, y=y)
    X, y = make_moons(100, noise=0.05, random_state=0)
    np.savez(corpus / "moons.npz", X=X, y=y)
    return corpus


def _meta_train(corpus: Path, out: Path, storage: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "metaclust_automl", "meta-train", str(corpus), "--out", str(out),
           "--storage", storage, "--sampler", "qmc", "--trials", "3", "--backends", "kmeans,dbscan",
           "--portfolio-size", "4", "--time-limit", "60", "--no-progress", "--selectors", "none"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_workers_on_postgres_equal_one_worker_on_sqlite(tmp_path, postgres_url):
    corpus = _corpus(tmp_path)
    workers = [_meta_train(corpus, tmp_path / f"kb-pg-{i}", postgres_url) for i in range(2)]
    single = _meta_train(corpus, tmp_path / "kb-sqlite", f"sqlite:///{tmp_path / 'single.db'}")
    for p in [*workers, single]:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    pg = [KnowledgeBase.load(tmp_path / f"kb-pg-{i}") for i in range(2)]
    one = KnowledgeBase.load(tmp_path / "kb-sqlite")
    assert pg[0].content_digest() == one.content_digest() == pg[1].content_digest()
    # the two workers shared the work: every trial was run once, by one or the other
    runs = [kb.info["build"]["counts"]["search"] for kb in pg]
    assert sum(r["run"] for r in runs) == 4 * 2 * 3
    assert all(r["total"] == 4 * 2 * 3 for r in runs)
    import optuna

    from metaclust_automl.training.kb.storage import open_storage

    storage = open_storage(postgres_url)
    from metaclust_automl.training.kb.slots import finished_by_slot

    for s in storage.get_all_studies():
        if "/search/" in s.study_name:
            assert len(finished_by_slot(storage.get_all_trials(s._study_id), 3)) == 3
    assert "postgresql://postgres@127.0.0.1" in pg[0].info["build"]["storage"]
