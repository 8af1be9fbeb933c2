"""The collision ledger on the real LIBERO simulator (libero_spatial task 0, rendering off).

The robot is scripted with OSC_POSE delta actions toward positions read from
the simulator (privileged state). Expected outcomes are checked against
independent reference computations: a naive loop over every MuJoCo contact,
with robot bodies picked by name prefix rather than by the ledger's ownership
classes.
"""

from __future__ import annotations

import json
from typing import Any

import mujoco
import numpy as np
import pytest

from mistvla.harness.envs.collisions.ledger import KIND_NAMES, CollisionConfig, CollisionLedger

ROBOT_PREFIXES = ("robot0_", "gripper0_", "mount0_")
CLEAR_SPOT = np.array([-0.15, 0.05, 1.05])  # above a patch of table with nothing on it
GRIP = -1.0  # open


# -- fixtures and helpers ------------------------------------------------------------------------
def fresh(env: Any, *ledgers: CollisionLedger) -> Any:
    """Hard-reset to init state 0, (re)attach the ledgers, let objects settle; returns the robosuite env."""
    env.seed(0)
    env.reset()
    env.set_init_state(env.init_states[0])
    rs = env.env
    for ledger in ledgers:
        ledger.attach(rs)
        ledger.reset()
    for _ in range(5):
        step(rs, np.r_[np.zeros(6), GRIP], *ledgers)
    return rs


def step(rs: Any, action: np.ndarray, *ledgers: CollisionLedger) -> list[dict[str, Any]]:
    for ledger in ledgers:
        ledger.begin_step()
    rs.step(action)
    return [ledger.end_step() for ledger in ledgers]


def eef(rs: Any) -> np.ndarray:
    return rs.sim.data.get_site_xpos("gripper0_grip_site").copy()


def body_pos(rs: Any, name: str) -> np.ndarray:
    return rs.sim.data.get_body_xpos(rs.objects_dict[name].root_body).copy()


def move_to(
    rs: Any, target: np.ndarray, *ledgers: CollisionLedger, gain: float = 2.0, grip: float = GRIP
) -> None:
    """Proportional OSC_POSE moves until the grip site is within 1 cm of ``target``."""
    for _ in range(120):
        err = target - eef(rs)
        if np.linalg.norm(err) < 0.01:
            return
        step(rs, np.r_[np.clip(err / 0.05 * gain, -1, 1), 0, 0, 0, grip], *ledgers)
    raise AssertionError(f"did not reach {target}, at {eef(rs)}")


def is_robot_body(model: mujoco.MjModel, body: int) -> bool:
    return mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, body).startswith(ROBOT_PREFIXES)


def reference_forces(rs: Any, other_bodies: set[str]) -> dict[tuple[str, str], float]:
    """Naive: summed normal force per (robot body, other body) over the sim's current contacts."""
    model, data = rs.sim.model._model, rs.sim.data._data
    out: dict[tuple[str, str], float] = {}
    f6 = np.zeros(6)
    for i in range(data.ncon):
        c = data.contact[i]
        b1, b2 = model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]
        if not is_robot_body(model, b1):
            b1, b2 = b2, b1
        n1 = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b1)
        n2 = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b2)
        if is_robot_body(model, b1) and n2 in other_bodies:
            mujoco.mj_contactForce(model, data, i, f6)
            out[(n1, n2)] = out.get((n1, n2), 0.0) + float(f6[0])
    return out


class SubstepReference:
    """Wraps sim.step on top of the ledger and keeps the reference forces of every substep."""

    def __init__(self, rs: Any, other_bodies: set[str]) -> None:
        self.rs, self.per_substep, self._inner = rs, [], rs.sim.step
        self.other_bodies = other_bodies

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            out = self._inner(*args, **kwargs)
            self.per_substep.append(reference_forces(rs, other_bodies))
            return out

        rs.sim.step = wrapped

    def remove(self) -> None:
        self.rs.sim.step = self._inner


# -- configuration (no simulator) ----------------------------------------------------------------
def test_config_defaults_and_validation() -> None:
    cfg = CollisionConfig()
    assert ("gripper", "target") not in cfg.collision_pairs
    assert ("arm", "target") in cfg.collision_pairs and ("gripper", "table") in cfg.collision_pairs
    assert json.loads(json.dumps(cfg.to_dict()))["static_threshold_n"] == 50.0
    assert set(KIND_NAMES) == {"contact", "collision", "manipulation", "self"}
    for bad in (
        {"static_threshold_n": 0},
        {"release_ratio": 0},
        {"rearm_substeps": -1},
        {"collision_pairs": (("table", "arm"),)},
    ):
        with pytest.raises(ValueError):
            CollisionConfig(**bad)


# -- simulator tests -----------------------------------------------------------------------------
def test_free_space_motion_records_no_robot_contacts(libero: Any) -> None:
    ledger = CollisionLedger()
    rs = fresh(libero, ledger)
    move_to(rs, CLEAR_SPOT, ledger)
    before = ledger.episode_summary()["n_steps"]
    records = []
    for t in range(30):  # small loops in the air
        records += step(
            rs, np.r_[0.3 * np.sin(t / 4), 0.3 * np.cos(t / 4), 0.2 * np.sin(t / 3), 0, 0, 0, GRIP], ledger
        )
    assert all(r["n_substeps"] == 25 for r in records)
    assert all(r["n_contacts_max"] > 20 for r in records)  # objects resting on the table are seen
    assert all(r["contacts"] == [] and not r["collision"] for r in records)
    summary = ledger.episode_summary()
    assert summary["n_steps"] == before + 30
    assert (
        summary["collided"] is False and summary["n_onsets"] == 0 and summary["max_collision_force_n"] == 0.0
    )
    ledger.detach()


def test_driving_into_table_is_a_collision_at_the_contact_step(libero: Any) -> None:
    ledger = CollisionLedger()
    rs = fresh(libero, ledger)
    move_to(rs, CLEAR_SPOT, ledger)
    assert ledger.episode_summary()["n_onsets"] == 0
    start = ledger.episode_summary()["n_steps"]
    ref = SubstepReference(rs, {"table"})
    records = []
    for _ in range(12):
        ref.per_substep.clear()
        records += step(rs, np.array([0, 0, -1.0, 0, 0, 0, GRIP]), ledger)
        records[-1]["reference"] = [max(s.values(), default=0.0) for s in ref.per_substep]
    ref.remove()
    # The reference: first step in which some robot body pushes on the table with >= 50 N.
    ref_steps = [r["step"] for r in records if max(r["reference"]) >= 50.0]
    summary = ledger.episode_summary()
    assert summary["collided"] and summary["bodies_hit"] == ["table"]
    assert summary["first_collision_step"] == ref_steps[0] > start
    onset = next(r for r in records if r["events"])
    assert onset["step"] == ref_steps[0]
    for r in records[: records.index(onset)]:
        assert not r["collision"] and max(r["reference"]) < 50.0
    ev = onset["events"][0]
    assert (ev["robot_class"], ev["other_class"], ev["other_owner"]) == ("gripper", "table", "table")
    assert ev["force_n"] >= ev["threshold_n"] == 50.0
    table_top = float(rs.model.mujoco_arena.table_top_abs[2])
    assert abs(ev["position"][2] - table_top) < 0.005
    assert ev["normal"][2] < -0.99  # from the gripper down into the table
    # Peak forces agree with the reference to numerical precision.
    for r in records:
        got = max((c["max_force_n"] for c in r["contacts"] if c["other_body"] == "table"), default=0.0)
        assert got == pytest.approx(max(r["reference"]), rel=1e-9, abs=1e-9)
    assert summary["max_collision_force_n"] > 100.0  # a full-speed hit, not a touch
    json.dumps({"records": records, "summary": summary}, allow_nan=False)
    ledger.detach()


def test_default_threshold_separates_a_slow_touch_from_an_impact(libero: Any) -> None:
    """The measurements behind ``static_threshold_n``: slow touch and resting stay below it."""
    ledger = CollisionLedger()
    rs = fresh(libero, ledger)
    move_to(rs, CLEAR_SPOT, ledger)
    move_to(rs, np.r_[CLEAR_SPOT[:2], 0.95], ledger, gain=1.0)
    touch = []
    for _ in range(120):  # about 1.3 cm/s
        touch += step(rs, np.array([0, 0, -0.05, 0, 0, 0, GRIP]), ledger)
    rest = [step(rs, np.r_[np.zeros(6), GRIP], ledger)[0] for _ in range(10)]
    touched = [r["max_collision_force_n"] for r in touch if r["contacts"]]
    assert touched, "the slow descent never reached the table"
    assert 1.0 < max(touched) < 0.6 * CollisionConfig().static_threshold_n
    assert max(r["max_collision_force_n"] for r in rest) < 0.6 * CollisionConfig().static_threshold_n
    assert ledger.episode_summary()["n_onsets"] == 0


def test_gripper_grasping_target_is_manipulation_not_collision(libero: Any) -> None:
    ledger = CollisionLedger()
    as_distractor = CollisionLedger(CollisionConfig(targets=()))  # same contacts, bowl not a target
    rs = fresh(libero, ledger, as_distractor)
    assert "akita_black_bowl_1" in rs.obj_of_interest
    bowl0 = body_pos(rs, "akita_black_bowl_1")
    rim = bowl0 + np.array([0.0, -0.05, 0.0])  # the bowl wall nearest the robot, fingers across it
    move_to(rs, np.r_[rim[:2], 1.05], ledger, as_distractor)
    move_to(rs, np.r_[rim[:2], 0.925], ledger, as_distractor, gain=1.0)
    records = []
    for _ in range(15):
        records += step(rs, np.array([0, 0, 0, 0, 0, 0, 1.0]), ledger, as_distractor)[:1]
    for _ in range(20):
        records += step(rs, np.array([0, 0, 0.5, 0, 0, 0, 1.0]), ledger, as_distractor)[:1]
    assert body_pos(rs, "akita_black_bowl_1")[2] - bowl0[2] > 0.05  # the grasp really lifted it
    touching = [c for r in records for c in r["contacts"] if c["other_owner"] == "akita_black_bowl_1"]
    assert touching and {c["kind"] for c in touching} == {"manipulation"}
    assert {c["robot_class"] for c in touching} == {"gripper"}
    assert max(c["max_force_n"] for c in touching) > CollisionConfig().movable_threshold_n
    summary = ledger.episode_summary()
    assert summary["collided"] is False and summary["n_onsets"] == 0
    other = as_distractor.episode_summary()
    assert other["collided"] and other["bodies_hit"] == ["akita_black_bowl_1"]
    assert other["onsets_by_class"] == {"object": other["n_onsets"]}
    as_distractor.detach()
    ledger.detach()


@pytest.fixture(scope="module")
def swipe(libero: Any) -> dict[str, Any]:
    """Sweep the open gripper sideways at full speed into the (distractor) ramekin.

    The 10 g ramekin is kicked away and comes back to the fingers several times a step.
    Three ledgers watch the same substeps: default, and without hysteresis/re-arming.
    """
    ledger = CollisionLedger()
    raw = CollisionLedger(CollisionConfig(release_ratio=1.0, rearm_substeps=0))
    rs = fresh(libero, ledger, raw)
    ramekin = body_pos(rs, "glazed_rim_porcelain_ramekin_1")
    move_to(rs, np.r_[ramekin[:2] - [0, 0.14], 1.05], ledger, raw)
    move_to(rs, np.r_[ramekin[:2] - [0, 0.14], 0.93], ledger, raw, gain=1.0)
    body = rs.objects_dict["glazed_rim_porcelain_ramekin_1"].root_body
    records, naive = [], []
    for _ in range(12):
        records.append(step(rs, np.array([0, 1.0, 0, 0, 0, 0, GRIP]), ledger, raw)[0])
        naive.append(max(reference_forces(rs, {body}).values(), default=0.0))  # end-of-step check
    out = {
        "records": records,
        "naive": naive,
        "summary": ledger.episode_summary(),
        "raw": raw.episode_summary(),
    }
    raw.detach()
    ledger.detach()
    return out


def test_substep_view_catches_impacts_an_end_of_step_check_misses(swipe: dict[str, Any]) -> None:
    threshold = CollisionConfig().movable_threshold_n
    records, naive = swipe["records"], swipe["naive"]
    # The ledger's own end-of-step flag matches the independent end-of-step check...
    assert [r["collision_at_step_end"] for r in records] == [f >= threshold for f in naive]
    # ...and the substep view sees collisions in steps where that check sees nothing.
    missed = [r["step"] for r, f in zip(records, naive, strict=True) if r["collision"] and f < threshold]
    assert missed, "expected a brief impact between step ends"
    summary = swipe["summary"]
    assert summary["collided"] and summary["bodies_hit"] == ["glazed_rim_porcelain_ramekin_1"]
    assert set(summary["onsets_by_class"]) == {"object"}


def test_hysteresis_and_rearm_merge_bounces_into_fewer_onsets(swipe: dict[str, Any]) -> None:
    summary, raw = swipe["summary"], swipe["raw"]
    assert raw["first_collision_step"] == summary["first_collision_step"]
    assert raw["n_collision_steps"] == summary["n_collision_steps"]
    assert raw["n_onsets"] > 2 * summary["n_onsets"] >= 2


def test_attach_is_idempotent_and_detach_restores_sim_step(libero: Any) -> None:
    rs = fresh(libero)
    sim = rs.sim

    def sentinel(*args: Any, **kwargs: Any) -> Any:  # someone else's instance-level wrapper
        return type(sim).step(sim, *args, **kwargs)

    sim.step = sentinel
    ledger = CollisionLedger()
    ledger.attach(rs)
    wrapper = vars(sim)["step"]
    assert wrapper is not sentinel and ledger.attached
    ledger.attach(rs)  # idempotent: no second wrapper
    assert vars(sim)["step"] is wrapper
    assert step(rs, np.zeros(7), ledger)[0]["n_substeps"] == 25
    ledger.detach()
    assert vars(sim)["step"] is sentinel and not ledger.attached
    del sim.step
    ledger.attach(rs)
    ledger.detach()
    ledger.detach()  # no-op
    assert "step" not in vars(sim) and sim.step.__func__ is type(sim).step
    rs.step(np.zeros(7))
    with pytest.raises(RuntimeError, match="not attached"):
        ledger.end_step()


def test_reattach_after_hard_reset(libero: Any) -> None:
    ledger = CollisionLedger()
    rs = fresh(libero, ledger)
    old_sim, old_classes = rs.sim, ledger.classes
    libero.reset()  # LIBERO's default hard reset builds a new MjSim
    assert rs.sim is not old_sim
    rs.step(np.zeros(7))
    with pytest.raises(RuntimeError, match="after every reset"):
        ledger.end_step()  # a stale ledger refuses instead of reporting "no collisions"
    ledger.attach(rs)
    ledger.reset()
    assert "step" not in vars(old_sim)  # the old sim got its method back
    assert ledger.classes is not old_classes
    assert [c for c in ledger.classes.body_owner if c == "akita_black_bowl_1"]
    record = step(rs, np.zeros(7), ledger)[0]
    assert record["n_substeps"] == 25 and record["step"] == 0 and record["n_contacts_max"] >= 0
    ledger.detach()
