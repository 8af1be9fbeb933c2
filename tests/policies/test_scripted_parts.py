"""Scripted expert pieces without a simulator: goal parsing, BDDL coverage, perturbations, geometry."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.envs.tasks import suite_tasks
from mistvla.harness.errors import UnsupportedTaskError
from mistvla.policies.scripted.goals import ObjectShape, goal_from_bddl, parse_goal
from mistvla.policies.scripted.grasps import (
    closing_axis,
    down_rotation,
    horizontal_axes,
    plan_grasp,
    rotation_error,
    yaw_for_closing_axis,
)
from mistvla.policies.scripted.perturbations import PerturbationConfig

OBJS = ["akita_black_bowl_1", "plate_1", "basket_1", "butter_1"]


@pytest.mark.parametrize(
    "goal, match",
    [
        ([["open", "wooden_cabinet_1_middle_region"]], r"\(open wooden_cabinet_1_middle_region\)"),
        ([["on", "akita_black_bowl_1", "flat_stove_1_cook_region"]], "flat_stove_1_cook_region"),
        (
            [["in", "butter_1", "basket_1_contain_region"], ["in", "plate_1", "basket_1_contain_region"]],
            "2-predicate",
        ),
        ([["in", "butter_1", "plate_1"]], r"\(in butter_1 plate_1\)"),
        ([], "0-predicate"),
    ],
)
def test_unscriptable_goals_name_the_predicate(goal, match):
    with pytest.raises(UnsupportedTaskError, match=match):
        parse_goal(goal, OBJS)


def test_supported_goals():
    g = parse_goal([["In", "butter_1", "basket_1_contain_region"]], OBJS)
    assert (g.relation, g.obj, g.target, g.target_object) == (
        "in",
        "butter_1",
        "basket_1_contain_region",
        "basket_1",
    )


def test_bddl_coverage_of_the_suites():
    """All of libero_spatial and libero_object are scriptable; no libero_10 task is."""
    for suite in ("libero_spatial", "libero_object"):
        assert all(goal_from_bddl(t.bddl_file).relation in ("on", "in") for t in suite_tasks(suite))
    for t in suite_tasks("libero_10"):
        with pytest.raises(UnsupportedTaskError):
            goal_from_bddl(t.bddl_file)


def test_perturbation_sampling_is_seeded():
    cfg = PerturbationConfig(
        grasp_offset=0.02, overshoot=0.05, overshoot_prob=0.5, wrong_object_prob=0.5, seed=1
    )
    eps = [cfg.sample(e) for e in range(40)]
    assert eps == [cfg.sample(e) for e in range(40)]
    assert eps != [PerturbationConfig(**{**cfg.to_dict(), "seed": 2}).sample(e) for e in range(40)]
    overshoots = {p.overshoot for p in eps}
    assert overshoots == {0.0, 0.05}  # overshoot_prob picks some episodes, not all
    assert 5 < sum(p.wrong_object for p in eps) < 35
    assert all(abs(np.hypot(*p.grasp_offset_xy) - 0.02) < 1e-12 for p in eps)
    noise = [cfg.sample(3).noise_rng().normal(size=4) for _ in range(2)]
    np.testing.assert_array_equal(noise[0], noise[1])


@pytest.mark.parametrize("bad", [{"action_noise": -0.1}, {"overshoot_prob": 1.5}, {"speed_scale": 0.0}])
def test_perturbation_config_validation(bad):
    with pytest.raises(ValueError):
        PerturbationConfig(**bad)


@pytest.mark.parametrize("angle", [0.0, 0.4, 1.5, 2.5, -2.0])
def test_yaw_makes_fingers_close_along_the_requested_axis(angle):
    d = np.array([np.cos(angle), np.sin(angle)])
    axis = closing_axis(down_rotation(yaw_for_closing_axis(d)))
    assert abs(abs(float(axis[:2] @ d)) - 1.0) < 1e-9 and abs(axis[2]) < 1e-9
    assert np.linalg.norm(rotation_error(down_rotation(0.2), down_rotation(0.2))) < 1e-9


def test_center_grasp_closes_across_the_short_side_of_a_rotated_box():
    shape = ObjectShape((-0.04, -0.02, -0.01), (0.04, 0.02, 0.01))  # butter-like, 8 x 4 cm
    yaw = 0.7
    pose = np.array([0.1, 0.2, 0.01, 0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])
    _, short_ext, _, long_ext = horizontal_axes(pose, shape)
    assert (round(short_ext, 6), round(long_ext, 6)) == (0.04, 0.08)
    grasp = plan_grasp(pose, shape, [], down_rotation(0.0), rim=False)
    assert grasp.kind == "center"
    assert abs(abs(float(grasp.axis_xy @ [-np.sin(yaw), np.cos(yaw)])) - 1) < 1e-9
    np.testing.assert_allclose(grasp.point[:2], pose[:2])
    assert grasp.point[2] > 0.0 + 0.012  # fingertips stay off the floor under a flat object


def test_rim_grasp_avoids_an_obstacle_next_to_the_bowl():
    bowl = ObjectShape((-0.053, -0.053, 0.0), (0.053, 0.053, 0.05))
    pose = np.array([0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 1.0])
    hand = down_rotation(yaw_for_closing_axis(np.array([1.0, 0.0])))  # fingers already close along x
    free = plan_grasp(pose, bowl, [], hand, rim=True)
    assert free.kind == "rim" and free.point[0] < -0.03  # the side facing the robot (-x)
    wall = np.array([[x, y, z] for x in (-0.2, -0.06) for y in (-0.3, 0.3) for z in (0.9, 1.1)])
    blocked = plan_grasp(pose, bowl, [wall], hand, rim=True)
    assert blocked.point[0] > 0.03  # the other side of the bowl, away from the wall
    assert 0.03 < np.linalg.norm(blocked.point[:2]) < 0.053
    assert blocked.point[2] < 0.95 and blocked.point[2] > 0.9  # just below the rim
