"""Write demonstration episodes as a LeRobot dataset with LeRobot's own API.

Per frame: ``observation.state`` and ``observation.environment_state`` (see
:mod:`~mistvla.harness.envs.vectors`), optional ``observation.images.<camera>``,
``action`` (the label: for DART-style demonstrations the expert's clean
action), ``executed_action`` (what was sent to the env), and the episode's
``init_state``, ``episode_seed`` and ``task_in_suite``. Per dataset,
``meta/mistvla.json`` holds what LeRobot's metadata has no field for: suite,
object layout, the train/held-out split by init state and one record per
episode (task, init state, seed, perturbation, success).

Read back with ``LeRobotDataset(repo_id, root=root)`` (offline).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.envs.vectors import ACTION_NAMES, STATE_NAMES, environment_names
from mistvla.harness.errors import ConfigError

META_FILE = "meta/mistvla.json"


def demo_features(object_names: Sequence[str], cameras: Sequence[str], image_size: int) -> dict[str, Any]:
    """The LeRobot feature specification of a demonstration dataset (no
    ``observation.environment_state`` when ``object_names`` is empty)."""
    feats: dict[str, Any] = {
        "observation.state": {"dtype": "float32", "shape": (len(STATE_NAMES),), "names": list(STATE_NAMES)},
        "action": {"dtype": "float32", "shape": (7,), "names": list(ACTION_NAMES)},
        "executed_action": {"dtype": "float32", "shape": (7,), "names": list(ACTION_NAMES)},
        "init_state": {"dtype": "int64", "shape": (1,), "names": None},
        "episode_seed": {"dtype": "int64", "shape": (1,), "names": None},
        "task_in_suite": {"dtype": "int64", "shape": (1,), "names": None},
    }
    if object_names:
        feats["observation.environment_state"] = {
            "dtype": "float32",
            "shape": (7 * len(object_names),),
            "names": environment_names(object_names),
        }
    for cam in cameras:
        feats[f"observation.images.{cam}"] = {
            "dtype": "image",
            "shape": (image_size, image_size, 3),
            "names": ["height", "width", "channel"],
        }
    return feats


class DemoWriter:
    """``add_episode`` per episode, then ``finalize`` (writes ``meta/mistvla.json``)."""

    def __init__(
        self,
        root: str | Path,
        repo_id: str,
        object_names: Sequence[str],
        cameras: Sequence[str] = (),
        image_size: int = 128,
        fps: int = 20,
        overwrite: bool = False,
    ) -> None:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        self.root = Path(root)
        if self.root.exists():
            if not overwrite:
                raise ConfigError(f"output_dir: {self.root} exists (delete it or pass overwrite)")
            shutil.rmtree(self.root)
        self.object_names, self.cameras = list(object_names), list(cameras)
        self.dataset = LeRobotDataset.create(
            repo_id=repo_id,
            fps=fps,
            features=demo_features(object_names, cameras, image_size),
            root=self.root,
            robot_type="panda",
            use_videos=False,
        )
        self.episodes: list[dict[str, Any]] = []

    def add_episode(self, frames: dict[str, np.ndarray], instruction: str, record: dict[str, Any]) -> int:
        """Write one episode (``frames``: per-feature arrays, first axis time); returns its index."""
        n = len(frames["action"])
        for t in range(n):
            frame = {k: np.asarray(v[t]) for k, v in frames.items()}
            for k in ("init_state", "episode_seed", "task_in_suite"):
                frame[k] = np.asarray([record[k]], dtype=np.int64)
            frame["task"] = instruction
            self.dataset.add_frame(frame)
        self.dataset.save_episode()
        index = len(self.episodes)
        self.episodes.append({"episode_index": index, "length": n, "instruction": instruction, **record})
        return index

    def finalize(self, meta: dict[str, Any]) -> Path:
        """Close LeRobot's writers and write the mistvla metadata next to LeRobot's."""
        self.dataset.finalize()
        out = {**meta, "object_names": self.object_names, "cameras": self.cameras, "episodes": self.episodes}
        path = self.root / META_FILE
        path.write_text(json.dumps(out, indent=1, default=_jsonable))
        return self.root


def _jsonable(o: Any) -> Any:
    return np.asarray(o).tolist()


def read_meta(root: str | Path) -> dict[str, Any]:
    """The mistvla metadata of a dataset written by :class:`DemoWriter` (``{}`` for other datasets)."""
    path = Path(root) / META_FILE
    return json.loads(path.read_text()) if path.exists() else {}
