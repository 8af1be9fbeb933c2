"""Export a run directory's episodes as a LeRobot dataset (``mistvla export RUN_DIR``).

The same layout as the demonstrations (:mod:`~mistvla.harness.datasets.lerobot_export`),
so a dataset of OpenVLA, SmolVLA or reference-policy rollouts trains the reference
policy, feeds ``analyze-actions`` and reads back with ``LeRobotDataset(repo_id, root=...)``:

- ``observation.state``: the step table's ``state`` (schema 3); under the default ``lerobot``
  convention (:mod:`~mistvla.harness.envs.conventions`) its axis-angle recomputed from the
  recorded ``eef_quat`` with LeRobot's LIBERO formula, ``--convention mistvla`` keeps it as recorded;
- ``observation.environment_state``: its ``environment_state`` (only when every exported
  episode had privileged observations; the suite's object slots in ``meta/mistvla.json``);
- ``action``: what the policy proposed (``raw_action``); ``executed_action``: what ran
  after any intervention;
- per episode in ``meta/mistvla.json``: the full identity (policy, intervention, task,
  init state, seed, perturbation), success, termination and the source run.

One intervention and one env condition per dataset unless ``ExportSelection.mix`` (``--all``);
training episodes first, so the split is also LeRobot's ``meta/info.json`` ``splits``.

Camera images are not in the step table (videos are per episode, optional); export state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.envs.conventions import DEFAULT_CONVENTION, check_convention, lerobot_axis_angle
from mistvla.harness.errors import ConfigError


@dataclass(frozen=True)
class ExportSelection:
    """Which episodes of the run to export."""

    interventions: tuple[str, ...] | None = None
    """Only these interventions (None: all)."""
    successes_only: bool = False
    clean_only: bool = False
    """Only episodes without an env perturbation."""
    perturbations: tuple[str, ...] | None = None
    """Only these env conditions, each ``LABEL`` (any level) or ``LABEL:LEVEL``; ``none``: clean."""
    val_init_states: tuple[int, ...] = ()
    """Init states marked ``val`` in the split (the rest ``train``)."""
    mix: bool = False
    """Allow several interventions or perturbation conditions in one dataset (``--all``)."""

    def keeps(self, rec: dict[str, Any]) -> bool:
        if self.interventions is not None and rec["intervention"] not in self.interventions:
            return False
        if self.successes_only and not rec["success"]:
            return False
        from mistvla.harness.results.identity import EpisodeId

        ident = EpisodeId.from_record(rec)
        if self.perturbations is not None and not any(
            _condition_matches(c, ident) for c in self.perturbations
        ):
            return False
        return not self.clean_only or ident.is_clean

    def check_unmixed(self, episodes: Sequence[dict[str, Any]]) -> None:
        """A one-line ``ConfigError`` when ``episodes`` mix interventions or env conditions (unless ``mix``)."""
        from mistvla.harness.results.identity import EpisodeId

        if self.mix:
            return
        interventions = sorted({r["intervention"] for r in episodes})
        conditions = sorted({_condition_name(EpisodeId.from_record(r)) for r in episodes})
        mixed = []
        if len(interventions) > 1:
            mixed.append(f"interventions {interventions} (select with --intervention NAME)")
        if len(conditions) > 1:
            mixed.append(f"perturbation conditions {conditions} (select with --perturbation LABEL[:LEVEL])")
        if mixed:
            raise ConfigError(
                f"run_dir: the selection mixes {' and '.join(mixed)}; or pass --all to export them together"
            )


def _condition_name(ident: Any) -> str:
    label, level = ident.condition
    return "none" if ident.is_clean else f"{label}:{level}"


def _condition_matches(wanted: str, ident: Any) -> bool:
    """``LABEL`` matches every level of that label; ``LABEL:LEVEL`` one; ``none``: clean episodes."""
    if wanted == "none":
        return bool(ident.is_clean)
    name = _condition_name(ident)
    return name == wanted or (":" not in wanted and name.split(":")[0] == wanted)


def export_run(
    run_dir: str | Path,
    out: str | Path,
    selection: ExportSelection = ExportSelection(),
    overwrite: bool = False,
    progress: bool = True,
    convention: str = DEFAULT_CONVENTION,
) -> Path:
    """Write the selected episodes of ``run_dir`` to a LeRobot dataset at ``out``; returns its root.

    Training episodes come first, then the ``val`` ones (each group in run order), so the split
    is two episode ranges in ``meta/info.json``'s ``splits`` as well as in ``meta/mistvla.json``.
    """
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
    selection.check_unmixed(episodes)
    check_convention(convention)
    episodes.sort(key=lambda r: r["init_state"] in selection.val_init_states)  # stable: train, then val
    steps = _steps_by_episode(store, [r["episode_key"] for r in episodes], run_dir)
    no_quat = [k for k, c in steps.items() if c["eef_quat"] is None]
    if convention == "lerobot" and no_quat:
        raise ConfigError(
            f"run_dir: episode {no_quat[0]} has steps without 'eef_quat', which LeRobot's axis-angle "
            "is computed from; export it with --convention mistvla"
        )
    privileged = all(steps[r["episode_key"]]["environment_state"] is not None for r in episodes)
    names = list(suite_object_names(suites[0])) if privileged else []
    writer = DemoWriter(
        out, f"mistvla/{Path(run_dir).name}", names, overwrite=overwrite, convention=convention
    )
    for rec in tqdm(episodes, desc="export", disable=not progress):
        cols = steps[rec["episode_key"]]
        frames = {
            "observation.state": _convention_states(cols, convention),
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
            "perturbations": selection.perturbations,
            "all": selection.mix,
        },
    }
    return writer.finalize(meta)


def _steps_by_episode(store: Any, keys: Sequence[str], run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Per episode key: float32 arrays of the exported step columns (``environment_state`` may be None)."""
    table = store.steps(keys).to_pydict()
    by_key: dict[str, dict[str, list[Any]]] = {}
    for i, key in enumerate(table["episode_key"]):
        cols = by_key.setdefault(
            key, {c: [] for c in ("state", "eef_quat", "environment_state", "raw_action", "executed_action")}
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
            "eef_quat": None
            if any(q is None for q in cols["eef_quat"])
            else np.asarray(cols["eef_quat"], dtype=np.float32),
            "environment_state": None if any(e is None for e in env) else np.asarray(env, dtype=np.float32),
            "raw_action": np.asarray(cols["raw_action"], dtype=np.float32),
            "executed_action": np.asarray(cols["executed_action"], dtype=np.float32),
        }
    return out


def _convention_states(cols: dict[str, Any], convention: str) -> np.ndarray:
    """(T, 8) ``observation.state``: the recorded ``state`` (``mistvla``) or, for ``lerobot``, its
    axis-angle recomputed from the recorded ``eef_quat`` with LeRobot's formula."""
    state = cols["state"]
    if convention == "mistvla":
        return state
    return np.concatenate([state[:, :3], lerobot_axis_angle(cols["eef_quat"]), state[:, 6:8]], axis=1)
