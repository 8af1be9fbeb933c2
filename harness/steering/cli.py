"""``mistvla steer fit|check|ablate``: the sub-parser and the functions it calls."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mistvla.harness.errors import ConfigError


def _cmd_fit(args: argparse.Namespace) -> int:
    from mistvla.harness.steering.data import load_fit_data
    from mistvla.harness.steering.fit import fit_directions

    data = load_fit_data(args.dataset, args.point, args.position, args.max_rows)
    rec = fit_directions(
        data,
        args.out,
        args.method,
        args.target,
        args.quantile,
        args.seed,
        steer_positions=args.steer_positions,
    )
    print(
        f"{rec['method']} ({rec['target']}) directions at {rec['point']} from {rec['n_rows']} rows -> {args.out}"
    )
    print(json.dumps(rec["counts"]))
    return 0


def _alphas(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--alphas: expected comma-separated numbers, got {text!r}") from None
    if not values or sorted(values) != values or values[0] <= 0:
        raise ConfigError(f"--alphas: need increasing positive strengths, got {text!r}")
    return values


def _cmd_check(args: argparse.Namespace) -> int:
    import yaml

    from mistvla.harness.steering.check import dose_response, frames_samples, write_check
    from mistvla.policies.registry import make_policy

    params: dict[str, Any] = yaml.safe_load(args.params) if args.params else {}
    policy = make_policy(args.policy, **params)
    samples = frames_samples(args.frames, args.max_frames, args.split)
    result = dose_response(policy, samples, args.steering, _alphas(args.alphas))
    summary = write_check(result, args.out, args.ratio, title=str(args.steering))
    print(
        f"{summary['n_pass']}/6 dimensions pass ({summary['effect']}, ratio {args.ratio}); written: {args.out}"
    )
    for d, ok in enumerate(summary["passes"]):
        row = " ".join(f"{x:+.4f}" for x in summary["intended"][d])
        print(
            f"  dim {d}: intended {row}  off-diagonal {summary['max_off_diagonal'][d]:.4f}  {'pass' if ok else 'FAIL'}"
        )
    return 0


def _cmd_ablate(args: argparse.Namespace) -> int:
    from mistvla.harness.steering.ablations import run_ablations

    paths = run_ablations(args.config, workers=args.workers, progress=not args.quiet)
    print(paths["md"].read_text().split("\n\n")[0])
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0


def add_steer_parser(sub: Any) -> None:
    """Add ``steer`` with its ``fit`` and ``check`` commands to ``mistvla``'s sub-parsers."""
    steer = sub.add_parser("steer", help="steering directions: fit from data, check offline")
    ssub = steer.add_subparsers(dest="steer_command", required=True)
    p = ssub.add_parser("fit", help="one steering vector per motion dimension (dim_<d>.json/.npz)")
    p.add_argument(
        "dataset", nargs="+", help="a risk dataset directory, or run directories with hidden states"
    )
    p.add_argument("--point", default=None, help="hook point (default: the risk dataset's)")
    p.add_argument(
        "--position", default=None, help="captured position (default: last_prompt / the dataset's)"
    )
    p.add_argument("--method", default="contrastive", help="contrastive, probe, generic, random")
    p.add_argument("--target", default="magnitude", help="magnitude, signed or label (see docs/mist.md)")
    p.add_argument("--quantile", type=float, default=0.2, help="bottom/top fraction of rows (not for label)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-rows", type=int, default=None, help="subsample this many rows (seeded)")
    p.add_argument("--steer-positions", default="all", help="positions the vectors are added at")
    p.add_argument("--out", required=True, help="steering directory (what `steer` reads)")
    p.set_defaults(func=_cmd_fit)
    p = ssub.add_parser("check", help="dose-response and 6x7 selectivity of a steering directory")
    p.add_argument("steering", help="steering directory written by `steer fit`")
    p.add_argument("--policy", default="reference")
    p.add_argument("--params", help='policy params as YAML, e.g. "{checkpoint: experiments/artifacts/...}"')
    p.add_argument("--frames", nargs="+", required=True, help="LeRobot demonstration dataset root(s)")
    p.add_argument("--split", choices=["val", "train", "all"], default="val")
    p.add_argument("--max-frames", type=int, default=200)
    p.add_argument("--alphas", default="0.05,0.1,0.2,0.4,0.8")
    p.add_argument("--ratio", type=float, default=2.0, help="intended effect / largest off-diagonal")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_check)
    p = ssub.add_parser("ablate", help="run (or resume) an ablation file and write Table 2")
    p.add_argument("config", help="ablation YAML, e.g. experiments/mist_ablations.yaml")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_ablate)
