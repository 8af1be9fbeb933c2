"""A hypothesis on a scenario metric (CR_obstacle) is tested over the units that had obstacles, and only those."""

from __future__ import annotations

import pytest

from mistvla.harness.errors import ConfigError
from mistvla.harness.report.hypotheses import by_unit, unit_outcomes, unit_pair
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.stats.prereg import Hypothesis
from mistvla.harness.typed import from_dict


def _ep(arm: str, init: int, touched: bool | None) -> dict:
    """``touched`` None: no obstacle was placed in this episode's scene."""
    return {"policy": "p", "intervention": arm, "suite": "s", "task_index": 0, "init_state": init, "seed": 0,
            "repeat": 0, "perturbation": "obstacle", "perturbation_level": 5, "success": True,
            "n_collision_onsets": int(bool(touched)), "obstacle_collided": touched}  # fmt: skip


EPISODES = [
    *(_ep("none", i, t) for i, t in enumerate([True, True, True, False, None])),
    *(_ep("mist", i, t) for i, t in enumerate([False, False, True, False, None])),
]


def test_units_without_obstacles_are_left_out_and_the_rest_paired() -> None:
    h = Hypothesis("mist", "cr_obstacle", "less", condition="obstacle L5")
    pairs = [pair for _, pair in unit_outcomes(EPISODES, h)]
    assert pairs == [(False, True), (False, True), (True, True), (False, False)]


def test_unit_pair_agrees_with_unit_outcomes() -> None:
    h = Hypothesis("mist", "cr_obstacle", "less")
    units = by_unit(EPISODES)
    got = [unit_pair(u, EpisodeId.from_record(u["none"]), h) for u in units.values()]
    assert [g for g in got if g is not None] == [pair for _, pair in unit_outcomes(EPISODES, h)]
    assert got.count(None) == 1


def test_an_untestable_metric_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"^h\.metric: must be one of \['sr', 'cr', 'cr_obstacle'\]"):
        from_dict(Hypothesis, {"row": "mist", "metric": "rr_paired"}, "h")
