"""Results store: round trip, refusal on config mismatch, duplicates, atomic writes, hidden shards, queries."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from test_results_store_helpers import CONFIG, make_record, make_steps

from mistvla.harness.errors import ConfigMismatchError, DuplicateEpisodeError, RunLockedError
from mistvla.harness.report import metrics
from mistvla.harness.results import store as rs
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.results.query import query
from mistvla.harness.results.schema import EPISODE_SCHEMA, SCHEMA_VERSION, STEP_SCHEMA
from mistvla.harness.results.store import ResultsStore


def _key(record: dict) -> str:
    return EpisodeId.from_record(record).key


@pytest.fixture(autouse=True)
def _quiet_resume_warning():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="resuming", category=UserWarning)
        yield


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_round_trip_episodes_steps_and_manifest(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with ResultsStore.open(run, CONFIG) as store:
        keys = []
        for i in range(3):
            steps = make_steps(20, seed=i)
            keys.append(store.write_episode(make_record(task=i, episode_index=i, success=i != 1), steps))
        assert store.completed_keys() == frozenset(keys)
        eps = store.episodes()
        assert eps.schema.names == EPISODE_SCHEMA.names and eps.num_rows == 3
        assert eps.column("success").to_pylist() == [True, False, True]
        assert eps.column("episode_key").to_pylist() == keys
        assert json.loads(eps.column("env_kwargs")[0].as_py()) == {"camera_heights": 128, "horizon": 50}
        st = store.steps([keys[2]])
        assert st.schema.equals(STEP_SCHEMA) and st.num_rows == 20
        raw = np.asarray(st.column("raw_action").to_pylist(), dtype=np.float32)
        np.testing.assert_array_equal(raw, make_steps(20, seed=2)["raw_action"])
        assert st.column("step").to_pylist() == list(range(20))
        assert st.column("risk_per_dim").null_count == 20  # optional column left out -> null, not zeros
        assert store.steps().num_rows == 60
        assert len(eps.to_pandas()) == 3
    manifest = json.loads((run / "manifest.json").read_text())
    for field in ("config", "config_hash", "git", "packages", "seeds", "env_kwargs", "hooks", "steering"):
        assert field in manifest
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["run_id"] == "run"
    assert manifest["seeds"] == [0, 1] and manifest["env_kwargs"]["horizon"] == 50
    assert manifest["packages"]["numpy"] == np.__version__ and "dirty" in manifest["git"]
    assert (run / "videos").is_dir()


def test_reopen_same_config_resumes_and_logs_sessions(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with ResultsStore.open(run, CONFIG) as store:
        key = store.write_episode(make_record(), make_steps())
    cfg_with_tuple = {**CONFIG, "seeds": (0, 1)}  # same config after JSON normalisation
    with ResultsStore.open(run, cfg_with_tuple) as store:
        assert store.completed_keys() == {key}
    sessions = (run / "sessions.jsonl").read_text().splitlines()
    assert len(sessions) == 2 and json.loads(sessions[1])["completed_at_open"] == 1


def test_config_mismatch_refused_naming_keys(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ResultsStore.open(run, CONFIG).close()
    changed = {**CONFIG, "env_kwargs": {"horizon": 60, "camera_heights": 128}, "seeds": [0], "new_key": 1}
    with pytest.raises(ConfigMismatchError) as err:
        ResultsStore.open(run, changed)
    msg = str(err.value)
    assert "env_kwargs.horizon" in msg and "seeds" in msg and "new_key" in msg
    assert "50 -> 60" in msg and "camera_heights" not in msg
    ResultsStore.open(run, CONFIG).close()  # the lock was released by the refused open


def test_duplicate_and_invalid_episodes_refused_without_writing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with ResultsStore.open(run, CONFIG) as store:
        store.write_episode(make_record(), make_steps())
        before = _all_files(run)
        with pytest.raises(DuplicateEpisodeError):
            store.write_episode(make_record(), make_steps())
        bad = make_record(task=1)
        bad["collided"] = True  # but no collision onset
        with pytest.raises(ValueError, match="collided"):
            store.write_episode(bad, make_steps())
        with pytest.raises(ValueError, match="has 19 rows"):
            store.write_episode(make_record(task=2), make_steps(19))
        with pytest.raises(ValueError, match="episode_key"):
            store.write_episode({**make_record(task=3), "episode_key": "other"}, make_steps())
        assert _all_files(run) == before
        assert len(store.completed_keys()) == 1


def test_atomic_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.npy"

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(rs.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        rs.save_npy_atomic(target, np.ones(10, np.float16))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    rs.save_npy_atomic(target, np.ones(10, np.float16))
    target_old = target.read_bytes()

    def half_write(tmp):
        Path(tmp).write_bytes(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rs.atomic_write(target, half_write)
    assert target.read_bytes() == target_old and [p.name for p in tmp_path.iterdir()] == ["x.npy"]


def test_crash_before_commit_leaves_episode_incomplete_and_reopen_cleans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    store = ResultsStore.open(run, CONFIG)
    store.write_episode(make_record(task=0), make_steps(), hidden=np.ones((20, 8), np.float32))
    real = rs.atomic_write

    def fail_on_episode(path, write, durable=True):
        if Path(path).parent.name == "episodes":
            raise RuntimeError("simulated crash before commit")
        real(path, write, durable)

    monkeypatch.setattr(rs, "atomic_write", fail_on_episode)
    rec = make_record(task=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.write_episode(rec, make_steps(), hidden=np.ones((20, 8), np.float32))
    monkeypatch.undo()
    key = _key(rec)
    assert store.steps_path(key).exists() and store.hidden_path(key, "hidden").exists()  # orphans on disk
    assert key not in store.completed_keys() and store.steps().num_rows == 20  # but invisible
    assert query(run, "SELECT count(*) AS n FROM steps").column("n")[0].as_py() == 20
    store.close()
    store = ResultsStore.open(run, CONFIG)
    assert not store.steps_path(key).exists() and not (run / "hidden" / key).exists()
    store.write_episode(rec, make_steps(), hidden=np.ones((20, 8), np.float32))
    assert len(store.completed_keys()) == 2
    store.close()


def test_hidden_shards_float16_memory_mapped(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    layers = {"layer3": rng.normal(size=(20, 64)).astype(np.float32), "layer7": rng.normal(size=(20, 64))}
    with ResultsStore.open(tmp_path / "run", CONFIG) as store:
        key = store.write_episode(make_record(), make_steps(), hidden=layers)
        assert store.episodes().column("hidden_layers")[0].as_py() == ["layer3", "layer7"]
        arr = np.load(store.hidden_path(key, "layer3"), mmap_mode="r")
        assert isinstance(arr, np.memmap) and arr.dtype == np.float16 and arr.shape == (20, 64)
        np.testing.assert_allclose(arr, layers["layer3"], rtol=1e-3, atol=1e-3)
        assert isinstance(store.hidden(key, "layer7"), np.memmap)
        with pytest.raises(ValueError, match="float16 range"):
            store.write_episode(make_record(task=1), make_steps(), hidden=np.full((20, 4), 1e6))
        with pytest.raises(ValueError, match="layer name"):
            store.write_episode(make_record(task=1), make_steps(), hidden={"../evil": np.ones((2, 2))})
        with pytest.raises(TypeError, match="floating"):
            store.write_episode(make_record(task=1), make_steps(), hidden=np.ones((2, 2), np.int64))
        assert len(store.completed_keys()) == 1


def test_second_writer_refused_and_read_only_store(tmp_path: Path) -> None:
    run = tmp_path / "run"
    store = ResultsStore.open(run, CONFIG)
    with pytest.raises(RunLockedError):
        ResultsStore.open(run, CONFIG)
    store.write_episode(make_record(), make_steps())
    reader = ResultsStore.read(run)
    assert reader.episodes().num_rows == 1
    with pytest.raises(RuntimeError, match="read-only"):
        reader.write_episode(make_record(task=5), make_steps())
    store.close()


def test_query_across_runs_matches_metrics(tmp_path: Path) -> None:
    outcomes = {"a": [True, False, True, True], "b": [False, False, True, False]}
    stored = {}
    for name, succ in outcomes.items():
        cfg = {**CONFIG, "intervention": name}
        with ResultsStore.open(tmp_path / name, cfg) as store:
            for t, s in enumerate(succ):
                store.write_episode(
                    make_record(task=t, success=s, episode_index=t, steps=10), make_steps(10), None
                )
            stored[name] = store.episodes()
    sql = (
        "SELECT run_id, avg(success::INT) AS sr, count(*) AS n FROM episodes GROUP BY run_id ORDER BY run_id"
    )
    table = query([tmp_path / "a", tmp_path / "b"], sql)
    assert table.to_pylist() == [
        {"run_id": "a", "sr": metrics.success_rate(stored["a"]).value, "n": 4},
        {"run_id": "b", "sr": metrics.success_rate(stored["b"]).value, "n": 4},
    ]
    steps = query([tmp_path / "a", tmp_path / "b"], "SELECT count(*) AS n, max(step) AS last FROM steps")
    assert steps.to_pylist() == [{"n": 80, "last": 9}]
    runs = query([tmp_path / "a"], "SELECT run_id, config_hash FROM runs").to_pylist()
    assert runs[0]["run_id"] == "a" and len(runs[0]["config_hash"]) == 64


def test_query_on_run_without_episodes(tmp_path: Path) -> None:
    ResultsStore.open(tmp_path / "empty", CONFIG).close()
    out = query(tmp_path / "empty", "SELECT count(*) AS n FROM episodes")
    assert out.to_pylist() == [{"n": 0}]
    assert isinstance(query(tmp_path / "empty", "SELECT * FROM steps"), pa.Table)


def test_write_without_steps(tmp_path: Path) -> None:
    with ResultsStore.open(tmp_path / "run", CONFIG) as store:
        key = store.write_episode(make_record(), None)
        assert store.steps().num_rows == 0 and not store.steps_path(key).exists()
        assert os.path.exists(store.episode_path(key))


def test_documented_queries_run(tmp_path: Path) -> None:
    """The two example queries of docs/results_format.md."""
    with ResultsStore.open(tmp_path / "run", CONFIG) as store:
        store.write_episode(
            make_record(task=0, collisions=1, success=False), make_steps()
        )  # first collision at 3
        store.write_episode(make_record(task=1), make_steps())
    by_method = query(
        [tmp_path / "run"],
        """SELECT e.intervention, e.suite, avg(e.success::INT) AS sr,
                  avg((e.n_collision_onsets > 0)::INT) AS cr, count(*) AS n
           FROM episodes e GROUP BY ALL ORDER BY ALL""",
    ).to_pylist()
    assert by_method == [{"intervention": "none", "suite": "libero_spatial", "sr": 0.5, "cr": 0.5, "n": 2}]
    risk = query(
        [tmp_path / "run"],
        """SELECT e.intervention, avg(s.risk_score) AS risk_before_collision, count(*) AS n
           FROM steps s JOIN episodes e USING (episode_key)
           WHERE e.first_collision_step IS NOT NULL
             AND s.step BETWEEN e.first_collision_step - 10 AND e.first_collision_step - 1
           GROUP BY ALL""",
    ).to_pylist()
    expected = make_steps()["risk_score"][:3].astype(np.float64).mean()
    assert risk[0]["n"] == 3 and risk[0]["risk_before_collision"] == pytest.approx(expected, rel=1e-6)
