"""A run refuses, before anything is written, a steering set with no honest check or a failed one
(unless ``allow_failed_check: true``), and a non-positive strength: one line naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.errors import ConfigError
from mistvla.harness.run.checks import check_run
from mistvla.hooks import SteeringSpec


def _set(root: Path, n_pass: int | None) -> Path:
    for d in range(6):
        SteeringSpec({"llm.blocks.0.resid_post": np.ones(4)}).save(root / f"dim_{d}")
    if n_pass is not None:
        (root / "check").mkdir()
        chk = {"format": "mistvla.steering-check/2", "n_pass": n_pass, "passed": n_pass >= 4,
               "effect_per_unit": [0.1] * 6, "alphas": [1.0]}  # fmt: skip
        (root / "check" / "check.json").write_text(json.dumps(chk))
    return root


def _cfg(tmp: Path, entry: dict) -> object:
    return parse_config({
        "name": "t", "output_dir": str(tmp / "{name}"),
        "policy": {"name": "openvla", "params": {"checkpoint": str(tmp / "ckpt")}},
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0]},
        "risk": {"source": "oracle"},
        "interventions": [{"name": "none"}, {"name": "steer", "threshold": 0.5, **entry}],
    })  # fmt: skip


@pytest.mark.parametrize(
    ("n_pass", "message"),
    [
        (None, r"^interventions\[1\]\.steering: '.*' has no check result .*allow_failed_check: true$"),
        (3, r"^interventions\[1\]\.steering: '.*' failed its check \(3/6 dimensions pass, need >= 4\)"),
    ],
)
def test_unchecked_or_failed_sets_are_refused(tmp_path, n_pass, message):
    cfg = _cfg(tmp_path, {"steering": str(_set(tmp_path / "s", n_pass))})
    with pytest.raises(ConfigError, match=message):
        check_run(cfg)


def test_a_passing_set_or_an_explicit_allow_runs(tmp_path):
    check_run(_cfg(tmp_path, {"steering": str(_set(tmp_path / "ok", 5)), "strength": "action"}))
    check_run(_cfg(tmp_path, {"steering": str(_set(tmp_path / "bad", 1)), "allow_failed_check": True}))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"alpha": 0.0}, r"^interventions\[1\]: alpha must be > 0, got 0.0"),
        ({"strength": "action", "max_shift": -1.0}, r"^interventions\[1\]: max_shift must be > 0"),
        ({"strength": "fast"}, r"^interventions\[1\]: strength must be one of alpha, action"),
    ],
)
def test_bad_strength_is_one_line_naming_the_field(tmp_path, entry, message):
    with pytest.raises(ConfigError, match=message):
        _cfg(tmp_path, {"steering": str(_set(tmp_path / "s", 6)), **entry})


def test_a_block_beyond_the_model_is_refused(tmp_path):
    root = tmp_path / "deep"
    for d in range(6):
        SteeringSpec({"llm.blocks.9.resid_post": np.ones(128)}).save(root / f"dim_{d}")
    cfg = parse_config({
        "name": "t", "output_dir": str(tmp_path / "{name}"),
        "policy": {"name": "reference", "params": {"checkpoint": "experiments/artifacts/reference/libero_spatial"}},
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0]},
        "risk": {"source": "oracle"},
        "interventions": [{"name": "none"}, {"name": "steer", "threshold": 0.5, "steering": str(root),
                                             "allow_failed_check": True}],
    })  # fmt: skip
    with pytest.raises(ConfigError, match=r"^interventions\[1\]\.steering: steers 'llm.blocks.9.resid_post', "
                       r"and policy 'reference' has blocks 0-3$"):  # fmt: skip
        check_run(cfg)


def _online_set(root: Path) -> Path:
    _set(root, 6)
    fit = {"method": "jacobian_online", "target": "signed", "point": "llm.blocks.0.resid_post"}
    (root / "fit.json").write_text(json.dumps(fit))
    return root


def test_an_online_set_needs_action_strength_and_an_observation_gate(tmp_path):
    """jacobian_online reads a_d in its own Jacobian pass: relative alpha and in-pass gating are refused."""
    steering = str(_online_set(tmp_path / "on"))
    check_run(_cfg(tmp_path, {"steering": steering, "strength": "action"}))
    with pytest.raises(ConfigError, match=r"^interventions\[1\]\.steering: a jacobian_online set steers in "):
        check_run(_cfg(tmp_path, {"steering": steering}))
    cfg = _cfg(tmp_path, {"steering": steering, "strength": "action"})
    cfg.risk.source = "learned"
    cfg.risk.params = {"checkpoint": "experiments/artifacts/risk/reference"}
    with pytest.raises(ConfigError, match=r"^interventions\[1\]\.steering: a jacobian_online set takes its "):
        check_run(cfg)


def test_a_hazard_direction_is_needed_by_repel_and_steer_away(tmp_path):
    """repel and steer target: away read the risk's direction: a source without one is refused."""
    check_run(
        _cfg(tmp_path, {"steering": str(_set(tmp_path / "a", 6)), "strength": "action", "target": "away"})
    )
    for entry in ({"name": "repel", "gain": 0.5},
                  {"steering": str(_set(tmp_path / "b", 6)), "strength": "action", "target": "away"}):  # fmt: skip
        cfg = _cfg(tmp_path, entry)  # a "name" in the entry replaces steer
        cfg.risk.source = "constant"
        with pytest.raises(
            ConfigError, match=r"^interventions\[1\]: .* needs the direction of the nearest hazard"
        ):
            check_run(cfg)
