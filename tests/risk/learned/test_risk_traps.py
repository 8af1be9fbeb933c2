"""Two traps that must fail loudly: timestep-only labels are flagged by the shortcut table; labels permuted
across episodes give a learned AUC within 0.05 of 0.5 and the training warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mistvla.harness.errors import LabelError
from mistvla.harness.risk.learned.controls import write_control
from mistvla.harness.risk.learned.dataset import build_dataset
from mistvla.harness.risk.learned.evaluate import EvalConfig, evaluate
from mistvla.harness.risk.learned.labels import LabelSpec
from mistvla.harness.risk.learned.splits import SplitConfig
from mistvla.harness.risk.learned.synthetic import write_synthetic_run
from mistvla.harness.risk.learned.train import TrainConfig, train

POINT, POS = "llm.blocks.1.resid_post", "last_prompt"
SPEC = LabelSpec(horizons=(5, 10), types=("any",))
CFG = TrainConfig(epochs=4, hidden=16, lr=3e-3, min_positives=5, split=SplitConfig(by="episode"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("traps")
    run = write_synthetic_run(root / "run", n_episodes=80, n_steps=30, hidden_size=8, signal=4.0, n_tasks=4)
    return build_dataset([run], POINT, POS, root / "ds", SPEC)


@pytest.fixture(scope="module")
def episode_signal(tmp_path_factory):
    """Hidden states that say "this episode will fail" at every step: no positional signal to leak."""
    root = tmp_path_factory.mktemp("traps_episode")
    run = write_synthetic_run(
        root / "run", n_episodes=300, n_steps=24, hidden_size=8, signal=2.0, signal_mode="episode"
    )
    return build_dataset([run], POINT, POS, root / "ds", SPEC)


def _auc(res, method, horizon=10):
    return next(r for r in res["step"] if r["method"] == method and r["horizon"] == horizon)["auc"]


def test_timestep_only_labels_are_flagged_by_the_shortcut_table(dataset, tmp_path):
    train(dataset, tmp_path / "ckpt", CFG, log=lambda *_: None)
    control = write_control(dataset, tmp_path / "timestep", "timestep")
    res = evaluate(tmp_path / "ckpt", control.root, EvalConfig(resamples=20))
    assert _auc(res, "timestep") > 0.95
    flagged = [f for f in res["flags"] if "'timestep' shortcut" in f]
    assert len(flagged) == 2, res["flags"]  # both horizons
    assert (
        "FLAG: type 'any' H=5: the 'timestep' shortcut"
        in (tmp_path / "ckpt/eval/tables_synthetic.md").read_text()
    )
    with pytest.raises(LabelError, match="disagree"):  # and training on them is refused outright
        train(control, tmp_path / "refused", CFG, log=lambda *_: None)
    honest = evaluate(tmp_path / "ckpt", cfg=EvalConfig(resamples=20))  # the real labels raise no flag
    assert not [f for f in honest["flags"] if "timestep" in f]


def test_labels_permuted_across_episodes_give_chance_auc_and_the_training_warning(episode_signal, tmp_path):
    honest = train(episode_signal, tmp_path / "honest", CFG, log=lambda *_: None)
    assert honest["metrics"]["val_auc_mean"] > 0.65  # the real join carries signal
    control = write_control(episode_signal, tmp_path / "permuted", "permuted", seed=1)
    assert not np.array_equal(control.y, episode_signal.y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(control, tmp_path / "ckpt", CFG, log=lambda *_: None)
    assert any("within 0.05 of chance" in str(w.message) for w in caught), [str(w.message) for w in caught]
    res = evaluate(tmp_path / "ckpt", cfg=EvalConfig(resamples=20))
    for h in SPEC.horizons:
        assert abs(_auc(res, "learned", h) - 0.5) <= 0.05, _auc(res, "learned", h)
