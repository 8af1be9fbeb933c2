"""Fixtures: one tiny random Llava (OpenVLA-like) model built offline per test session."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory):
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny_llava"))


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    """(model, inputs): the tiny Llava in eval mode and one prompt+image batch for it."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    model = LlavaForConditionalGeneration.from_pretrained(tiny_dir).eval()
    processor = AutoProcessor.from_pretrained(tiny_dir)
    image = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    text = "<image>In: What action should the robot take to pick up the bowl?\nOut:"
    inputs = dict(processor(images=image, text=text, return_tensors="pt"))
    return model, inputs


@pytest.fixture
def no_grad():
    with torch.inference_mode():
        yield
