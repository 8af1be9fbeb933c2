"""A run killed with SIGKILL at any moment resumes with no lost, partial or duplicated episode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_results_store_helpers import make_record

from mistvla.harness.results.atomic import TMP_MARK
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.results.store import ResultsStore

N_EPISODES = 24
STEPS = 20
WIDTH = 4096  # float16 hidden shard of 20 x 4096 = 160 KiB per episode

WRITER = """
import os, sys, time
sys.path.insert(0, sys.argv[4])
import numpy as np
from test_results_store_helpers import CONFIG, make_record, make_steps
from mistvla.harness.results import store as rs
from mistvla.harness.results.identity import EpisodeId

def _key(record):
    return EpisodeId.from_record(record).key

run, n, stall_task = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if stall_task >= 0:  # hang just before the episode file of this episode is moved into place
    stall_key = _key(make_record(task=stall_task % 4, init=stall_task // 4))
    real_replace = os.replace
    def stalling_replace(src, dst):
        if os.path.basename(os.path.dirname(dst)) == "episodes" and stall_key in os.path.basename(dst):
            open(os.path.join(run, "..", "stalled"), "w").close()
            time.sleep(600)
        real_replace(src, dst)
    rs.os.replace = stalling_replace
store = rs.ResultsStore.open(run, CONFIG)
done = store.completed_keys()
for i in range(n):
    rec = make_record(task=i % 4, init=i // 4, success=i % 3 != 0, episode_index=i, steps=STEPS)
    if _key(rec) in done:
        continue
    hidden = {"layer3": np.random.default_rng(i).normal(size=(STEPS, WIDTH)).astype(np.float32)}
    store.write_episode(rec, make_steps(STEPS, seed=i), hidden=hidden)
    time.sleep(0.01)
store.close()
""".replace("STEPS", str(STEPS)).replace("WIDTH", str(WIDTH))


def _key(record: dict) -> str:
    return EpisodeId.from_record(record).key


def _expected_keys() -> set[str]:
    return {_key(make_record(task=i % 4, init=i // 4)) for i in range(N_EPISODES)}


def _spawn(run: Path, script: Path, stall_task: int = -1) -> subprocess.Popen:
    tests_dir = str(Path(__file__).parent)
    args = [sys.executable, str(script), str(run), str(N_EPISODES), str(stall_task), tests_dir]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _n_committed(run: Path) -> int:
    return len(list((run / "episodes").glob("*.parquet"))) if (run / "episodes").exists() else 0


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(
                f"writer exited early ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the writer")
        time.sleep(0.005)


def _kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _check_consistent(run: Path) -> set[str]:
    """Every committed episode is whole: record readable, all its steps and its hidden shard present."""
    store = ResultsStore.read(run)
    eps = store.episodes()
    keys = eps.column("episode_key").to_pylist()
    assert len(keys) == len(set(keys)), "duplicate episodes"
    steps = store.steps()
    counts: dict[str, int] = {}
    for k in steps.column("episode_key").to_pylist():
        counts[k] = counts.get(k, 0) + 1
    assert counts == dict.fromkeys(keys, STEPS)
    for k in keys:
        assert store.hidden(k, "layer3").shape == (STEPS, WIDTH)
    return set(keys)


@pytest.mark.timeout(300)
def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    warnings.filterwarnings("ignore", message="resuming", category=UserWarning)
    run = tmp_path / "run"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    opens = 0

    # 1. Deterministic: killed after episode 5's steps and shard are written, before its record is committed.
    proc = _spawn(run, script, stall_task=5)
    opens += 1
    _wait_for(lambda: (tmp_path / "stalled").exists(), proc)
    _kill9(proc)
    stalled_key = _key(make_record(task=5 % 4, init=5 // 4))
    assert (run / "steps" / f"{stalled_key}.parquet").exists()  # orphaned steps on disk
    assert list((run / "episodes").glob(f"*{TMP_MARK}*"))  # a fully written, never committed record
    assert _check_consistent(run) == {_key(make_record(task=i % 4, init=i // 4)) for i in range(5)}

    # 2. Killed at arbitrary moments of a run (the lock of a killed writer is released by the kernel).
    rng = np.random.default_rng(0)
    for _ in range(3):
        target = min(_n_committed(run) + 3, N_EPISODES - 2)
        proc = _spawn(run, script)
        opens += 1
        _wait_for(lambda t=target: _n_committed(run) >= t, proc)
        time.sleep(float(rng.uniform(0.0, 0.03)))
        _kill9(proc)
        done = _check_consistent(run)
        assert done <= _expected_keys() and len(done) >= target

    # 3. Resume to completion.
    proc = _spawn(run, script)
    opens += 1
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert _check_consistent(run) == _expected_keys()
    store = ResultsStore.read(run)
    eps = store.episodes()
    assert eps.num_rows == N_EPISODES
    assert eps.column("episode_index").to_pylist() == list(range(N_EPISODES))
    assert eps.column("success").to_pylist() == [i % 3 != 0 for i in range(N_EPISODES)]
    assert not [p for p in run.rglob(f"*{TMP_MARK}*")], "temp files left after a clean finish"
    assert len((run / "sessions.jsonl").read_text().splitlines()) == opens
    assert len(list((run / "hidden").iterdir())) == N_EPISODES
