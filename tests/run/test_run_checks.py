"""A refused config is refused before the run directory exists, with one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mistvla.harness.cli import main
from mistvla.harness.config.run import parse_config
from mistvla.harness.errors import ConfigError
from mistvla.harness.run.run_command import run

SCALAR_RISK = """
from mistvla.harness.risk.base import RiskSignal, RiskSource


class ScalarRisk(RiskSource):
    def reset(self, env):
        pass

    def risk(self, obs):
        return RiskSignal(0.5)
"""


def _cfg(tmp: Path, **changes) -> dict:
    data = {
        "name": "refused",
        "output_dir": str(tmp / "{name}"),
        "policy": {"name": "scripted"},
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0]},
        "env": {"max_steps": 5},
        "interventions": [{"name": "none"}, {"name": "slow", "threshold": 0.5}],
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"episodes": {"suite": "libero_spatial", "tasks": [10]}}, r"episodes.tasks: \[10\] out of range"),
        (
            {"interventions": [{"name": "none"}, {"name": "steer", "steering": "x", "threshold": 0.5}]},
            r"interventions\[1\]: 'steer' acts through hook points, and policy 'scripted' has none",
        ),
        (
            {
                "policy": {"name": "random"},
                "interventions": [
                    {"name": "none"},
                    {"name": "random_steer", "steering": "nowhere", "threshold": 0.5},
                ],
            },
            r"interventions\[1\]: 'random_steer' acts through hook points, and policy 'random' has none",
        ),
        (
            {"policy": {"name": "scripted", "params": {"hoover": 1}}},
            r"policy.params.hoover: unknown key",
        ),
        ({"risk": {"source": "oracle", "params": {"margn": 1}}}, r"risk.params.margn: unknown key"),
    ],
)
def test_refused_before_anything_is_written(tmp_path: Path, changes: dict, message: str) -> None:
    cfg = parse_config(_cfg(tmp_path, **changes))
    with pytest.raises(ConfigError, match=message):
        run(cfg, progress=False)
    assert not cfg.run_dir.exists()


def test_per_dimension_intervention_refused_with_a_scalar_risk_source(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "scalar_risk_plugin.py").write_text(SCALAR_RISK)
    monkeypatch.syspath_prepend(str(tmp_path))
    changes = {
        "risk": {"source": "scalar_risk_plugin:ScalarRisk"},
        "interventions": [{"name": "none"}, {"name": "damp", "threshold": 0.5}],
    }
    cfg = parse_config(_cfg(tmp_path, **changes))
    with pytest.raises(ConfigError, match=r"interventions\[1\]: 'damp' needs a per-dimension risk vector"):
        run(cfg, progress=False)
    assert not cfg.run_dir.exists()


def test_missing_steering_directory_is_refused_up_front(tmp_path: Path) -> None:
    changes = {
        "policy": {"name": "openvla", "params": {"checkpoint": str(tmp_path / "ckpt")}},
        "interventions": [
            {"name": "none"},
            {"name": "steer", "steering": str(tmp_path / "nope"), "threshold": 0.5},
        ],
    }
    cfg = parse_config(_cfg(tmp_path, **changes))
    with pytest.raises(ConfigError, match=r"interventions\[1\].steering: directory .* does not exist"):
        run(cfg, progress=False)
    assert not cfg.run_dir.exists()


def test_cli_prints_one_line_and_exits_2(tmp_path: Path, capsys) -> None:
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_cfg(tmp_path, episodes={"suite": "libero_spatial", "tasks": [10]})))
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mistvla: error: episodes.tasks: [10] out of range"), err
    assert not (tmp_path / "refused").exists()
