"""A small table is clustered on one thread; a big one keeps OpenMP's threads (threads.py)."""
from __future__ import annotations

from threadpoolctl import threadpool_info

from metaclust_automl.threads import SMALL_TABLE, table_threads


def test_small_table_limits_every_pool_to_one_thread_and_restores_them():
    before = {(p["user_api"], p["filepath"]): p["num_threads"] for p in threadpool_info()}
    with table_threads(1_000, 10):
        pools = threadpool_info()
        apis = {p["user_api"] for p in pools}
        assert "openmp" in apis and "blas" in apis  # loaded first, so the limit reaches them
        assert all(p["num_threads"] == 1 for p in pools)
    after = {(p["user_api"], p["filepath"]): p["num_threads"] for p in threadpool_info()}
    assert all(after[key] == n for key, n in before.items() if key in after)


def test_big_table_limits_only_blas():
    rows = SMALL_TABLE // 10 + 1
    openmp_before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]
    with table_threads(rows, 10):
        pools = threadpool_info()
        assert all(p["num_threads"] == 1 for p in pools if p["user_api"] == "blas")
        openmp = [p["num_threads"] for p in pools if p["user_api"] == "openmp"]
        assert openmp == openmp_before[: len(openmp)] or not openmp_before


def test_a_command_works_on_one_thread_and_gives_the_threads_back(tmp_path, capsys):
    """load_for_cli limits the rest of the command to the table's threads; cli.main lifts the
    limits when the command ends (an in-process caller keeps its own threads)."""
    import numpy as np

    from metaclust_automl.cli import main
    from metaclust_automl.cli.app import load_for_cli, release_table_threads

    path = tmp_path / "t.csv"
    rng = np.random.default_rng(0)
    np.savetxt(path, rng.normal(size=(60, 2)), delimiter=",", header="a,b", comments="")
    before = {(p["user_api"], p["filepath"]): p["num_threads"] for p in threadpool_info()}
    load_for_cli(str(path), None, None, "none", None)
    assert all(p["num_threads"] == 1 for p in threadpool_info())
    release_table_threads()
    assert main(["metafeatures", str(path), "--json"]) == 0
    capsys.readouterr()
    after = {(p["user_api"], p["filepath"]): p["num_threads"] for p in threadpool_info()}
    assert all(after[key] == n for key, n in before.items() if key in after)
