"""``mistvla risk dataset|train|eval``: the sub-parser and the functions it calls.

``--set key=value`` (YAML values) sets fields of the label spec (dataset), the
training config (train; ``split.by=task``) or the evaluation config (eval).
"""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from mistvla.harness.errors import ConfigError


def _overrides(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        key, value = pair.split("=", 1)
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return out


def _make(cls: type, values: dict[str, Any], where: str) -> Any:
    try:
        return cls(**values)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from None


def _cmd_dataset(args: argparse.Namespace) -> int:
    from mistvla.harness.risk.learned.dataset import build_dataset
    from mistvla.harness.risk.learned.labels import LabelSpec

    spec = _make(LabelSpec, _overrides(args.set), "labels")
    ds = build_dataset(args.run_dirs, args.point, args.position, args.out, spec)
    print((ds.root / "validation.txt").read_text())
    print(f"dataset: {ds.root} ({len(ds)} steps; models {ds.meta['models']})")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from mistvla.harness.risk.learned.train import TrainConfig, train

    train(args.dataset, args.out, _make(TrainConfig, _overrides(args.set), "train"))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from mistvla.harness.risk.learned.evaluate import EvalConfig, evaluate, format_tables

    res = evaluate(args.checkpoint, args.dataset, _make(EvalConfig, _overrides(args.set), "eval"))
    print(format_tables(res))
    return 0


def add_risk_parser(sub: Any) -> None:
    """Add ``risk`` with its ``dataset``, ``train`` and ``eval`` commands to ``mistvla``'s sub-parsers."""
    risk = sub.add_parser("risk", help="learned risk predictor: build a dataset, train, evaluate")
    rsub = risk.add_subparsers(dest="risk_command", required=True)
    p = rsub.add_parser("dataset", help="label and index the steps of run directories at one hook point")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--point", required=True, help="hook point, e.g. llm.blocks.16.resid_post")
    p.add_argument("--position", default="last_prompt")
    p.add_argument("--out", required=True, help="dataset directory")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="label spec field, e.g. horizons=[5,10]"
    )
    p.set_defaults(func=_cmd_dataset)
    p = rsub.add_parser("train", help="train the dual-head predictor (label validation first)")
    p.add_argument("dataset")
    p.add_argument("--out", required=True, help="checkpoint directory")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="e.g. epochs=20, split.by=task")
    p.set_defaults(func=_cmd_train)
    p = rsub.add_parser("eval", help="metrics of a checkpoint beside every shortcut baseline")
    p.add_argument("checkpoint")
    p.add_argument("--dataset", default=None, help="default: the checkpoint's dataset")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="e.g. threshold=conformal, model=B")
    p.set_defaults(func=_cmd_eval)
