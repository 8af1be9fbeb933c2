"""`mistvla export RUN_DIR`: a real run's episodes read back with LeRobot's reader, step for step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mistvla.harness.cli import main
from mistvla.harness.config.run import load_config
from mistvla.harness.datasets.lerobot_export import read_meta
from mistvla.harness.datasets.run_export import ExportSelection, export_run
from mistvla.harness.envs.conventions import lerobot_axis_angle
from mistvla.harness.envs.tasks import suite_object_names
from mistvla.harness.errors import ConfigError
from mistvla.harness.results.store import ResultsStore
from mistvla.harness.run.run_command import run

REFERENCE = "experiments/artifacts/reference/libero_spatial"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("export")
    data = {
        "name": "tiny",
        "output_dir": str(tmp / "{name}"),
        "policy": {"name": "reference", "params": {"checkpoint": REFERENCE}},
        "episodes": {"suite": "libero_spatial", "tasks": [1], "init_states": [40, 41], "seeds": [0]},
        "env": {"max_steps": 10},
        "risk": {"source": "oracle"},
        "interventions": [{"name": "none"}, {"name": "slow", "factor": 0.5, "threshold": 0.0}],
    }
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return Path(run(load_config(path), workers=1, progress=False))


def test_export_reads_back_step_for_step(run_dir: Path, tmp_path: Path) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    out = tmp_path / "ds"
    assert (
        main(
            [
                "export",
                str(run_dir),
                "--out",
                str(out),
                "--intervention",
                "slow",
                "--val-init-states",
                "41",
                "--quiet",
            ]
        )
        == 0
    )
    store = ResultsStore.read(run_dir)
    eps = [r for r in store.episodes().to_pylist() if r["intervention"] == "slow"]
    meta = read_meta(out)
    assert [e["source_episode_key"] for e in meta["episodes"]] == [r["episode_key"] for r in eps]
    assert meta["split"] == {"by": "init_state", "train": [40], "val": [41]}
    assert meta["split_episodes"] == {"train": [0], "val": [1]} and meta["convention"] == "lerobot"
    info = json.loads((out / "meta/info.json").read_text())
    assert info["splits"] == {"train": "0:1", "val": "1:2"}  # LeRobot's own field, episode ranges
    assert meta["object_names"] == list(suite_object_names("libero_spatial"))
    ds = LeRobotDataset(f"mistvla/{run_dir.name}", root=out)
    assert len(ds) == sum(r["steps"] for r in eps) == 20
    steps = store.steps([eps[1]["episode_key"]]).to_pydict()
    for t in (0, 9):
        item = ds[10 + t]  # second episode
        recorded = np.float32(steps["state"][t])  # lerobot convention: LeRobot's axis-angle formula
        lerobot = np.concatenate([recorded[:3], lerobot_axis_angle(steps["eef_quat"][t]), recorded[6:]])
        np.testing.assert_array_equal(item["observation.state"].numpy(), lerobot)
        np.testing.assert_array_equal(
            item["observation.environment_state"].numpy(), np.float32(steps["environment_state"][t])
        )
        np.testing.assert_array_equal(item["action"].numpy(), np.float32(steps["raw_action"][t]))
        np.testing.assert_array_equal(
            item["executed_action"].numpy(), np.float32(steps["executed_action"][t])
        )
        assert int(item["init_state"]) == 41 and int(item["task_in_suite"]) == 1
    # slow at threshold 0 acts on every step: the label is the policy's action, not what ran
    assert not np.allclose(steps["raw_action"], steps["executed_action"])


def test_state_matches_the_env_layout(run_dir: Path) -> None:
    st = ResultsStore.read(run_dir).steps().to_pydict()
    state = np.asarray(st["state"], dtype=np.float32)
    np.testing.assert_allclose(state[:, :3], np.asarray(st["eef_pos"], dtype=np.float32))
    assert np.all(state[:, 6] >= -0.01) and np.all(state[:, 6] <= 0.05)  # a finger joint, metres
    env = np.asarray(st["environment_state"], dtype=np.float32)
    assert env.shape[1] == 7 * len(suite_object_names("libero_spatial")) and np.abs(env).max() > 0


def test_empty_selection_and_stateless_runs_are_one_line_errors(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no complete episode"):
        export_run(run_dir, tmp_path / "a", ExportSelection(interventions=("stop",)), progress=False)
    old = tmp_path / "old"  # as a schema-2 run: steps without ``state``
    shutil.copytree(run_dir, old)
    for f in (old / "steps").glob("*.parquet"):
        table = pq.read_table(f)
        i = table.schema.get_field_index("state")
        pq.write_table(table.set_column(i, "state", pa.nulls(table.num_rows, table.schema.field(i).type)), f)
    with pytest.raises(ConfigError, match="no per-step 'state'"):
        export_run(old, tmp_path / "b", ExportSelection(mix=True), progress=False)
    assert not (tmp_path / "b").exists()
    quatless = tmp_path / "quatless"  # steps without ``eef_quat``: only the recorded layout exports
    shutil.copytree(run_dir, quatless)
    for f in (quatless / "steps").glob("*.parquet"):
        table = pq.read_table(f)
        i = table.schema.get_field_index("eef_quat")
        pq.write_table(
            table.set_column(i, "eef_quat", pa.nulls(table.num_rows, table.schema.field(i).type)), f
        )
    sel = ExportSelection(interventions=("none",))
    with pytest.raises(ConfigError, match=r"without 'eef_quat'.*--convention mistvla"):
        export_run(quatless, tmp_path / "c", sel, progress=False)
    assert not (tmp_path / "c").exists()
    export_run(quatless, tmp_path / "d", sel, progress=False, convention="mistvla")


def test_selection_filters(run_dir: Path) -> None:
    rec = ResultsStore.read(run_dir).episodes().to_pylist()[0]
    noisy = {**rec, "perturbation": "actuation_noise", "perturbation_level": 4, "success": False}
    assert ExportSelection(clean_only=True).keeps(rec) and not ExportSelection(clean_only=True).keeps(noisy)
    assert ExportSelection().keeps(noisy) and not ExportSelection(successes_only=True).keeps(noisy)
    assert not ExportSelection(interventions=("stop",)).keeps(rec)


def test_mixed_interventions_are_refused_unless_all(run_dir: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(
        ConfigError, match=r"mixes interventions \['none', 'slow'\] \(select with --intervention"
    ):
        export_run(run_dir, tmp_path / "a", progress=False)
    assert not (tmp_path / "a").exists()
    assert main(["export", str(run_dir), "--out", str(tmp_path / "b"), "--all", "--quiet"]) == 0
    assert {e["intervention"] for e in read_meta(tmp_path / "b")["episodes"]} == {"none", "slow"}
    assert read_meta(tmp_path / "b")["selection"]["all"] is True


def test_perturbation_conditions_select_and_mix(run_dir: Path) -> None:
    rec = ResultsStore.read(run_dir).episodes().to_pylist()[0]
    cam2 = {**rec, "perturbation": "camera", "perturbation_level": 2}
    cam3 = {**rec, "perturbation": "camera", "perturbation_level": 3}
    assert ExportSelection(perturbations=("camera",)).keeps(cam2)
    assert ExportSelection(perturbations=("camera:3",)).keeps(cam3)
    assert not ExportSelection(perturbations=("camera:3",)).keeps(cam2)
    assert ExportSelection(perturbations=("none",)).keeps(rec) and not ExportSelection(
        perturbations=("none",)
    ).keeps(cam2)
    with pytest.raises(ConfigError, match=r"perturbation conditions \['camera:2', 'none'\]"):
        ExportSelection().check_unmixed([rec, cam2])
    ExportSelection(mix=True).check_unmixed([rec, cam2])


def test_conventions_before_and_after(run_dir: Path, tmp_path: Path) -> None:
    """``mistvla`` keeps the recorded (canonicalised) state; ``lerobot`` matches LeRobot's formula."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    store = ResultsStore.read(run_dir)
    steps = store.steps(
        [r["episode_key"] for r in store.episodes().to_pylist() if r["intervention"] == "none"]
    )
    steps = steps.to_pydict()
    recorded = np.asarray(steps["state"], dtype=np.float32)
    formula = np.concatenate(
        [recorded[:, :3], lerobot_axis_angle(np.asarray(steps["eef_quat"])), recorded[:, 6:]], axis=1
    )
    sel = ExportSelection(interventions=("none",))
    for convention, expected in (("mistvla", recorded), ("lerobot", formula)):
        out = export_run(run_dir, tmp_path / convention, sel, progress=False, convention=convention)
        hf = LeRobotDataset(f"mistvla/{run_dir.name}", root=out).hf_dataset.with_format("numpy")
        np.testing.assert_array_equal(np.stack(hf["observation.state"]), expected)
    with pytest.raises(ConfigError, match="convention: must be one of"):
        export_run(run_dir, tmp_path / "x", sel, progress=False, convention="openvla")
