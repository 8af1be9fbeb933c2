"""Demonstration configs: every shipped one loads, and bad fields are one-line errors naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mistvla.harness.datasets.demos import DemoConfig, load_demo_config
from mistvla.harness.errors import ConfigError

SHIPPED = sorted(Path(__file__).parents[2].glob("experiments/reference/demos_*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_demo_configs_load_with_disjoint_splits(path):
    cfg = load_demo_config(path)
    assert cfg.name == path.stem
    assert not set(cfg.train_init_states) & set(range(40, 50))
    assert not set(cfg.val_init_states) & set(range(40, 50))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"train_init_states": [0, 1], "val_init_states": [1]}, r"val_init_states: \[1\] are also"),
        ({"action_noise": -0.1}, "action_noise: must be >= 0"),
        ({"convention": "openvla"}, r"convention: must be one of \['lerobot', 'mistvla'\]"),
        ({"quiet_phases": ["descend", "hover"]}, r"quiet_phases: unknown phase\(s\) \['hover'\]"),
    ],
)
def test_bad_fields_are_config_errors_naming_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        DemoConfig(name="x", **fields)
