"""The collision ledger's contact-set plan cache changes no record: the hook from before it runs beside it.

``legacy_ledger.LegacyLedger`` is the ledger with its per-substep hook as it was before the cache. (1) Both
watch the same substeps of scripted contact-rich motion (table press, a full-speed swipe into a light object,
a grasp), default and raw (no hysteresis) configs: every step record and the episode summaries are equal,
and both the cache's reuse and its rebuild ran. (2) A whole run with the legacy ledger swapped into the env
writes the same episode and step tables as the current one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from legacy_ledger import LegacyLedger

from mistvla.harness.config.run import parse_config
from mistvla.harness.envs.collisions.config import CollisionConfig
from mistvla.harness.envs.collisions.ledger import CollisionLedger
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.plan import plan_episodes
from mistvla.harness.run.run_identity import identity
from mistvla.harness.run.worker import Worker

GRIP_OPEN, GRIP_CLOSE = -1.0, 1.0
VOLATILE = {"wall_time_s", "started_utc", "run_id"}


def _actions() -> list[np.ndarray]:
    """Down onto the table and press; sideways at full speed; up; down with the gripper closing."""
    acts = [np.r_[0, 0, -1.0, 0, 0, 0, GRIP_OPEN]] * 30 + [np.r_[0, 0, -0.3, 0, 0, 0, GRIP_OPEN]] * 10
    acts += [np.r_[0, 1.0, 0, 0, 0, 0, GRIP_OPEN]] * 15 + [np.r_[0, -1.0, -0.2, 0, 0, 0, GRIP_OPEN]] * 15
    acts += [np.r_[0.5, 0, 0.6, 0, 0, 0, GRIP_OPEN]] * 10 + [np.r_[0, 0, -0.8, 0, 0, 0, GRIP_CLOSE]] * 20
    return acts


def test_same_substeps_same_records(libero: Any) -> None:
    pairs = [(CollisionLedger(), LegacyLedger())]
    raw = CollisionConfig(release_ratio=1.0, rearm_substeps=0)
    pairs.append((CollisionLedger(raw), LegacyLedger(raw)))
    ledgers = [ledger for pair in pairs for ledger in pair]
    calls = {"plan": 0}
    plan = CollisionLedger._plan

    def counted(self: CollisionLedger, geom: np.ndarray) -> Any:
        calls["plan"] += 1
        return plan(self, geom)

    CollisionLedger._plan = counted
    try:
        libero.seed(0)
        libero.reset()
        libero.set_init_state(libero.init_states[0])
        rs = libero.env
        for ledger in ledgers:
            ledger.attach(rs)
            ledger.reset()
        n_contacts = n_events = 0
        for a in _actions():
            for ledger in ledgers:
                ledger.begin_step()
            rs.step(a)
            records = [ledger.end_step() for ledger in ledgers]
            for new, old in zip(records[::2], records[1::2], strict=True):
                assert new == old
            n_contacts += len(records[0]["contacts"])
            n_events += records[2]["n_onsets"]
        for new, old in pairs:
            assert new.episode_summary() == old.episode_summary()
    finally:
        CollisionLedger._plan = plan
        for ledger in reversed(ledgers):  # the last attached wraps the others
            ledger.detach()
    substeps = 25 * len(_actions()) * 2  # two current ledgers
    assert n_contacts > 50 and n_events > 0  # the motion touched things and collided
    assert 0 < calls["plan"] < substeps  # the plan was rebuilt on new contact sets and reused otherwise


def _tables(store_dir: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    store = ResultsStore.read(store_dir)
    episodes = [{k: v for k, v in r.items() if k not in VOLATILE} for r in store.episodes().to_pylist()]
    steps = [{k: v for k, v in r.items() if k not in VOLATILE} for r in store.steps().to_pylist()]
    return sorted(episodes, key=lambda r: r["episode_key"]), steps


def test_a_run_writes_the_same_tables_with_the_legacy_ledger(tmp_path: Any, monkeypatch: Any) -> None:
    import mistvla.harness.envs.libero as libero_env

    cfg = parse_config({
        "name": "ledger", "output_dir": str(tmp_path / "{name}"),
        "policy": {"name": "scripted", "params": {"perturbation": {
            "action_noise": 0.3, "overshoot": 0.05, "overshoot_prob": 1.0, "seed": 0}}},
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0]},
        "env": {"max_steps": 90},
        "risk": {"source": "oracle"},
        "interventions": [{"name": "none"}],
    })  # fmt: skip
    specs = plan_episodes(cfg)
    for name, cls in (("current", CollisionLedger), ("legacy", LegacyLedger)):
        monkeypatch.setattr(libero_env, "CollisionLedger", cls)
        worker = Worker(cfg)
        try:
            results = [worker.run_one(s, {"none": None}) for s in specs]
        finally:
            worker.close()
        with ResultsStore.open(tmp_path / name, identity(cfg)) as store:
            for r in results:
                store.write_episode(r.record, r.steps, r.hidden or None)
    current, legacy = _tables(tmp_path / "current"), _tables(tmp_path / "legacy")
    assert current == legacy
    assert any(s["collision_force"] for s in current[1])  # the episode had robot contacts to record
