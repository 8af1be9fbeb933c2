"""Robot initial state: the arm's joints offset from the init state by 0.1-0.5 rad in a random direction.

As LIBERO-plus: after LIBERO's init state is set and before the warm-up, the
arm's 7 joint positions move by ``offset_rad`` (the Euclidean norm of the
offset) along a direction drawn uniformly on the sphere per episode, clipped
to the joint ranges; velocities are zeroed and the controller's goal is set at
the new pose, so the warm-up holds it rather than pulling the arm back.

>>> RobotInitPerturbation.LEVELS[5]
{'offset_rad': 0.5}
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper


class RobotInitPerturbation(PerturbationWrapper):
    """Offset the arm's initial joint configuration."""

    name = "robot_init"
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        lvl: {"offset_rad": round(0.1 * lvl, 2)} for lvl in range(1, 6)
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        robot = env.unwrapped_libero.env.robots[0]
        direction = rng.normal(size=len(robot._ref_joint_pos_indexes))
        direction /= np.linalg.norm(direction)
        offset = direction * self.level_params()["offset_rad"]
        return {"offset_rad": self.level_params()["offset_rad"], "joint_offset": offset.round(6).tolist()}

    def apply(self, env: Any) -> None:
        rs = env.unwrapped_libero.env
        model, data = rs.sim.model._model, rs.sim.data._data
        robot = rs.robots[0]
        qpos_idx = np.asarray(robot._ref_joint_pos_indexes)
        qvel_idx = np.asarray(robot._ref_joint_vel_indexes)
        joints = [model.jnt_qposadr.tolist().index(int(i)) for i in qpos_idx]
        lo, hi = model.jnt_range[joints, 0], model.jnt_range[joints, 1]
        limited = model.jnt_limited[joints].astype(bool)
        target = data.qpos[qpos_idx] + np.asarray(self.params["joint_offset"])
        target = np.where(limited, np.clip(target, lo, hi), target)
        data.qpos[qpos_idx] = target
        data.qvel[qvel_idx] = 0.0
        rs.sim.forward()
        robot.controller.update(force=True)
        robot.controller.reset_goal()
        self.params["joint_qpos"] = target.round(6).tolist()
