"""OpenVLA action decoding: bins, un-normalization, gripper convention, statistics keys."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from mistvla.policies.openvla.actions import (
    bin_centers,
    choose_unnorm_key,
    decode_action,
    gripper_to_env,
    is_action_token,
    load_norm_stats,
    tokens_to_normalized,
    unnormalize,
)

VOCAB = 32000  # Llama-2 base vocabulary, as in openvla-7b (text vocab 32064 - pad_to_multiple_of 64)


def test_every_action_token_maps_to_its_bin_centre():
    centers = np.linspace(-1, 1, 256)
    centers = (centers[:-1] + centers[1:]) / 2
    for b in range(1, 257):  # digitize() returns 1..256; token = vocab - b
        got = tokens_to_normalized(np.array([VOCAB - b]), VOCAB)[0]
        assert got == centers[min(b - 1, 254)]
    assert is_action_token(np.array([VOCAB - 256, VOCAB - 1]), VOCAB).all()
    assert not is_action_token(np.array([VOCAB - 257, VOCAB, 5]), VOCAB).any()


def test_round_trip_with_the_training_tokenizer_is_within_one_bin():
    """Encode as prismatic's ActionTokenizer does (digitize on the 256 bin edges), then decode."""
    edges = np.linspace(-1, 1, 256)
    a = np.random.default_rng(0).uniform(-0.999, 0.999, size=5000)
    tokens = VOCAB - np.digitize(a, edges)
    back = tokens_to_normalized(tokens, VOCAB)
    assert np.abs(back - a).max() <= 2 / 255 / 2 + 1e-12
    assert len(bin_centers()) == 255


def test_unnormalize_maps_unit_interval_to_quantiles_on_masked_dims():
    stats = {"q01": [-0.5, 0.1, 0.0], "q99": [0.5, 0.9, 1.0], "mask": [True, True, False]}
    np.testing.assert_allclose(unnormalize(np.array([-1.0, -1.0, -1.0]), stats), [-0.5, 0.1, -1.0])
    np.testing.assert_allclose(unnormalize(np.array([1.0, 1.0, 0.3]), stats), [0.5, 0.9, 0.3])
    np.testing.assert_allclose(unnormalize(np.array([0.0, 0.0, 0.0]), stats), [0.0, 0.5, 0.0])
    no_mask = {"q01": [0.0], "q99": [2.0]}
    np.testing.assert_allclose(unnormalize(np.array([0.0]), no_mask), [1.0])


def test_gripper_convention():
    # OpenVLA data: 1 = open, 0 = close; robosuite: -1 = open, +1 = close.
    assert gripper_to_env(np.array([1.0]))[0] == -1.0
    assert gripper_to_env(np.array([0.0]))[0] == 1.0
    assert gripper_to_env(np.array([0.3]))[0] == 1.0  # binarized: sign(2 * 0.3 - 1) = -1, inverted
    np.testing.assert_allclose(gripper_to_env(np.array([0.75]), binarize=False), [-0.5])
    x = np.array([0.2, 0.9])
    gripper_to_env(x)
    assert x.tolist() == [0.2, 0.9]  # input untouched


def test_decode_action_end_to_end():
    stats = {
        "q01": [-0.9] * 6 + [0.0],
        "q99": [0.9] * 6 + [1.0],
        "mask": [True] * 6 + [False],
    }
    # bin 1 (lowest centre) for dims 0-5; gripper token near +1 (open in OpenVLA).
    tokens = np.array([VOCAB - 1] * 6 + [VOCAB - 256])
    normalized, action = decode_action(tokens, VOCAB, stats)
    c0 = bin_centers()[0]
    assert action.dtype == np.float32 and action.shape == (7,)
    np.testing.assert_allclose(action[:6], 0.5 * (c0 + 1) * 1.8 - 0.9, rtol=1e-6)
    assert action[6] == -1.0 and normalized[6] == bin_centers()[-1]


def test_choose_unnorm_key():
    stats = {"libero_spatial_no_noops": {}, "libero_10_no_noops": {}}
    assert choose_unnorm_key(stats, "libero_spatial") == "libero_spatial_no_noops"
    assert choose_unnorm_key(stats, "libero_10_no_noops") == "libero_10_no_noops"
    assert choose_unnorm_key({"only": {}}, None) == "only"
    with pytest.raises(KeyError, match="libero_10_no_noops, libero_spatial_no_noops"):
        choose_unnorm_key(stats, None)
    with pytest.raises(KeyError, match="available"):
        choose_unnorm_key(stats, "bridge_orig")
    with pytest.raises(KeyError, match="no norm_stats"):
        choose_unnorm_key({}, None)


def test_load_norm_stats_file_overrides_config(tmp_path):
    config = SimpleNamespace(norm_stats={"a": {"action": {"q01": [0]}}, "b": {"action": {"q01": [1]}}})
    (tmp_path / "dataset_statistics.json").write_text(json.dumps({"b": {"action": {"q01": [2]}}}))
    stats = load_norm_stats(tmp_path, config)
    assert stats["a"]["action"]["q01"] == [0] and stats["b"]["action"]["q01"] == [2]
    assert load_norm_stats(tmp_path / "missing", None) == {}
