"""Write demonstration episodes as a LeRobot dataset with LeRobot's own API.

Per frame: ``observation.state`` and optional camera frames in the dataset's convention
(:mod:`~mistvla.harness.envs.conventions`; ``lerobot``: LeRobot's LIBERO state formula and
``observation.images.image`` / ``image2`` rotated 180 degrees), ``observation.environment_state``
(see :mod:`~mistvla.harness.envs.vectors`),
``action`` (the label: for DART-style demonstrations the expert's clean
action), ``executed_action`` (what was sent to the env), and the episode's
``init_state``, ``episode_seed`` and ``task_in_suite``. Per dataset,
``meta/mistvla.json`` holds what LeRobot's metadata has no field for: suite,
object layout, the convention, the train/held-out split by init state (also as episode
lists) and one record per episode (task, init state, seed, perturbation, success). The split
is also in ``meta/info.json``'s ``splits`` (``{"train": "0:N", "val": "N:M"}``, LeRobot's
own field and format): episodes must be added train first, then val.

Read back with ``LeRobotDataset(repo_id, root=root)`` (offline).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.envs.conventions import DEFAULT_CONVENTION, check_convention, image_key
from mistvla.harness.envs.vectors import ACTION_NAMES, STATE_NAMES, environment_names
from mistvla.harness.errors import ConfigError

META_FILE = "meta/mistvla.json"


def demo_features(
    object_names: Sequence[str],
    cameras: Sequence[str],
    image_size: int,
    convention: str = DEFAULT_CONVENTION,
) -> dict[str, Any]:
    """The LeRobot feature specification of a demonstration dataset (no
    ``observation.environment_state`` when ``object_names`` is empty).

    >>> sorted(k for k in demo_features([], ["agentview"], 8) if "images" in k)
    ['observation.images.image']
    """
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
        feats[image_key(cam, convention)] = {
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
        convention: str = DEFAULT_CONVENTION,
    ) -> None:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        self.root = Path(root)
        self.convention = check_convention(convention)
        if self.root.exists():
            if not overwrite:
                raise ConfigError(f"output_dir: {self.root} exists (delete it or pass overwrite)")
            shutil.rmtree(self.root)
        self.object_names, self.cameras = list(object_names), list(cameras)
        self.dataset = LeRobotDataset.create(
            repo_id=repo_id,
            fps=fps,
            features=demo_features(object_names, cameras, image_size, convention),
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
        split_episodes = self._write_info_splits()
        out = {
            **meta, "convention": self.convention, "object_names": self.object_names, "cameras": self.cameras,
            "split_episodes": split_episodes, "episodes": self.episodes,
        }  # fmt: skip
        path = self.root / META_FILE
        path.write_text(json.dumps(out, indent=1, default=_jsonable))
        return self.root

    def _write_info_splits(self) -> dict[str, list[int]]:
        """LeRobot's ``splits`` in ``meta/info.json`` from the episodes' ``split`` (train, then val)."""
        names = [e.get("split", "train") for e in self.episodes]
        n_train = names.count("train")
        if names != ["train"] * n_train + ["val"] * (len(names) - n_train):
            raise ValueError(f"episodes must be added train first, then val; got splits {names}")
        splits = {"train": f"0:{n_train}"}
        if n_train < len(names):
            splits["val"] = f"{n_train}:{len(names)}"
        path = self.root / "meta/info.json"
        info = json.loads(path.read_text())
        info["splits"] = splits
        path.write_text(json.dumps(info, indent=4, ensure_ascii=False))
        return {"train": list(range(n_train)), "val": list(range(n_train, len(names)))}


def _jsonable(o: Any) -> Any:
    return np.asarray(o).tolist()


def read_meta(root: str | Path) -> dict[str, Any]:
    """The mistvla metadata of a dataset written by :class:`DemoWriter` (``{}`` for other datasets)."""
    path = Path(root) / META_FILE
    return json.loads(path.read_text()) if path.exists() else {}
