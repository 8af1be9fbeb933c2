"""Dataset over synthetic run dirs, validation refusals, episode/task splits, training checks, evaluation beside shortcuts."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.errors import LabelError, TrainingError
from mistvla.harness.risk.learned.dataset import RiskDataset, build_dataset
from mistvla.harness.risk.learned.labels import LabelSpec
from mistvla.harness.risk.learned.splits import SplitConfig, check_disjoint, make_split
from mistvla.harness.risk.learned.synthetic import write_synthetic_run
from mistvla.harness.risk.learned.train import TrainConfig, episode_ids, train
from mistvla.harness.risk.learned.validation import check_trainable, validate_labels

POINT, POS = "llm.blocks.1.resid_post", "last_prompt"
SPEC = LabelSpec(horizons=(5, 10), types=("any", "collision"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("risk")
    run = write_synthetic_run(root / "run", n_episodes=48, n_steps=50, hidden_size=16, signal=4.0, n_tasks=4)
    return build_dataset([run], POINT, POS, root / "ds", SPEC)


def test_dataset_is_memory_mapped_and_labels_agree_with_outcomes(dataset):
    ds = RiskDataset(dataset.root)
    assert len(ds) == ds.y.shape[0] and ds.meta["models"]["synthetic"]["hidden_size"] == 16
    x = ds.features(np.array([5, 0, 3]))
    assert x.shape == (3, 16) and x.dtype == np.float32
    assert isinstance(ds._load(0, str(ds.column("episode_key")[0])), np.memmap)
    assert ds.meta["validation"]["problems"] == []
    agree = {e["type"]: (e["with_event"], e["labelled"]) for e in ds.meta["validation"]["episodes"]}
    assert agree["collision"][0] == agree["collision"][1] > 0


def test_zero_labels_and_outcome_disagreement_refuse_training(dataset):
    ds = dataset
    zeros = np.zeros_like(ds.y)
    report = validate_labels(ds.index, zeros, ds.spec)
    with pytest.raises(LabelError, match="disagree"):  # failed episodes with an event, none labelled
        check_trainable(report)
    report.problems.clear()
    with pytest.raises(LabelError, match="has 0 positives"):
        check_trainable(report, min_positives=1)


@pytest.mark.parametrize("by", ["episode", "task", "init_state"])
def test_splits_never_share_an_episode_or_a_held_out_task(dataset, by):
    ep = episode_ids(dataset)
    task, init = dataset.column("task_index"), dataset.column("init_state")
    split = make_split(ep, task, init, SplitConfig(by=by))
    check_disjoint(split, ep, task, by)
    for e in np.unique(ep):
        assert len(set(split[ep == e].tolist())) == 1
    if by == "task":
        assert not set(task[split == "test"]) & set(task[split != "test"])
    leaky = split.copy()
    leaky[np.flatnonzero(ep == ep[0])[0]] = "test" if split[0] != "test" else "train"
    with pytest.raises(AssertionError, match="split leak"):
        check_disjoint(leaky, ep, task, by)


def test_train_and_evaluate_beside_shortcuts(dataset, tmp_path):
    from mistvla.harness.risk.learned.evaluate import EvalConfig, evaluate

    cfg = TrainConfig(epochs=8, hidden=32, lr=3e-3, min_positives=5, split=SplitConfig(by="episode"))
    meta = train(dataset, tmp_path / "ckpt", cfg, log=lambda *_: None)
    assert set(meta["split"]) == {"train", "val", "calib", "test"}
    assert meta["feature"] == {
        "point": POINT,
        "position": POS,
        "model": "synthetic",
        "hidden_size": 16,
        "context": {"steps": 1, "stride": 1},
    }
    assert len(meta["history"]) >= 1 and meta["labels"]["horizons"] == [5, 10]
    res = evaluate(tmp_path / "ckpt", cfg=EvalConfig(resamples=30))
    methods = {r["method"] for r in res["step"]}
    assert methods == {"learned", "timestep", "task", "action_magnitude", "proprio", "oracle"}
    learned = next(
        r for r in res["step"] if r["method"] == "learned" and r["type"] == "any" and r["horizon"] == 10
    )
    assert learned["auc"] > 0.75 and "gain_vs_best_shortcut" in learned
    assert (tmp_path / "ckpt" / "eval" / "tables_synthetic.md").exists()
    for r in res["per_dim"]:  # every per-dimension AUC comes with its episode-bootstrap interval
        lo, hi = r["learned_auc_ci"]
        assert not np.isfinite(r["learned_auc"]) or lo <= r["learned_auc"] <= hi


def test_constant_features_are_a_training_error(tmp_path):
    run = write_synthetic_run(tmp_path / "run", n_episodes=24, n_steps=40, hidden_size=8, signal=0.0)
    ds = build_dataset([run], POINT, POS, tmp_path / "ds", SPEC)
    for key in np.unique(ds.column("episode_key")):
        path = tmp_path / "run" / "hidden" / str(key) / f"{POINT}__{POS}.npy"
        np.save(path, np.zeros_like(np.load(path)))
    with pytest.raises(TrainingError, match="constant predictor"):
        train(
            RiskDataset(ds.root),
            tmp_path / "ckpt",
            TrainConfig(epochs=2, hidden=8, min_positives=1, dropout=0.0),
            log=lambda *_: None,
        )
