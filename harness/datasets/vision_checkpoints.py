"""Checkpoints of the scratch SmolVLA between training stages and sessions: ship one, start from one.

A training run's directories (``runs/vision/<name>``) do not outlive the machine; a shipped checkpoint
(``experiments/artifacts/vision/...``) does. :func:`ship` copies what evaluating and continuing need,
``policy/`` (LeRobot's pretrained dir, processors and their normalisation statistics included) and
``vlm/`` (the SmolVLM config, processor and tokenizer), plus ``scratch_spec.json`` and
``training.json`` (the steps behind it, stage by stage). The optimiser state is left out: it is three
times the model, and a next stage starts it afresh. :func:`copy_checkpoint` makes a shipped checkpoint
the initial weights of a new stage (``init_from`` in the training config) after checking that it is
the model the spec describes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mistvla.harness.errors import ConfigError

SPEC_FILE = "scratch_spec.json"
RECORD_FILE = "training.json"
TRAINING_ONLY = ("train_config.json",)
"""Files of a training run's ``pretrained_model`` that only ``lerobot-train --resume`` reads."""


def _model_fields(spec: dict[str, Any]) -> dict[str, Any]:
    from mistvla.policies.smolvla.scratch import MODEL_FIELDS

    return {k: spec.get(k) for k in MODEL_FIELDS}


def copy_checkpoint(src: Path, dst: Path, spec: Any) -> Path:
    """``src`` (a shipped checkpoint) as the initial checkpoint ``dst`` of a new stage with ``spec``."""
    for part in ("policy/model.safetensors", "vlm/config.json", SPEC_FILE):
        if not (src / part).exists():
            raise ConfigError(
                f"init_from: {src} has no {part}; pass a directory written by `train-vision --ship`"
            )
    shipped = _model_fields(json.loads((src / SPEC_FILE).read_text()))
    wanted = _model_fields(asdict(spec))
    differ = sorted(k for k in wanted if shipped[k] != wanted[k])
    if differ:
        raise ConfigError(
            f"init_from: {src} is another model ({', '.join(f'{k}={shipped[k]}' for k in differ)})"
        )
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src / "vlm", dst / "vlm")
    shutil.copytree(src / "policy", dst / "policy")
    _point_at_vlm(dst / "policy", (dst / "vlm").resolve())
    (dst / SPEC_FILE).write_text(json.dumps(asdict(spec), indent=1))
    shutil.copy2(src / RECORD_FILE, dst / RECORD_FILE) if (src / RECORD_FILE).exists() else None
    return dst


def _point_at_vlm(policy_dir: Path, vlm_dir: str | Path) -> None:
    config_file = policy_dir / "config.json"
    config = json.loads(config_file.read_text())
    config["vlm_model_name"] = str(vlm_dir)
    config_file.write_text(json.dumps(config, indent=4))


def trained_steps(run_root: Path) -> int:
    """Steps of the training run's last checkpoint (LeRobot's ``training_step.json``)."""
    step_file = run_root / "train" / "checkpoints" / "last" / "training_state" / "training_step.json"
    if not step_file.exists():
        raise ConfigError(f"ship: {run_root} has no checkpoint yet (no {step_file})")
    return int(json.loads(step_file.read_text())["step"])


def ship(run_root: Path, dst: Path, stage: dict[str, Any]) -> Path:
    """Copy the run's last checkpoint to ``dst`` (``policy/``, ``vlm/``, spec, record); returns ``dst``.

    ``stage`` describes this run (config name, demonstrations, spec); the record keeps the stages of the
    checkpoint it started from before it.
    """
    last = run_root / "train" / "checkpoints" / "last" / "pretrained_model"
    steps = trained_steps(run_root)
    init = run_root / "init"
    earlier = json.loads((init / RECORD_FILE).read_text())["stages"] if (init / RECORD_FILE).exists() else []
    tmp = dst.with_name(dst.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(last, tmp / "policy", ignore=shutil.ignore_patterns(*TRAINING_ONLY))
    shutil.copytree(init / "vlm", tmp / "vlm")
    shutil.copy2(init / SPEC_FILE, tmp / SPEC_FILE)
    _point_at_vlm(tmp / "policy", "vlm")  # no path of this machine: the adapter is given <dst>/vlm
    stages = [*earlier, {**stage, "steps": steps}]
    record = {"stages": stages, "total_steps": sum(int(s["steps"]) for s in stages)}
    (tmp / RECORD_FILE).write_text(json.dumps(record, indent=1))
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return dst
