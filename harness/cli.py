"""The ``mistvla`` command line.

``mistvla run CONFIG`` runs an experiment (resumable) and prints its
comparison table; ``mistvla report RUN_DIR [--html]`` prints and writes the table
(and the HTML page) of a run; ``mistvla compare RUN_A RUN_B --out DIR`` writes one
page across runs; ``mistvla tasks [SUITE]`` lists suites, tasks and instructions;
``mistvla rollout SUITE TASK`` runs one episode of a simple policy.
``mistvla risk dataset|train|eval`` builds, trains and evaluates the learned risk predictor.
``mistvla steer fit|check`` fits steering directions from data and checks them offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from mistvla.harness.envs.tasks import SUITES, list_tasks, step_limit
from mistvla.harness.errors import MistvlaError


def _cmd_tasks(args: argparse.Namespace) -> int:
    suites = [args.suite] if args.suite else list(SUITES)
    for suite in suites:
        tasks = list_tasks(suite)
        print(f"{suite}  ({len(tasks)} tasks, step limit {step_limit(suite)} under the openvla protocol)")
        for t in tasks:
            print(f'  {t.index:3d}  {t.name}\n       "{t.instruction}"')
    return 0


def _cmd_rollout(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from mistvla.harness.envs.libero import LiberoEnv
    from mistvla.policies.registry import make_policy

    task: int | str = int(args.task) if args.task.isdigit() else args.task
    policy = make_policy(args.policy, seed=args.seed) if args.policy == "random" else make_policy(args.policy)
    req = policy.requirements
    env = LiberoEnv(
        args.suite,
        task,
        cameras=req.cameras,
        image_size=req.image_size,
        privileged=req.privileged,
        max_steps=args.max_steps,
    )
    try:
        obs, info = env.reset(seed=args.seed, options={"init_state": args.init_state})
        policy.bind(env)
        policy.reset(env.instruction, seed=args.seed)
        print(
            f"task: {env.task_name}\ninstruction: {env.instruction}\ninit state {info['init_state']}, seed {info['seed']}"
        )
        done = False
        bar = tqdm(total=env.max_steps, desc="steps", unit="step", leave=False, disable=args.quiet)
        while not done:
            obs, _, terminated, truncated, info = env.step(policy.select_action(obs))
            done = terminated or truncated
            bar.update(1)
        bar.close()
        summary = {
            "outcome": info["termination_reason"],
            "is_success": info["is_success"],
            "steps": info["step"],
            "collisions": info.get("episode_collisions"),
        }
        print(json.dumps(summary, indent=2, default=lambda o: np.asarray(o).tolist()))
    finally:
        env.close()
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from mistvla.harness.config.run import load_config
    from mistvla.harness.report.build import report
    from mistvla.harness.run.run_command import run

    cfg = load_config(args.config, args.set or [])
    print(f"mistvla: run {cfg.name!r} -> {cfg.run_dir}", file=sys.stderr)
    run_dir = run(cfg, workers=args.workers, progress=not args.quiet)
    text, paths = report(run_dir, by=args.by, seed=cfg.seed, html=True)
    print(text)
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from mistvla.harness.config.run import load_config
    from mistvla.harness.run.plan_command import describe

    cfg = load_config(args.config, args.set or [])
    print(describe(cfg, workers=args.workers))
    if args.power or args.effect or args.pilot:
        from mistvla.harness.run.study import describe_power, power_override

        print(describe_power(cfg, power_override(cfg, args.effect, args.pilot)))
    return 0


def _cmd_preregister(args: argparse.Namespace) -> int:
    from mistvla.harness.config.run import load_config
    from mistvla.harness.run.study import preregister

    print(f"written: {preregister(load_config(args.config, args.set or []))}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from mistvla.harness.report.build import report

    reference = None if args.reference is None else [n for n in args.reference.split(",") if n]
    text, paths = report(args.run_dir, by=args.by, html=args.html, reference=reference)
    print(text)
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from mistvla.harness.report.html.page import write_report_html

    path = write_report_html(args.run_dirs, args.out, by=args.by)
    print(f"written: {path}")
    return 0


def _cmd_demos(args: argparse.Namespace) -> int:
    from mistvla.harness.datasets.demo_shards import collect, progress
    from mistvla.harness.datasets.demos import load_demo_config

    if args.progress:
        cfg = load_demo_config(args.config)
        print(json.dumps({"root": str(cfg.root), **progress(cfg.root)}))
        return 0
    root = collect(load_demo_config(args.config), progress_bar=not args.quiet, overwrite=args.overwrite)
    print(f"written: {root}")
    return 0


def _cmd_train_vision(args: argparse.Namespace) -> int:
    from mistvla.harness.datasets.vision_training import load_vision_train_config, ship_run, train_vision

    cfg = load_vision_train_config(args.config)
    if args.ship:
        print(f"shipped: {ship_run(cfg, args.ship)}")
        return 0
    print(f"last checkpoint: {train_vision(cfg, steps=args.steps)}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from mistvla.harness.datasets.run_export import ExportSelection, export_run

    selection = ExportSelection(
        interventions=tuple(args.intervention) if args.intervention else None,
        successes_only=args.successes_only,
        clean_only=args.clean_only,
        perturbations=tuple(args.perturbation) if args.perturbation else None,
        val_init_states=tuple(int(k) for k in args.val_init_states.split(","))
        if args.val_init_states
        else (),
        mix=args.all,
    )
    root = export_run(
        args.run_dir, args.out, selection, overwrite=args.overwrite, progress=not args.quiet,
        convention=args.convention,
    )  # fmt: skip
    print(f"written: {root}")
    return 0


def _cmd_pipeline(args: argparse.Namespace) -> int:
    from mistvla.harness.run.pipeline import load_pipeline, run_pipeline

    return run_pipeline(load_pipeline(args.file), from_scratch=args.from_scratch, dry_run=args.dry_run)


def _cmd_train_policy(args: argparse.Namespace) -> int:
    from mistvla.policies.reference.ship import ship
    from mistvla.policies.reference.train import load_train_config, train

    ckpt = train(load_train_config(args.config), progress=not args.quiet)
    print(f"best checkpoint: {ckpt}")
    if args.ship:
        print(f"shipped: {ship(ckpt, args.ship)}")
    return 0


def _cmd_analyze_actions(args: argparse.Namespace) -> int:
    import yaml

    from mistvla.harness.report.action_analysis import analyze_actions, format_table
    from mistvla.policies.registry import make_policy

    params = yaml.safe_load(args.params) if args.params else {}
    policy = make_policy(args.policy, **params)
    summary = analyze_actions(
        policy, args.dataset, args.out, split=args.split, collapse_ratio=args.collapse_ratio
    )
    print(format_table(summary["dimensions"]))
    print(f"written: {args.out}/summary.json and PNGs")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mistvla", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run an experiment config and print its comparison table")
    p.add_argument("config", help="experiment YAML, e.g. experiments/quickstart.yaml")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: the config's)")
    p.add_argument("--by", choices=["suite", "task"], default="suite", help="rows per suite or per task")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("plan", help="episodes, env builds, policy loads and a time estimate of a config")
    p.add_argument("config")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="worker count (default: the config's)")
    p.add_argument("--power", action="store_true", help="units needed per question at the planned power")
    p.add_argument(
        "--effect", default=None, metavar="PP", help="effect to detect, e.g. 10pp (default: stats.power)"
    )
    p.add_argument(
        "--pilot", default=None, metavar="RUN", help="pilot run directory for the discordance rates"
    )
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser(
        "preregister", help="write prereg.json (hypotheses, analysis, stopping rule) before a run"
    )
    p.add_argument("config")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.set_defaults(func=_cmd_preregister)

    p = sub.add_parser("pipeline", help="run a chain of mistvla commands from a file (skips what exists)")
    p.add_argument("file", help="pipeline YAML, e.g. experiments/mist_full.yaml")
    p.add_argument("--from-scratch", action="store_true", help="delete each step's outputs and remake them")
    p.add_argument("--dry-run", action="store_true", help="print what would run")
    p.set_defaults(func=_cmd_pipeline)

    p = sub.add_parser("report", help="print and write the comparison table of a run directory")
    p.add_argument("run_dir")
    p.add_argument("--by", choices=["suite", "task"], default="suite")
    p.add_argument("--html", action="store_true", help="also write the self-contained page report/index.html")
    p.add_argument(
        "--reference",
        default=None,
        metavar="NAMES",
        help="published SR columns, comma-separated (openvla,openvla_oft,smolvla; '' for none); "
        "default: the run config's report.reference",
    )
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("compare", help="one HTML report across runs, paired on shared episodes")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="the first run is the reference")
    p.add_argument("--out", required=True, help="folder for index.html (and copied videos)")
    p.add_argument("--by", choices=["suite", "task"], default="suite")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("tasks", help="list LIBERO suites, tasks and instructions")
    p.add_argument("suite", nargs="?", choices=SUITES, help="only this suite")
    p.set_defaults(func=_cmd_tasks)

    p = sub.add_parser("rollout", help="run one episode of a simple policy on one task")
    p.add_argument("suite", choices=SUITES)
    p.add_argument("task", help="task index or name (see `mistvla tasks`)")
    p.add_argument("--policy", default="random", help="policy name (default: random)")
    p.add_argument("--init-state", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None, help="default: the suite's protocol limit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_rollout)

    p = sub.add_parser("demos", help="roll out the scripted expert into a LeRobot demonstration dataset")
    p.add_argument(
        "config", help="demonstration YAML, e.g. experiments/reference/demos_libero_spatial_a.yaml"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset directory")
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--progress", action="store_true", help="print a sharded collection's progress, collect nothing"
    )
    p.set_defaults(func=_cmd_demos)

    p = sub.add_parser(
        "train-vision", help="train the scratch SmolVLA image policy with lerobot-train (resumable)"
    )
    p.add_argument("config", help="e.g. experiments/reference/train_libero_spatial_vision.yaml")
    p.add_argument("--steps", type=int, help="total training steps (overrides spec.steps; a new run only)")
    p.add_argument(
        "--ship", metavar="DIR", help="copy the last checkpoint to DIR (policy/ + vlm/) instead of training"
    )
    p.set_defaults(func=_cmd_train_vision)

    p = sub.add_parser("export", help="write a run directory's episodes as a LeRobot dataset")
    p.add_argument("run_dir")
    p.add_argument("--out", required=True, help="dataset root to create")
    p.add_argument(
        "--intervention", action="append", metavar="NAME", help="only this intervention (repeatable)"
    )
    p.add_argument("--successes-only", action="store_true", help="only successful episodes")
    p.add_argument("--clean-only", action="store_true", help="only episodes without an env perturbation")
    p.add_argument(
        "--perturbation", action="append", metavar="LABEL[:LEVEL]",
        help="only this env condition ('none': clean; repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--all",
        action="store_true",
        help="allow several interventions / perturbation conditions in one dataset",
    )
    p.add_argument(
        "--convention", choices=("lerobot", "mistvla"), default="lerobot",
        help="observation.state layout (docs/reference_policy.md); default: LeRobot's LIBERO formula",
    )  # fmt: skip
    p.add_argument("--val-init-states", metavar="K,K", help="init states marked val in the split")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset directory")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "train-policy", help="train the reference policy on LeRobot demonstrations (resumable)"
    )
    p.add_argument("config", help="training YAML, e.g. experiments/reference/train_libero_spatial.yaml")
    p.add_argument(
        "--ship", metavar="DIR", help="also copy the best checkpoint to DIR (e.g. experiments/artifacts/...)"
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_train_policy)

    p = sub.add_parser(
        "analyze-actions", help="per-dimension action analysis of a policy on a demonstration dataset"
    )
    p.add_argument("dataset", nargs="+", help="LeRobot dataset root(s)")
    p.add_argument("--policy", default="reference")
    p.add_argument("--params", help='policy params as YAML, e.g. "{checkpoint: experiments/artifacts/...}"')
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--split", choices=["val", "train", "all"], default="val")
    p.add_argument("--collapse-ratio", type=float, default=0.3)
    p.set_defaults(func=_cmd_analyze_actions)

    from mistvla.harness.risk.learned.cli import add_risk_parser

    add_risk_parser(sub)
    from mistvla.harness.steering.cli import add_steer_parser

    add_steer_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mistvla`` console script.

    A :class:`~mistvla.harness.errors.MistvlaError` (bad input, a refused run)
    is printed as one line with exit status 2; anything else is a bug and
    shows its traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except MistvlaError as err:
        print(f"mistvla: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
