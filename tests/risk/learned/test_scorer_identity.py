"""The in-loop scorer of the shipped learned gate gives the checkpoint's module forward bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mistvla.harness.risk.base import RiskConfig, make_risk_source

CKPT = Path(__file__).resolve().parents[3] / "experiments/artifacts/risk/reference"


def _module_forward(source, h: np.ndarray) -> tuple[float, np.ndarray]:
    """The source before ``HiddenScorer``: the checkpoint's nn.Module on the float16-cast vector."""
    x = torch.as_tensor(np.asarray(h, dtype=np.float16).astype(np.float32).reshape(1, -1))
    with torch.no_grad():
        logits, dims = source.model(x)
    score = torch.sigmoid(logits[0, source.column[0], source.column[1]])
    per_dim = (score * torch.sigmoid(dims[0])).numpy()
    per_dim[6:] = 0.0
    return float(score), per_dim


@pytest.mark.skipif(not (CKPT / "model.safetensors").exists(), reason="shipped gate checkpoint absent")
@pytest.mark.parametrize("threads", [1, 2])
def test_shipped_gate_scores_equal_the_module_forward(threads):
    source = make_risk_source(RiskConfig("learned", {"checkpoint": str(CKPT)}))
    rng = np.random.default_rng(0)
    dim = source.model.config.in_dim
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for i in range(300):
            h = (rng.standard_normal((1, dim)) * rng.choice([0.01, 1.0, 10.0, 300.0])).astype(np.float32)
            ref_score, ref_dims = _module_forward(source, h)
            sig = source.risk({"hidden": {source.feature: h}})
            assert np.float64(sig.score).tobytes() == np.float64(ref_score).tobytes(), i
            assert sig.per_dim.dtype == np.float32 and sig.per_dim.tobytes() == ref_dims.tobytes(), i
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
