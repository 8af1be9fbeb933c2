"""``episodes.suite`` as a list: several suites in one run, planned suite by suite, one env per (suite, task)."""

from __future__ import annotations

import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.errors import ConfigError
from mistvla.harness.report.build import report
from mistvla.harness.run.dispatch import WorkQueue
from mistvla.harness.run.plan import plan_episodes
from mistvla.harness.run.plan_command import describe, plan_summary
from mistvla.harness.run.run_command import identity, run


def _cfg(suite, tmp_path=None, **episodes):
    data = {
        "name": "multi",
        "policy": {"name": "random", "params": {"seed": 1}},
        "episodes": {"suite": suite, "tasks": [0], "init_states": [0, 1], **episodes},
        "risk": {"source": "constant"},
    }
    if tmp_path is not None:
        data.update(output_dir=str(tmp_path / "{name}"), env={"max_steps": 3})
    return parse_config(data)


def test_a_single_suite_string_is_unchanged():
    cfg = _cfg("libero_goal")
    assert cfg.episodes.suite == "libero_goal" and cfg.episodes.suites == ["libero_goal"]
    assert identity(cfg)["episodes"]["suite"] == "libero_goal" and "report" not in identity(cfg)
    assert {s.id.suite for s in plan_episodes(cfg)} == {"libero_goal"}


def test_a_list_plans_suite_by_suite():
    cfg = _cfg(["libero_goal", "libero_10"], tasks=[0, 1])
    specs = plan_episodes(cfg)
    assert [(s.id.suite, s.id.task_index) for s in specs[::2]] == [
        ("libero_goal", 0),
        ("libero_goal", 1),
        ("libero_10", 0),
        ("libero_10", 1),
    ]
    assert [s.episode_index for s in specs] == list(range(8))
    assert len({s.key for s in specs}) == 8


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        (["libero_goal", "libero_goal"], "episodes: suite has duplicates"),
        (["libero_goal", "libero_nope"], "episodes: suite must be one of"),
        ([], "episodes: suite must name at least one suite"),
    ],
)
def test_bad_suite_lists_are_one_line_errors(suite, message):
    with pytest.raises(ConfigError, match=message):
        _cfg(suite)


def test_tasks_are_checked_against_every_suite():
    cfg = _cfg(["libero_90", "libero_10"], tasks=[50])
    with pytest.raises(ConfigError, match=r"episodes.tasks: \[50\] out of range; libero_10 has tasks 0..9"):
        plan_episodes(cfg)


def test_same_task_index_of_two_suites_are_two_envs():
    cfg = _cfg(["libero_goal", "libero_10"])
    queue = WorkQueue(plan_episodes(cfg), workers=1)
    assert list(queue.chunks) == [("libero_goal", 0), ("libero_10", 0)]
    first = queue.next_chunk(("libero_10", 0))
    assert {s.id.suite for s in first} == {"libero_10"}
    summary = plan_summary(cfg, workers=1)
    assert summary["episodes"] == 4 and summary["env_builds"] == 2
    assert summary["step_limits"] == {"libero_goal": 300, "libero_10": 520}
    assert "up to 300 (libero_goal) / 520 (libero_10) steps each" in describe(cfg, workers=1)


def test_a_two_suite_run_reports_per_suite_and_average_rows(tmp_path):
    cfg = _cfg(["libero_spatial", "libero_object"], tmp_path, init_states=[0])
    run_dir = run(cfg, workers=1, progress=False)
    text, paths = report(run_dir, reference=["openvla"])
    md = paths["md"].read_text()
    scopes = [
        line.split("|")[1].strip()
        for line in md.splitlines()
        if line.startswith("| libero_") or line.startswith("| average")
    ]
    assert scopes == ["libero_object", "libero_spatial", "average"]
    assert "OpenVLA pub. SR %" in text and "88.4" in text and "84.7" in text
    assert "average" in text


def test_reference_columns_from_the_config_in_every_report(tmp_path, capsys):
    from mistvla.harness.cli import main

    cfg = _cfg(["libero_spatial", "libero_object"], tmp_path, init_states=[0])
    cfg.report.reference = ["smolvla"]
    run_dir = run(cfg, workers=1, progress=False)
    text, paths = report(run_dir, html=True)  # read back from the manifest
    assert "SmolVLA (0.45B) pub. SR %" in text and "96.0" in text
    page = paths["html"].read_text()
    assert "SmolVLA (0.45B) pub. SR %" in page and 'data-v="96.0"' in page and "Shukor et al. 2025" in page
    assert main(["report", str(run_dir), "--reference", "openvla,openvla_oft"]) == 0
    out = capsys.readouterr().out
    assert "OpenVLA-OFT pub. SR %" in out and "98.4" in out and "SmolVLA" not in out
    assert main(["report", str(run_dir), "--reference", "octo"]) == 2
    assert "reference: unknown published result 'octo'" in capsys.readouterr().err
