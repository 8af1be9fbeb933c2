"""Resumable `mistvla demos`: an interrupted collection continues where it stopped (real simulator)."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.datasets.demo_shards import collect as collect_demos
from mistvla.harness.datasets.demo_shards import dataset_roots, progress, shard_path
from mistvla.harness.datasets.demos import DemoConfig
from mistvla.harness.datasets.lerobot_export import META_FILE, read_meta
from mistvla.harness.errors import ConfigError


def _cfg(root, **kw) -> DemoConfig:
    base = dict(
        name="tiny", tasks=[0], train_init_states=[0, 1], val_init_states=[2], max_steps=6, keep_failures=True,
        cameras=["agentview"], image_size=16, shard_episodes=2, output_dir=str(root),
    )  # fmt: skip
    return DemoConfig(**{**base, **kw})


def _frames(path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset("mistvla/tiny", root=path)
    hf = ds.hf_dataset.with_format("numpy")
    return np.asarray(hf["action"]), np.stack([np.asarray(x) for x in hf["observation.images.image"]])


@pytest.mark.slow
@pytest.mark.render
def test_interrupted_collection_resumes_without_loss_or_duplicates(tmp_path):
    root = tmp_path / "ds"
    collect_demos(_cfg(root, max_episodes=1), progress_bar=False)  # stopped inside shard 0
    assert not read_meta(shard_path(root, 0))["shard"]["complete"]
    assert dataset_roots(root) == [] and progress(root)["shards"] == 0

    collect_demos(_cfg(root), progress_bar=False)  # the same command continues
    roots = dataset_roots(root)
    assert roots == [shard_path(root, 0), shard_path(root, 1)]
    records = [(e["init_state"], e["split"]) for r in roots for e in read_meta(r)["episodes"]]
    assert records == [(0, "train"), (1, "train"), (2, "val")]  # each episode once, in order
    assert progress(root) == {"shards": 2, "tried": 3, "kept": 3}
    before = _frames(shard_path(root, 1))

    (shard_path(root, 1) / META_FILE).unlink()  # as if killed while writing shard 1
    collect_demos(_cfg(root), progress_bar=False)
    after = _frames(shard_path(root, 1))
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))  # deterministic redo
    assert after[1].shape[1:] == (16, 16, 3)

    with pytest.raises(ConfigError, match="action_noise"):
        collect_demos(_cfg(root, action_noise=0.2), progress_bar=False)


@pytest.mark.parametrize("field", ["shard_episodes", "max_envs"])
def test_counts_must_be_positive(field):
    with pytest.raises(ConfigError, match=field):
        DemoConfig(name="x", **{field: 0})
