"""``metaclust detect`` and ``MetaAnomalyDetector`` with the shipped policy."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from metaclust_automl.anomaly import MetaAnomalyDetector
from metaclust_automl.errors import ConfigError, DataError


@pytest.fixture
def table(tmp_path):
    """A CSV with a header, a constant column, duplicate rows and 3 planted outliers (rows 5, 50, 120)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    X[100:110] = X[0]  # duplicates
    for i in (4, 49, 119):
        X[i] = [9.0, -9.0, 9.0]
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["const"] = 1.5
    df["name"] = [f"r{i}" for i in range(150)]
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path


def test_detect_writes_score_and_flag_per_row_in_input_order(cli, table, tmp_path) -> None:
    out = tmp_path / "scores.csv"
    code, stdout, stderr = cli("detect", table, "-o", out, "--drop", "name", "--top", "3")
    assert code == 0, stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "score,is_anomaly" and len(lines) == 151
    res = pd.read_csv(out)
    assert res["score"].between(0, 1).all() and set(res["is_anomaly"]) <= {0, 1}
    top3 = set(res["score"].nlargest(3).index)
    assert top3 == {4, 49, 119}
    assert res.loc[[4, 49, 119], "is_anomaly"].eq(1).all()
    # the printed table names rows from 1 and shows the three outliers
    for row in ("5", "50", "120"):
        assert row in stdout
    assert "constant" in stderr  # the loader's warning about the dropped column


def test_detect_json_and_fixed_contamination(cli, table) -> None:
    code, stdout, _ = cli("detect", table, "--drop", "name", "--contamination", "0.1", "--json", "--top", "2")
    assert code == 0
    payload = json.loads(stdout)
    assert payload["n_rows"] == 150 and payload["n_anomalies"] == 15 and payload["contamination"] == 0.1
    assert [r["row"] for r in payload["top"]][:2] and {r["row"] for r in payload["top"]} <= {5, 50, 120}
    assert len(payload["top"]) == 2 and all(r["is_anomaly"] == 1 for r in payload["top"])


def test_detect_auto_flags_the_expected_share(cli, table) -> None:
    code, stdout, _ = cli("detect", table, "--drop", "name", "--json")
    assert code == 0
    payload = json.loads(stdout)
    share = payload["estimated_contamination"]
    assert payload["contamination"] == "auto" and 0.001 <= share <= 0.5
    assert payload["n_anomalies"] >= int(np.ceil(share * 150))
    assert {r["row"] for r in payload["top"][:3]} == {5, 50, 120}


def test_detect_to_stdout(cli, table) -> None:
    code, stdout, _ = cli("detect", table, "--drop", "name", "-o", "-")
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0] == "score,is_anomaly" and len(lines) == 151
    assert all(0.0 <= float(line.split(",")[0]) <= 1.0 for line in lines[1:])


def test_detect_with_a_base_detector(cli, table, tmp_path) -> None:
    out = tmp_path / "if.csv"
    code, _, stderr = cli("detect", table, "--drop", "name", "--detector", "iforest", "--contamination", "0.02",
                          "-o", out)
    assert code == 0, stderr
    res = pd.read_csv(out)
    assert set(np.flatnonzero(res["is_anomaly"])) == {4, 49, 119}


@pytest.mark.parametrize("value", ["abc", "0", "0.7", "-0.1", "nan", "inf", ""])
def test_bad_contamination_is_one_clear_line_and_writes_nothing(cli, table, tmp_path, value) -> None:
    out = tmp_path / "scores.csv"
    code, stdout, stderr = cli("detect", table, "--drop", "name", "--contamination", value, "-o", out)
    assert code == 2 and "contamination" in stderr and len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in stderr and not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--top", "-1"], "--top"),
    (["--detector", "nope"], "unknown detector"),
    (["--detector", "lof"], "fraction"),
])
def test_bad_options_are_rejected(cli, table, tmp_path, args, message) -> None:
    out = tmp_path / "scores.csv"
    code, _, stderr = cli("detect", table, "--drop", "name", "-o", out, *args)
    assert code != 0 and message in stderr and not out.exists()


def test_bad_inputs_fail_cleanly(cli, table, tmp_path) -> None:
    out = tmp_path / "scores.csv"
    code, _, stderr = cli("detect", tmp_path / "missing.csv", "-o", out)
    assert code == 2 and "not found" in stderr and not out.exists()
    code, _, stderr = cli("detect", table, "-o", out)  # the text column was not dropped
    assert code == 2 and "non-numeric" in stderr and not out.exists()
    code, _, stderr = cli("detect", table, "--drop", "name", "-o", tmp_path / "no" / "such" / "dir.csv")
    assert code == 2 and "does not exist" in stderr
    const = tmp_path / "const.csv"
    const.write_text("a,b\n1,2\n1,2\n1,2\n1,2\n")
    code, _, stderr = cli("detect", const, "-o", out)
    assert code == 2 and "constant" in stderr and not out.exists()


def test_detector_is_a_cloneable_estimator_with_sklearn_conventions() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 4))
    X[:3] += 10.0
    det = MetaAnomalyDetector(contamination=0.05, random_state=3)
    assert det.get_params()["contamination"] == 0.05
    twin = clone(det).set_params(random_state=3)
    labels = det.fit_predict(X)
    assert labels.shape == (120,) and set(np.unique(labels)) <= {0, 1} and labels.sum() == 6
    assert labels[:3].tolist() == [1, 1, 1]
    np.testing.assert_array_equal(twin.fit(X).decision_scores_, det.decision_scores_)
    new = det.decision_function(X[:10] + 0.01)
    assert new.shape == (10,) and new[:3].min() > new[3:].max()
    np.testing.assert_array_equal(det.score_samples(X[:10]), -det.decision_function(X[:10]))
    assert det.predict(X[:10])[:3].tolist() == [1, 1, 1]


def test_detector_rejects_bad_use() -> None:
    from sklearn.exceptions import NotFittedError

    X = np.random.default_rng(2).normal(size=(50, 3))
    with pytest.raises(NotFittedError):
        MetaAnomalyDetector().decision_function(X)
    with pytest.raises(ConfigError):
        MetaAnomalyDetector(contamination=0.9).fit(X)
    det = MetaAnomalyDetector().fit(X)
    with pytest.raises(DataError, match="columns"):
        det.decision_function(X[:, :2])
    with pytest.raises(DataError, match="NaN"):
        MetaAnomalyDetector().fit(np.where(X > 2, np.nan, X))


def test_registry_lists_the_meta_detector_and_the_base_detectors() -> None:
    from metaclust_automl.anomaly.detectors import DETECTOR_NAMES
    from metaclust_automl.plugins import get_registry

    reg = get_registry()
    assert isinstance(reg.detector("meta_rl")(), MetaAnomalyDetector)
    assert set(DETECTOR_NAMES) <= set(reg.detectors)
    assert reg.detector("knn")().get_params()["detector"] == "knn"


def test_detect_handles_a_very_wide_table(cli, tmp_path) -> None:
    # Issue 14: 5 x 10,000 never finished (an eigh on a 10k x 10k covariance). Now every
    # width-dependent step is bounded (see test_a_very_wide_table_is_scored_without_any_
    # width_squared_step); here the whole command answers, one score per row.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 10_000))
    X[2] += 4.0
    path = tmp_path / "wide.csv"
    pd.DataFrame(X, columns=[f"c{j}" for j in range(10_000)]).to_csv(path, index=False)
    out = tmp_path / "scores.csv"
    code, _, stderr = cli("detect", path, "-o", out, "--contamination", "0.2", "--top", "0")
    assert code == 0, stderr
    res = pd.read_csv(out)
    assert len(res) == 5 and res["score"].between(0, 1).all()
    assert int(res["score"].idxmax()) == 2 and res["is_anomaly"].sum() == 1
