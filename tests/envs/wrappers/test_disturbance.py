"""Mid-episode disturbances on real LIBERO: each fires exactly once, when its trigger says, and is recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.envs.wrappers.base import perturbation_options, wrap
from mistvla.harness.errors import ConfigError

HOLD = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0])


@pytest.fixture(scope="module")
def env():
    e = LiberoEnv("libero_spatial", 0, cameras=(), privileged=True, warmup_steps=2, max_steps=200)
    yield e
    e.close()


def _drive(w, n, action=HOLD):
    obs, _ = w.reset(seed=0, options={"init_state": 0})
    events, trace = [], []
    for t in range(n):
        event = w.disturb(t, obs)
        if event is not None:
            events.append((t, event))
        obs, *_ = w.step(action)
        trace.append(obs)
    return events, trace


def test_object_move_fires_once_at_the_seeded_step_and_moves_the_object(env):
    w = wrap(env, "object_move", 3, seed=0, params={"step": 5})
    name = env.target_objects[0]
    events, trace = _drive(w, 12)
    assert [t for t, _ in events] == [5]
    event = events[0][1]
    assert event["kind"] == "object_move" and event["moved"] and json.dumps(event)
    jump = np.linalg.norm(np.subtract(trace[5]["privileged"][name][:2], trace[4]["privileged"][name][:2]))
    assert abs(jump - 0.06) < 0.01, jump  # level 3: 6 cm
    drawn = wrap(env, "object_move", 3, seed=0)  # no step given: drawn from the seed, the same every time
    assert _drive(drawn, 60)[0][0][0] == _drive(drawn, 60)[0][0][0]
    w.restore()


def test_push_applies_the_force_for_k_substeps_only(env):
    quiet, _ = _drive(wrap(env, "push", 0), 8)
    assert quiet == []
    base = [o["proprio"]["eef_pos"] for o in _drive(wrap(env, "push", 0), 8)[1]]
    w = wrap(env, "push", 5, seed=2, params={"step": 3, "substeps": 40})
    events, trace = _drive(w, 8)
    assert [t for t, _ in events] == [3] and events[0][1]["substeps"] == 40
    moved = max(np.linalg.norm(o["proprio"]["eef_pos"] - b) for o, b in zip(trace, base, strict=True))
    assert moved > 0.005, moved  # 100 N for 80 ms pushed the hand
    assert not env.sim.data._data.xfrc_applied.any()  # and stopped after 40 substeps
    assert "_pre_action" not in vars(env.unwrapped_libero.env)


def test_disturbances_in_the_episode_loop_are_recorded_once(env):
    from mistvla.harness.interventions.base import InterventionConfig, make_intervention
    from mistvla.harness.results.identity import EpisodeId
    from mistvla.harness.risk.constant import ConstantConfig, ConstantRisk
    from mistvla.harness.run.episode import run_episode
    from mistvla.harness.run.plan import EpisodeSpec
    from mistvla.policies.scripted.expert import ScriptedExpert

    spec = EpisodeSpec(EpisodeId("scripted", "none", "libero_spatial", 0, init_state=0, seed=0))
    none = make_intervention(InterventionConfig.make("none"), None)
    records = {}
    for name, params in (("object_move", {"trigger": "proximity", "radius_m": 0.1}), ("grasp_slip", {})):
        w = wrap(env, name, 3, seed=0, params=params)
        res = run_episode(w, ScriptedExpert(), none, ConstantRisk(ConstantConfig(0.0)), spec)
        w.restore()
        records[name] = res.record
        event = json.loads(res.record["disturbance"])
        assert event["kind"] == name and event["step"] == res.record["disturbance_step"]
        assert 0 < res.record["disturbance_step"] < res.record["steps"]
    # the object moved as the hand came within 10 cm: before the grasp; the slip came after the lift
    assert records["object_move"]["disturbance_step"] < records["grasp_slip"]["disturbance_step"]


def test_bad_disturbance_parameters_name_the_field(env):
    with pytest.raises(ConfigError, match=r"^object_move\.step: 500 is beyond the episode's max_steps 200"):
        wrap(env, "object_move", 2, params={"step": 500})
    with pytest.raises(ConfigError, match=r"^sweep\.params: step must be >= 0"):
        perturbation_options("push", {"step": -3}, "sweep.params")
    with pytest.raises(ConfigError, match=r"^sweep\.params: radius_m must be > 0"):
        perturbation_options("object_move", {"radius_m": -0.05}, "sweep.params")
