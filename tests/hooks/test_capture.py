"""Captured states equal transformers' own hidden states, in a forward pass and under generate()."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from mistvla.hooks import CaptureSpec, capture
from mistvla.hooks.points import ArchHookTable

ALL = ("last_prompt", "generated", "mean")


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().numpy()


def test_forward_capture_equals_output_hidden_states(tiny, no_grad):
    model, inputs = tiny
    n = model.config.text_config.num_hidden_layers
    blocks = tuple(f"llm.blocks.{i}.resid_post" for i in range(n))
    points = (*blocks, "llm.final_norm", "llm.blocks.0.resid_pre")
    with capture(model, CaptureSpec(points, ALL)) as cap:
        out = model(**inputs, output_hidden_states=True)
    rec = cap.pop()
    hs = out.hidden_states  # (embeddings, block 0, ..., block n-2, final_norm(block n-1))
    for i in range(n - 1):
        got = rec.arrays[f"llm.blocks.{i}.resid_post"]
        np.testing.assert_array_equal(got["last_prompt"], _np(hs[i + 1][:, -1]))
        np.testing.assert_allclose(got["mean"], _np(hs[i + 1].mean(dim=1)), rtol=1e-6, atol=1e-6)
        assert got["generated"].shape == (1, 1, model.config.text_config.hidden_size)
    np.testing.assert_array_equal(rec.arrays["llm.final_norm"]["last_prompt"], _np(hs[n][:, -1]))
    np.testing.assert_array_equal(rec.arrays["llm.blocks.0.resid_pre"]["last_prompt"], _np(hs[0][:, -1]))
    # The last block's resid_post is the stream *before* the final norm: different numbers,
    # and the norm applied to it gives llm.final_norm.
    last = rec.arrays[f"llm.blocks.{n - 1}.resid_post"]["last_prompt"]
    assert not np.allclose(last, rec.arrays["llm.final_norm"]["last_prompt"])
    normed = model.model.language_model.norm(torch.from_numpy(last))
    np.testing.assert_allclose(_np(normed), rec.arrays["llm.final_norm"]["last_prompt"], rtol=1e-5, atol=1e-6)
    assert rec.meta["positions"] == list(ALL) and rec.meta["arch"] == "llava"
    assert rec.meta["modules"]["llm.final_norm"] == "model.language_model.norm"
    assert rec.meta["reads"]["llm.blocks.0.resid_pre"] == "input"


def test_generate_with_kv_cache(tiny, no_grad):
    model, inputs = tiny
    points = ("llm.blocks.1.resid_post", "llm.final_norm")
    with capture(model, CaptureSpec(points, ALL)) as cap:
        out = model.generate(
            **inputs,
            max_new_tokens=5,
            do_sample=False,
            use_cache=True,
            output_hidden_states=True,
            return_dict_in_generate=True,
        )
    rec = cap.pop()
    steps = out.hidden_states  # one tuple per forward call: prefill (T positions), then 1 position each
    assert (
        len(steps) == 5 and steps[0][0].shape[1] == inputs["input_ids"].shape[1] and steps[1][0].shape[1] == 1
    )
    gen = rec.arrays["llm.blocks.1.resid_post"]["generated"]
    assert gen.shape == (1, 5, model.config.text_config.hidden_size)
    for k in range(5):
        np.testing.assert_allclose(gen[:, k], _np(steps[k][2][:, -1]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        rec.arrays["llm.final_norm"]["generated"][:, 4], _np(steps[4][-1][:, -1]), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_array_equal(rec.arrays["llm.blocks.1.resid_post"]["last_prompt"], gen[:, 0])
    np.testing.assert_allclose(
        rec.arrays["llm.blocks.1.resid_post"]["mean"], _np(steps[0][2].mean(dim=1)), rtol=1e-5, atol=1e-6
    )
    assert rec.meta["calls"]["llm.final_norm"] == {"prefill": 1, "decode": 4}


def test_pop_resets_and_new_prefill_starts_new_sequence(tiny, no_grad):
    model, inputs = tiny
    spec = CaptureSpec(("llm.blocks.0.resid_post",), ("last_prompt",))
    with capture(model, spec) as cap:
        model(**inputs)
        model(**inputs)
        rec = cap.pop()
        assert rec.meta["calls"]["llm.blocks.0.resid_post"]["prefill"] == 2
        assert rec.arrays["llm.blocks.0.resid_post"]["last_prompt"].shape[0] == 1
        assert cap.pop().arrays["llm.blocks.0.resid_post"] == {}


def test_bf16_model_captures_float32_cpu_arrays(tiny_dir, no_grad):
    from transformers import LlavaForConditionalGeneration

    model = LlavaForConditionalGeneration.from_pretrained(tiny_dir, dtype=torch.bfloat16).eval()
    ids = torch.tensor([[1, 68, 69, 67, 70]])
    with capture(model, CaptureSpec(("llm.blocks.0.resid_post",), ALL)) as cap:
        out = model(input_ids=ids, output_hidden_states=True)
    got = cap.pop().arrays["llm.blocks.0.resid_post"]
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in got.values())
    np.testing.assert_array_equal(got["last_prompt"], _np(out.hidden_states[1][:, -1]))


class _Block(nn.Module):
    """A residual block returning a tensor, or a tuple like older transformers decoder layers."""

    def __init__(self, dim: int, tuple_out: bool) -> None:
        super().__init__()
        self.lin, self.tuple_out = nn.Linear(dim, dim), tuple_out

    def forward(self, h: torch.Tensor):
        out = h + torch.tanh(self.lin(h))
        return (out, None) if self.tuple_out else out


class _Stack(nn.Module):
    def __init__(self, tuple_out: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.ModuleList([_Block(8, tuple_out) for _ in range(2)])

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            out = layer(h)
            h = out[0] if isinstance(out, tuple) else out
        return h


TOY = ArchHookTable("toy", {"llm.blocks.{i}.resid_post": ("layers.{i}",)}, detect=lambda m: True)


@pytest.mark.parametrize("tuple_out", [False, True])
def test_tensor_and_tuple_returning_layers(tuple_out, no_grad):
    stack, x = _Stack(tuple_out), torch.randn(1, 5, 8, generator=torch.Generator().manual_seed(1))
    with capture(stack, CaptureSpec(("llm.blocks.0.resid_post",), ALL), arch=TOY) as cap:
        stack(x)
    got = cap.pop().arrays["llm.blocks.0.resid_post"]
    ref = _Stack(False).layers[0](x)
    np.testing.assert_array_equal(got["last_prompt"], _np(ref[:, -1]))
    np.testing.assert_allclose(got["mean"], _np(ref.mean(dim=1)), rtol=1e-6)


def test_capture_copies_before_in_place_changes(no_grad):
    """A module output changed in place after the hook (LeRobot's ``out += residual``) is captured as it was."""

    class InPlace(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Identity()])

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            out = self.layers[0](h)
            out += 100.0
            return out

    m, x = InPlace(), torch.zeros(1, 3, 4)
    with capture(m, CaptureSpec(("llm.blocks.0.resid_post",), ("last_prompt",)), arch=TOY) as cap:
        m(x.clone())
    assert float(np.abs(cap.pop().arrays["llm.blocks.0.resid_post"]["last_prompt"]).max()) == 0.0


def test_spec_validation():
    with pytest.raises(ValueError, match="allowed"):
        CaptureSpec(("llm.final_norm",), ("first",))
    with pytest.raises(ValueError):
        CaptureSpec("llm.final_norm")  # a bare string is not a tuple of names
