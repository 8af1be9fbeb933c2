"""``mistvla steer fit|check|ablate``: the sub-parser and the functions it calls."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mistvla.harness.errors import ConfigError


def _cmd_fit(args: argparse.Namespace) -> int:
    from mistvla.harness.steering.data import load_fit_data
    from mistvla.harness.steering.fit import fit_directions, steering_method

    if args.frames:
        data = _frames_fit_data(args)
    elif steering_method(args.method).needs_frames:
        raise ConfigError(
            f"--frames: the {args.method} method is fitted from demonstration frames through the policy"
        )
    else:
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


def _frames_fit_data(args: argparse.Namespace) -> Any:
    """Hidden states, actions and Jacobians of demonstration frames through the policy (``--frames``)."""
    from mistvla.harness.steering.check import frames_samples
    from mistvla.harness.steering.jacobian import jacobian_fit_data

    if not args.point:
        raise ConfigError("--point: required with --frames (e.g. llm.blocks.2.resid_post)")
    policy = _policy(args)
    samples = frames_samples(args.frames, args.max_rows or 400, args.split)
    data = jacobian_fit_data(policy, samples, args.point, args.position or "last_prompt")
    data.source.update(paths=list(args.frames), split=args.split, policy=args.policy, params=args.params)
    return data


def _policy(args: argparse.Namespace) -> Any:
    import yaml

    from mistvla.policies.registry import make_policy

    params: dict[str, Any] = yaml.safe_load(args.params) if args.params else {}
    return make_policy(args.policy, **params)


def _alphas(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--alphas: expected comma-separated numbers, got {text!r}") from None
    if not values or sorted(values) != values or values[0] <= 0:
        raise ConfigError(f"--alphas: need increasing positive strengths, got {text!r}")
    return values


def _cmd_check(args: argparse.Namespace) -> int:
    from mistvla.harness.steering.check import dose_response, frames_samples, write_check

    policy = _policy(args)
    samples = frames_samples(args.frames, args.max_frames, args.split)
    fractions = _alphas(args.fractions) if args.fractions else None
    result = dose_response(policy, samples, args.steering, _alphas(args.alphas), fractions)
    summary = write_check(result, args.out, args.ratio, title=str(args.steering), tolerance=args.tolerance)
    sig = summary["signed"]
    print(
        f"{summary['n_pass']}/6 dimensions pass (signed, spread-normalised, ratio {args.ratio}; "
        f"the first check: {summary['old_check']['n_pass']}/6); written: {args.out}"
    )
    for d, ok in enumerate(summary["passes"]):
        row = " ".join(f"{x:+.4f}" for x in sig["intended"][d])
        print(
            f"  dim {d}: intended/spread {row}  off {sig['off_target'][d][sig['peak'][d]]:.4f}  "
            f"ratio {sig['ratio'][d]:.2f}  flips {sig['flips'][d][sig['peak'][d]]:.3f}  {'pass' if ok else 'FAIL'}"
        )
    if "magnitude" in summary:
        mag = summary["magnitude"]
        print(f"  proportional (|a_d| target, fractions {mag['fractions']}): {mag['n_pass']}/6 pass")
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
        "dataset", nargs="*", help="a risk dataset directory, or run directories with hidden states"
    )
    p.add_argument("--point", default=None, help="hook point (default: the risk dataset's)")
    p.add_argument(
        "--position", default=None, help="captured position (default: last_prompt / the dataset's)"
    )
    p.add_argument(
        "--method",
        default="contrastive",
        help="contrastive, probe, generic, random, jacobian, jacobian_online",
    )
    p.add_argument("--target", default="magnitude", help="magnitude, signed or label (see docs/mist.md)")
    p.add_argument("--quantile", type=float, default=0.2, help="bottom/top fraction of rows (not for label)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-rows", type=int, default=None, help="subsample this many rows (seeded)")
    p.add_argument(
        "--steer-positions",
        default=None,
        help="positions the vectors are added at (default: where the action reads)",
    )
    p.add_argument(
        "--frames", nargs="*", default=None, help="fit from demonstration frames through the policy"
    )
    p.add_argument("--policy", default="reference")
    p.add_argument("--params", help="policy params as YAML (with --frames)")
    p.add_argument(
        "--split", choices=["val", "train", "all"], default="train", help="frames split (with --frames)"
    )
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
    p.add_argument(
        "--ratio", type=float, default=2.0, help="intended effect / largest off-target (normalised)"
    )
    p.add_argument("--tolerance", type=float, default=0.25, help="allowed fall below the running peak")
    p.add_argument("--fractions", default="0.25,0.5,0.75", help="proportional run fractions (empty: skip)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_check)
    p = ssub.add_parser("ablate", help="run (or resume) an ablation file and write Table 2")
    p.add_argument("config", help="ablation YAML, e.g. experiments/mist_ablations.yaml")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_ablate)
