"""`mistvla pipeline FILE`: steps in order, parallel groups, skip what exists, remake from scratch, stop on failure."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mistvla.harness.cli import main
from mistvla.harness.errors import ConfigError
from mistvla.harness.run.pipeline import load_pipeline, parse_pipeline, run_pipeline


def _recorder(calls: list[list[list[str]]], make: dict[str, Path], code: int = 0):
    def runner(argvs):
        calls.append([list(a) for a in argvs])
        for a in argvs:
            if a[-1] in make:
                make[a[-1]].mkdir()
        return [code] * len(argvs)

    return runner


def test_skips_what_exists_and_remakes_from_scratch(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    pipe = parse_pipeline(
        {"steps": [
            {"run": "demos x.yaml --out a", "creates": str(a)},
            {"parallel": [{"run": "risk eval b", "creates": [str(b)]}, {"run": "tasks"}]},
        ]}
    )  # fmt: skip
    calls: list = []
    assert run_pipeline(pipe, log=lambda s: None, runner=_recorder(calls, {"a": a, "b": b})) == 0
    assert calls == [[["demos", "x.yaml", "--out", "a"]], [["risk", "eval", "b"], ["tasks"]]]
    calls.clear()
    (a / "old").write_text("stale")
    run_pipeline(pipe, log=lambda s: None, runner=_recorder(calls, {"a": a, "b": b}))
    assert calls == [[["tasks"]]]  # a and b exist; a step without `creates` always runs
    calls.clear()
    run_pipeline(pipe, from_scratch=True, log=lambda s: None, runner=_recorder(calls, {"a": a, "b": b}))
    assert len(calls) == 2 and a.is_dir() and not (a / "old").exists()  # deleted, then made again


def test_a_failing_step_stops_the_chain(tmp_path: Path) -> None:
    pipe = parse_pipeline({"steps": [{"run": "tasks"}, {"run": "tasks libero_spatial"}]})
    calls: list = []
    assert run_pipeline(pipe, log=lambda s: None, runner=_recorder(calls, {}, code=2)) == 2
    assert calls == [[["tasks"]]]


def test_real_subprocesses_and_their_exit_status(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "p", "steps": [
        {"parallel": [{"run": "mistvla tasks libero_spatial"}, {"run": "tasks libero_object"}]},
        {"run": f"run {tmp_path}/missing.yaml"},
        {"run": "tasks libero_10"},
    ]}))  # fmt: skip
    assert main(["pipeline", str(path)]) == 2  # the missing config: a one-line error, exit 2
    err = capsys.readouterr().err
    assert "[2/3] failed with exit status 2" in err and "[3/3]" not in err


@pytest.mark.parametrize(
    "data, match",
    [
        ({"steps": []}, "non-empty list"),
        ({"steps": [{"cmd": "tasks"}]}, r"steps\[0\]: expected a mapping with 'run'"),
        ({"steps": [{"parallel": [{"run": ""}]}]}, r"steps\[0\].parallel\[0\].run: empty command"),
        ({"steps": [{"run": "tasks"}], "stages": 1}, "unknown keys"),
    ],
)
def test_bad_files_are_one_line_errors(data, match) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_pipeline(data)


def test_the_shipped_chain_parses_and_names_documented_commands() -> None:
    pipe = load_pipeline("experiments/mist_full.yaml")
    commands = {s.argv[0] for g in pipe.groups for s in g}
    assert commands <= {"demos", "train-policy", "run", "risk", "steer"}
    from mistvla.harness.cli import build_parser

    for group in pipe.groups:
        for step in group:
            build_parser().parse_args(step.argv)  # every step is a valid mistvla command line
