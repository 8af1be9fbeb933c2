"""The ablation sweep: groups of run configs from one file, and Table 2 paired on the same base episodes."""

from __future__ import annotations

import numpy as np
import yaml

from mistvla.harness.config.run import parse_config
from mistvla.harness.steering.ablations import group_configs, load_ablations
from mistvla.hooks import SteeringSpec

POINT = "llm.blocks.1.resid_post"


def write_files(tmp_path, tiny=True):
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    ckpt = build_tiny_llava(tmp_path / "ckpt", hidden_size=64, num_layers=2) if tiny else tmp_path / "ckpt"
    rng = np.random.default_rng(0)
    for method in ("contrastive", "random"):
        for d in range(6):
            SteeringSpec({POINT: rng.standard_normal(64)}).save(tmp_path / "dirs" / "1" / method / f"dim_{d}")
    base = {
        "name": "base",
        "policy": {
            "name": "openvla",
            "params": {"checkpoint": str(ckpt), "unnorm_key": "libero_spatial_no_noops"},
        },
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0]},
        "env": {"max_steps": 3, "image_size": 64},
        "risk": {"source": "oracle"},
    }
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    ablation = {
        "base": "base.yaml",
        "name": "abl",
        "output_dir": str(tmp_path / "runs" / "{name}"),
        "steering": str(tmp_path / "dirs" / "{layer}" / "{method}"),
        "defaults": {"layer": 1, "alpha": 2.0, "method": "contrastive", "quantile": 0.9, "risk": "oracle"},
        "axes": {"method": ["contrastive", "random"]},
        "risks": {"oracle": {"source": "oracle"}},
        "steer": {"threshold": 0.0},  # short episodes never succeed, so nothing could be calibrated
    }
    (tmp_path / "abl.yaml").write_text(yaml.safe_dump(ablation))
    return tmp_path / "abl.yaml"


def test_groups_pair_every_row_with_the_defaults_base(tmp_path):
    spec, base = load_ablations(write_files(tmp_path, tiny=False))
    spec.axes["quantile"] = [0.9, 0.95]
    groups = group_configs(spec, yaml.safe_load(base.read_text()))
    assert sorted(groups) == ["oracle__q0.9", "oracle__q0.95"]
    cfg = parse_config(groups["oracle__q0.95"])
    assert cfg.calibration.quantile == 0.95
    assert [i.display for i in cfg.interventions] == ["none", "steer quantile=0.95"]
    assert cfg.interventions[1].options.steering.endswith("1/contrastive")


def test_table_2_pairs_rows_against_the_defaults_base(tmp_path):
    from mistvla.harness.report.ablation_table import ablation_rows, write_ablation_table
    from mistvla.harness.results.store import ResultsStore
    from mistvla.harness.risk.learned.synthetic import write_synthetic_run

    spec, _ = load_ablations(write_files(tmp_path, tiny=False))
    run = write_synthetic_run(tmp_path / "syn", n_episodes=12, n_steps=20, hidden_size=4)
    base = ResultsStore.read(run).episodes().to_pylist()
    safe = [{**e, "intervention": "steer", "collided": False, "n_collision_onsets": 0} for e in base]
    same = [{**e, "intervention": "steer method=random"} for e in base]
    rows = ablation_rows(spec, {spec.default_group: base + safe + same})
    assert [(r.scope, r.intervention) for r in rows] == [
        ("base", "none"),
        ("defaults", "steer"),
        ("method", "steer method=random"),
    ]
    n_collided = sum(e["collided"] for e in base)
    assert rows[1].n_pairs == 12 and np.isclose(rows[1].delta_cr.value, -n_collided / 12)
    assert rows[2].delta_cr.value == 0.0
    paths = write_ablation_table(rows, tmp_path / "out", spec)
    assert "steer method=random" in paths["md"].read_text()
    assert len(paths["csv"].read_text().splitlines()) == 4
