"""Temporal context: the in-loop source stacks the same rows the offline dataset stacks, and the detector's
trigger counts and per-condition false triggers come from the calibrated threshold."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.harness.errors import ConfigError
from mistvla.harness.risk.learned.context import ContextSpec, ContextView
from mistvla.harness.risk.learned.dataset import build_dataset
from mistvla.harness.risk.learned.evaluate import EvalConfig, evaluate
from mistvla.harness.risk.learned.labels import LabelSpec
from mistvla.harness.risk.learned.model import load_checkpoint, predict
from mistvla.harness.risk.learned.source import LearnedConfig, LearnedRisk
from mistvla.harness.risk.learned.synthetic import write_synthetic_run
from mistvla.harness.risk.learned.train import TrainConfig, train

POINT, POS = "llm.blocks.1.resid_post", "last_prompt"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("context")
    run = write_synthetic_run(root / "run", n_episodes=40, n_steps=30, hidden_size=6, signal=4.0)
    ds = build_dataset([run], POINT, POS, root / "ds", LabelSpec(horizons=(5, 10), types=("any",)))
    cfg = TrainConfig(epochs=2, hidden=8, min_positives=3, context=ContextSpec(steps=3, stride=2))
    train(ds, root / "ckpt", cfg, log=lambda *_: None)
    return ds, root / "ckpt"


def test_in_loop_context_equals_the_offline_rows(checkpoint):
    ds, ckpt = checkpoint
    net, meta = load_checkpoint(ckpt)
    assert meta["feature"]["context"] == {"steps": 3, "stride": 2} and net.config.in_dim == 18
    source = LearnedRisk(LearnedConfig(checkpoint=str(ckpt), horizon=5))
    view = ContextView(ds, ContextSpec(steps=3, stride=2))
    for start in np.flatnonzero(ds._row == 0)[:3]:
        rows = np.arange(start, start + int(ds.column("n_rows")[start]))
        offline = predict(net, view.features(rows))[0][:, 0, 0]
        source.reset(None)
        online = [source.risk({"hidden": {f"{POINT}__{POS}": h}}).score for h in ds.features(rows)]
        np.testing.assert_allclose(online, offline, rtol=1e-5, atol=1e-6)


def test_detector_counts_at_the_calibrated_threshold(checkpoint):
    _, ckpt = checkpoint
    res = evaluate(ckpt, cfg=EvalConfig(resamples=10))
    assert res["threshold_rule"] == "conformal 0.9 on safe calib episodes"
    for r in res["episode"]:
        assert r["n_calib"] > 0 and 0 <= r["false_trigger_safe"] <= 1
        assert sum(c["n"] for c in r["false_trigger_by_condition"].values()) == r["n_safe"]
        assert r["n_failed_with_event"] > 0
    clean = evaluate(ckpt, cfg=EvalConfig(resamples=10, calibrate_on="clean"))
    assert clean["threshold_rule"].endswith("on clean calib episodes")


def test_the_smoothed_alarm_rule_scores_the_causal_mean(checkpoint):
    _, ckpt = checkpoint
    raw = evaluate(ckpt, cfg=EvalConfig(resamples=10, threshold="quantile"))
    smooth = evaluate(ckpt, cfg=EvalConfig(resamples=10, threshold="quantile", smooth=4))
    assert raw["smooth"] == 1 and smooth["smooth"] == 4
    auc = {(r["method"], r["horizon"], r["type"]): r["auc"] for r in raw["step"]}
    changed = [
        r
        for r in smooth["step"]
        if r["method"] == "learned" and r["auc"] != auc[("learned", r["horizon"], r["type"])]
    ]
    assert changed  # the smoothed score is another score
    thresholds = [r["threshold"] for r in smooth["episode"] if r["method"] == "learned"]
    assert thresholds != [r["threshold"] for r in raw["episode"] if r["method"] == "learned"]
    with pytest.raises(ConfigError, match=r"eval\.smooth: need >= 1 step, got 0"):
        EvalConfig(smooth=0)


def test_cached_features_train_the_same_checkpoint(checkpoint, tmp_path):
    from safetensors.numpy import load_file

    ds, ckpt = checkpoint
    cfg = TrainConfig(
        epochs=2, hidden=8, min_positives=3, context=ContextSpec(steps=3, stride=2), cache_features=True
    )
    train(ds, tmp_path / "cached", cfg, log=lambda *_: None)
    a, b = load_file(str(ckpt / "model.safetensors")), load_file(str(tmp_path / "cached/model.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_distillation_pulls_the_gate_toward_the_oracle_and_needs_one(checkpoint, tmp_path):
    ds, _ = checkpoint
    oracle = np.asarray(ds.index["oracle_risk"], dtype=np.float64)
    rows = np.arange(len(oracle))
    gaps = []
    for weight in (0.0, 5.0):
        cfg = TrainConfig(epochs=30, lr=1e-2, patience=30, hidden=16, min_positives=3, distill_weight=weight)
        train(ds, tmp_path / f"w{weight}", cfg, log=lambda *_: None)
        net, meta = load_checkpoint(tmp_path / f"w{weight}")
        assert meta["train"]["distill_weight"] == weight
        gaps.append(
            float(np.mean((predict(net, ds.features(rows))[0][:, 0, 0] - np.clip(oracle, 0, 1)) ** 2))
        )
    # the distilled gate sits nearer the teacher's scores than the plain one
    assert gaps[1] < 0.75 * gaps[0]
    with pytest.raises(ConfigError, match=r"train\.distill_weight: need >= 0"):
        TrainConfig(distill_weight=-1.0)
