"""Steering: exact additions at the named positions, bit-identical no-ops, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mistvla.hooks import CaptureSpec, SteeringSpec, capture, steer

POINT = "llm.blocks.1.resid_post"
CAP_ALL = CaptureSpec((POINT,), ("last_prompt", "generated", "mean"))


def _generate(model, inputs, n=4):
    return model.generate(**inputs, max_new_tokens=n, do_sample=False, use_cache=True)


def _vec(dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_zero_vector_is_bit_identical(tiny, no_grad, mode):
    model, inputs = tiny
    base_logits, base_tokens = model(**inputs).logits, _generate(model, inputs)
    spec = SteeringSpec({POINT: np.zeros(model.config.text_config.hidden_size)}, alpha=3.0, mode=mode)
    with steer(model, spec):
        assert torch.equal(model(**inputs).logits, base_logits)
        assert torch.equal(_generate(model, inputs), base_tokens)


def test_leaving_the_context_restores_bit_identical_outputs(tiny, no_grad):
    model, inputs = tiny
    base = model(**inputs).logits
    spec = SteeringSpec({POINT: _vec(model.config.text_config.hidden_size)}, alpha=4.0)
    with steer(model, spec):
        steered = model(**inputs).logits
    assert not torch.equal(steered, base)
    assert torch.equal(model(**inputs).logits, base)


def test_nonzero_vector_changes_generated_tokens(tiny, no_grad):
    model, inputs = tiny
    base = _generate(model, inputs, n=7)
    spec = SteeringSpec({POINT: _vec(model.config.text_config.hidden_size)}, alpha=1.0, mode="relative")
    with steer(model, spec):
        assert not torch.equal(_generate(model, inputs, n=7), base)


def _diff_rows(model, inputs, spec):
    """Capture before and after the steering hook on the same module, in one generate() run."""
    before = capture(model, CAP_ALL)
    after = capture(model, CAP_ALL)
    with before, steer(model, spec), after:  # hooks run in registration order
        _generate(model, inputs, n=4)
    a, b = before.pop().arrays[POINT], after.pop().arrays[POINT]
    return a, {k: b[k] - a[k] for k in a}


@pytest.mark.parametrize(
    ("positions", "row0", "later_rows", "mean_frac"),
    [
        ("all", 1, 1, 1.0),
        ("prompt", 1, 0, 1.0),
        ("last_prompt", 1, 0, None),
        ("generated", 1, 1, None),
    ],
)
def test_absolute_steering_adds_alpha_v_exactly_where_named(
    tiny, no_grad, positions, row0, later_rows, mean_frac
):
    model, inputs = tiny
    v, alpha = _vec(model.config.text_config.hidden_size), 0.75
    _, d = _diff_rows(model, inputs, SteeringSpec({POINT: v}, alpha=alpha, positions=positions))
    tol = dict(rtol=0, atol=2e-5)
    np.testing.assert_allclose(d["last_prompt"][0], row0 * alpha * v, **tol)
    np.testing.assert_allclose(d["generated"][0, 0], row0 * alpha * v, **tol)
    for k in range(1, 4):
        np.testing.assert_allclose(d["generated"][0, k], later_rows * alpha * v, **tol)
    n_prompt = inputs["input_ids"].shape[1]
    frac = mean_frac if mean_frac is not None else 1.0 / n_prompt
    np.testing.assert_allclose(d["mean"][0], frac * alpha * v, **tol)


def test_relative_steering_scales_with_residual_norm(tiny, no_grad):
    model, inputs = tiny
    v, alpha = _vec(model.config.text_config.hidden_size, seed=3) * 5.0, 0.2
    a, d = _diff_rows(model, inputs, SteeringSpec({POINT: v}, alpha=alpha, mode="relative"))
    unit = v / np.linalg.norm(v)
    for k in range(4):
        h = a["generated"][0, k]
        np.testing.assert_allclose(
            d["generated"][0, k], alpha * np.linalg.norm(h) * unit, rtol=1e-4, atol=2e-5
        )


def test_save_load_round_trip(tmp_path):
    spec = SteeringSpec(
        {POINT: _vec(64), "llm.final_norm": _vec(64, 1)}, alpha=-2.5, mode="relative", positions="generated"
    )
    js, npz = spec.save(tmp_path / "dir" / "spec.json")
    assert js.name == "spec.json" and npz.name == "spec.npz"
    back = SteeringSpec.load(tmp_path / "dir" / "spec")
    assert (back.alpha, back.mode, back.positions) == (-2.5, "relative", "generated")
    assert list(back.vectors) == [POINT, "llm.final_norm"]
    for k in spec.vectors:
        np.testing.assert_array_equal(back.vectors[k], spec.vectors[k])
    meta = back.metadata()
    assert meta["dims"][POINT] == 64 and meta["norms"][POINT] == pytest.approx(
        float(np.linalg.norm(_vec(64)))
    )


def test_load_rejects_mismatched_files(tmp_path):
    spec = SteeringSpec({POINT: _vec(8)})
    spec.save(tmp_path / "a")
    np.savez(tmp_path / "a.npz", other=_vec(8))
    with pytest.raises(ValueError, match="npz holds"):
        SteeringSpec.load(tmp_path / "a.json")


def test_spec_validation():
    with pytest.raises(ValueError, match="mode"):
        SteeringSpec({POINT: _vec(4)}, mode="multiplicative")
    with pytest.raises(ValueError, match="allowed"):
        SteeringSpec({POINT: _vec(4)}, positions="middle")
    with pytest.raises(ValueError):
        SteeringSpec({})


def test_wrong_dimension_raises_and_unregisters(tiny, no_grad):
    from mistvla.hooks import count_hooks

    model, inputs = tiny
    base = count_hooks(model)
    with pytest.raises(ValueError, match="has dim 3"), steer(model, SteeringSpec({POINT: _vec(3)})):
        model(**inputs)
    assert count_hooks(model) == base
