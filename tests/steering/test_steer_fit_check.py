"""steer fit recovers a planted direction from real run directories; steer check measures a tiny OpenVLA."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mistvla.harness.cli import main
from mistvla.harness.interventions.steer import load_dimension_specs
from mistvla.harness.risk.learned.synthetic import write_synthetic_run

POINT = "llm.blocks.1.resid_post"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return write_synthetic_run(root / "run", n_episodes=16, n_steps=40, hidden_size=16, failure_rate=0.7)


def planted(hidden_size=16):
    v = np.random.default_rng(12345).standard_normal(hidden_size)  # write_synthetic_run's direction
    return v / np.linalg.norm(v)


def test_fit_recovers_the_planted_direction_with_the_safe_sign(run_dir, tmp_path):
    out = tmp_path / "contrastive"
    assert main(["steer", "fit", str(run_dir), "--point", POINT, "--out", str(out)]) == 0
    specs = load_dimension_specs(out)
    assert sorted(specs) == list(range(6))
    fit = json.loads((out / "fit.json").read_text())
    assert fit["method"] == "contrastive" and fit["point"] == POINT and fit["n_rows"] > 100
    # collisions are preceded by fast motion on y (1) or z (2) while the state drifts along `planted`:
    # the safe-minus-risky vector on those dims points against the drift
    for d in (1, 2):
        v = specs[d].vectors[POINT]
        assert float(v @ planted()) < -0.5, d
        assert specs[d].mode == "relative" and np.isclose(np.linalg.norm(v), 1.0)


def test_generic_is_shared_and_random_is_not_the_signal(run_dir, tmp_path):
    for method in ("generic", "random", "probe"):
        assert (
            main(
                [
                    "steer",
                    "fit",
                    str(run_dir),
                    "--point",
                    POINT,
                    "--method",
                    method,
                    "--out",
                    str(tmp_path / method),
                ]
            )
            == 0
        )
    gen = load_dimension_specs(tmp_path / "generic")
    np.testing.assert_array_equal(gen[0].vectors[POINT], gen[5].vectors[POINT])
    assert float(gen[0].vectors[POINT] @ planted()) < -0.5
    rnd = load_dimension_specs(tmp_path / "random")
    assert abs(float(rnd[2].vectors[POINT] @ planted())) < 0.9
    prb = load_dimension_specs(tmp_path / "probe")
    assert float(prb[2].vectors[POINT] @ planted()) < 0  # a ridge probe of |a_z| also reads the drift


def test_fit_refuses_labels_without_a_risk_dataset(run_dir, tmp_path, capsys):
    code = main(
        ["steer", "fit", str(run_dir), "--point", POINT, "--target", "label", "--out", str(tmp_path / "x")]
    )
    assert code == 2 and "--target label" in capsys.readouterr().err


def test_check_on_a_tiny_openvla(tmp_path):
    from mistvla.harness.steering.check import dose_response, write_check
    from mistvla.harness.steering.data import FitData
    from mistvla.harness.steering.fit import fit_directions
    from mistvla.hooks import CaptureSpec, count_hooks
    from mistvla.policies.openvla.policy import OpenVLAPolicy
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    ckpt = build_tiny_llava(tmp_path / "ckpt", hidden_size=64, num_layers=2)
    policy = OpenVLAPolicy(
        ckpt, unnorm_key="libero_spatial_no_noops", capture=CaptureSpec((POINT,), ("last_prompt",))
    )
    rng = np.random.default_rng(0)
    obs = [
        {"images": {"agentview": rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)}, "proprio": {}}
        for _ in range(10)
    ]
    X, A = [], []
    for o in obs:
        policy.reset("pick up the black bowl", seed=0)
        A.append(policy.select_action(o))
        X.append(policy.last_capture.arrays[POINT]["last_prompt"])
    data = FitData(np.stack(X), np.stack(A), None, {"point": POINT, "position": "last_prompt"})
    fit_directions(data, tmp_path / "dirs", "contrastive", "signed", 0.3)
    policy.set_capture(None)
    samples = [("pick up the black bowl", o) for o in obs[:2]]
    result = dose_response(policy, samples, tmp_path / "dirs", alphas=(0.01, 4.0))
    assert count_hooks(policy.hook_model()) == 0
    assert result.delta.shape == (6, 2, 2, 7)
    small, large = np.abs(result.delta[:, 0]).mean(), np.abs(result.delta[:, 1]).mean()
    assert large > small and large > 0  # a strong push moves the actions more than a negligible one
    summary = write_check(result, tmp_path / "check")
    assert len(summary["passes"]) == 6 and summary["n_pass"] == sum(summary["passes"])
    assert np.array(summary["selectivity"]).shape == (6, 7)
    for name in ("check.json", "selectivity.csv", "selectivity.png", "dose_response.png"):
        assert (tmp_path / "check" / name).stat().st_size > 0


def test_check_frames_with_an_empty_split_is_a_one_line_error(monkeypatch):
    """A dataset whose split names never-collected init states: a MistvlaError, not a bare stack error."""
    from mistvla.harness.errors import ConfigError
    from mistvla.harness.steering.check import frames_samples
    from mistvla.policies.reference import data

    n = 4
    frames = data.DemoFrames(
        np.zeros((n, 8)), np.zeros((n, 7)), np.zeros((n, 7)), np.arange(n), np.full(n, 2), ["x"] * n, ["bowl"],
        {"split": {"train": [2], "val": [36]}}, "hash",
    )  # fmt: skip
    monkeypatch.setattr(data, "load_many", lambda roots: frames)
    assert len(frames_samples(["d"], split="all")) == n
    with pytest.raises(ConfigError, match=r"--split val: the datasets .* hold no val frames"):
        frames_samples(["d"], split="val")
