"""Hooks exist only inside their context and exactly the handles added are removed."""

from __future__ import annotations

import numpy as np
import pytest

from mistvla.hooks import CaptureSpec, SteeringSpec, capture, count_hooks, steer

POINTS = ("llm.blocks.0.resid_post", "llm.blocks.1.resid_pre", "llm.final_norm")


def test_registered_inside_removed_after(tiny, no_grad):
    model, _ = tiny
    base = count_hooks(model)
    with capture(model, CaptureSpec(POINTS)):
        assert count_hooks(model) == base + 3
        with steer(model, SteeringSpec({"llm.blocks.2.resid_post": np.ones(64)})):
            assert count_hooks(model) == base + 4
        assert count_hooks(model) == base + 3
    assert count_hooks(model) == base


def test_entering_twice_registers_once(tiny):
    model, _ = tiny
    base = count_hooks(model)
    cap = capture(model, CaptureSpec(POINTS))
    with cap:
        with cap:
            assert count_hooks(model) == base + 3
        assert cap.active and count_hooks(model) == base + 3  # still inside the outer block
    assert not cap.active and count_hooks(model) == base
    with cap:  # re-usable after exit
        assert count_hooks(model) == base + 3
    assert count_hooks(model) == base


def test_exception_inside_the_block_removes_hooks(tiny, no_grad):
    model, inputs = tiny
    base = count_hooks(model)
    with pytest.raises(RuntimeError, match="boom"), capture(model, CaptureSpec(POINTS)):
        model(**inputs)
        raise RuntimeError("boom")
    assert count_hooks(model) == base


def test_foreign_hooks_are_left_alone(tiny, no_grad):
    model, inputs = tiny
    layer = model.model.language_model.layers[0]
    calls: list[int] = []
    foreign = layer.register_forward_hook(lambda m, a, o: calls.append(1))
    try:
        base = count_hooks(model)
        with capture(model, CaptureSpec(("llm.blocks.0.resid_post",))):
            model(**inputs)
        assert count_hooks(model) == base and len(calls) == 1
        model(**inputs)
        assert len(calls) == 2  # the foreign hook still fires
    finally:
        foreign.remove()


def test_bad_point_registers_nothing(tiny):
    model, _ = tiny
    base = count_hooks(model)
    with pytest.raises(KeyError, match="valid:"):
        capture(model, CaptureSpec(("llm.blocks.0.resid_post", "llm.blocks.42.resid_post")))
    assert count_hooks(model) == base
