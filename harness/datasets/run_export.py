"""Export a run directory's episodes as a LeRobot dataset (``mistvla export RUN_DIR``).

The same layout as the demonstrations (:mod:`~mistvla.harness.datasets.lerobot_export`),
so a dataset of OpenVLA, SmolVLA or reference-policy rollouts trains the reference
policy, feeds ``analyze-actions`` and reads back with ``LeRobotDataset(repo_id, root=...)``:

- ``observation.state``: the step table's ``state`` (schema 3);
- ``observation.environment_state``: its ``environment_state`` (only when every exported
  episode had privileged observations; the suite's object slots in ``meta/mistvla.json``);
- ``action``: what the policy proposed (``raw_action``); ``executed_action``: what ran
  after any intervention;
- per episode in ``meta/mistvla.json``: the full identity (policy, intervention, task,
  init state, seed, perturbation), success, termination and the source run.

Camera images are not in the step table (videos are per episode, optional); export state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.errors import ConfigError


@dataclass(frozen=True)
class ExportSelection:
    """Which episodes of the run to export."""

    interventions: tuple[str, ...] | None = None
    """Only these interventions (None: all)."""
    successes_only: bool = False
    clean_only: bool = False
    """Only episodes without an env perturbation."""
    val_init_states: tuple[int, ...] = ()
    """Init states marked ``val`` in the split (the rest ``train``)."""

    def keeps(self, rec: dict[str, Any]) -> bool:
        if self.interventions is not None and rec["intervention"] not in self.interventions:
            return False
        if self.successes_only and not rec["success"]:
            return False
        from mistvla.harness.results.identity import EpisodeId

        return not self.clean_only or EpisodeId.from_record(rec).is_clean


def export_run(
    run_dir: str | Path,
    out: str | Path,
    selection: ExportSelection = ExportSelection(),
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write the selected episodes of ``run_dir`` to a LeRobot dataset at ``out``; returns its root."""
    from tqdm import tqdm

    from mistvla.harness.datasets.lerobot_export import DemoWriter
    from mistvla.harness.envs.tasks import get_task, suite_object_names
    from mistvla.harness.results.identity import EpisodeId
    from mistvla.harness.results.store import ResultsStore

    store = ResultsStore.read(run_dir)
    episodes = [r for r in store.episodes().to_pylist() if selection.keeps(r)]
    if not episodes:
        raise ConfigError(f"run_dir: no complete episode of {run_dir} matches the selection")
    suites = sorted({r["suite"] for r in episodes})
    if len(suites) > 1:
        raise ConfigError(f"run_dir: episodes of several suites {suites}; export one suite at a time")
    steps = _steps_by_episode(store, [r["episode_key"] for r in episodes], run_dir)
    privileged = all(steps[r["episode_key"]]["environment_state"] is not None for r in episodes)
    names = list(suite_object_names(suites[0])) if privileged else []
    writer = DemoWriter(out, f"mistvla/{Path(run_dir).name}", names, overwrite=overwrite)
    for rec in tqdm(episodes, desc="export", disable=not progress):
        cols = steps[rec["episode_key"]]
        frames = {
            "observation.state": cols["state"],
            "action": cols["raw_action"],
            "executed_action": cols["executed_action"],
        }
        if privileged:
            frames["observation.environment_state"] = cols["environment_state"]
        ident = EpisodeId.from_record(rec)
        record = {
            **{k: rec[k] for k in ("policy", "intervention", "suite", "task", "success", "termination_reason")},
            "task_in_suite": rec["task_index"], "init_state": rec["init_state"], "seed": rec["seed"],
            "repeat": rec["repeat"], "episode_seed": ident.episode_seed,
            "perturbation": {"label": rec["perturbation"], "level": rec["perturbation_level"]},
            "split": "val" if rec["init_state"] in selection.val_init_states else "train",
            "source_episode_key": rec["episode_key"],
        }  # fmt: skip
        writer.add_episode(frames, get_task(rec["suite"], rec["task_index"]).instruction, record)
    inits = sorted({r["init_state"] for r in episodes})
    meta = {
        "suite": suites[0],
        "source_run": {"run_dir": str(run_dir), "run_id": store.run_id},
        "split": {
            "by": "init_state",
            "train": [k for k in inits if k not in selection.val_init_states],
            "val": [k for k in inits if k in selection.val_init_states],
        },
        "label": "the policy's proposed action (raw_action); executed_action after any intervention",
        "selection": {
            "interventions": selection.interventions,
            "successes_only": selection.successes_only,
            "clean_only": selection.clean_only,
        },
    }
    return writer.finalize(meta)


def _steps_by_episode(store: Any, keys: Sequence[str], run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Per episode key: float32 arrays of the exported step columns (``environment_state`` may be None)."""
    table = store.steps(keys).to_pydict()
    by_key: dict[str, dict[str, list[Any]]] = {}
    for i, key in enumerate(table["episode_key"]):
        cols = by_key.setdefault(
            key, {c: [] for c in ("state", "environment_state", "raw_action", "executed_action")}
        )
        for c in cols:
            cols[c].append(table[c][i])
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        cols = by_key.get(key)
        if cols is None or any(s is None for s in cols["state"]):
            raise ConfigError(
                f"run_dir: episode {key} of {run_dir} has no per-step 'state' (recorded since results "
                "schema 3); re-run it with this version to export it"
            )
        env = cols["environment_state"]
        out[key] = {
            "state": np.asarray(cols["state"], dtype=np.float32),
            "environment_state": None if any(e is None for e in env) else np.asarray(env, dtype=np.float32),
            "raw_action": np.asarray(cols["raw_action"], dtype=np.float32),
            "executed_action": np.asarray(cols["executed_action"], dtype=np.float32),
        }
    return out
