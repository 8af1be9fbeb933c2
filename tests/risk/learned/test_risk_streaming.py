"""Training reads the memory maps in chunks with the numbers of whole-array reads; the in-loop scorer is the
checkpoint's forward, exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mistvla.harness.risk.learned.dataset import build_dataset
from mistvla.harness.risk.learned.labels import LabelSpec
from mistvla.harness.risk.learned.model import ModelConfig, RiskMLP, predict
from mistvla.harness.risk.learned.source import HiddenScorer, score_hidden
from mistvla.harness.risk.learned.synthetic import write_synthetic_run
from mistvla.harness.risk.learned.train import _mean_std, predict_rows

POINT, POS = "llm.blocks.1.resid_post", "last_prompt"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    run = write_synthetic_run(root / "run", n_episodes=30, n_steps=40, hidden_size=12, signal=3.0)
    return build_dataset([run], POINT, POS, root / "ds", LabelSpec(horizons=(5, 10), types=("any",)))


def _whole_chunks(ds, rows, chunk):
    """The normalization as computed before streaming: each chunk's features loaded whole, in float64."""
    s = s2 = None
    for i in range(0, len(rows), chunk):
        x = ds.features(rows[i : i + chunk]).astype(np.float64)
        s = x.sum(0) if s is None else s + x.sum(0)
        s2 = (x * x).sum(0) if s2 is None else s2 + (x * x).sum(0)
    mean = s / len(rows)
    return mean.astype(np.float32), np.sqrt(np.maximum(s2 / len(rows) - mean * mean, 0)).astype(np.float32)


@pytest.mark.parametrize("chunk,sub", [(8192, 512), (200, 7), (64, 64)])
def test_streamed_normalization_is_bitwise_the_whole_chunk_one(dataset, chunk, sub):
    rows = np.flatnonzero(np.arange(len(dataset)) % 3 != 1)
    mean, std = _mean_std(dataset, rows, chunk=chunk, sub=sub)
    ref_mean, ref_std = _whole_chunks(dataset, rows, chunk)
    assert np.array_equal(mean, ref_mean) and np.array_equal(std, ref_std)


def test_streamed_prediction_equals_prediction_on_the_loaded_rows(dataset):
    torch.manual_seed(0)
    net = RiskMLP(ModelConfig(in_dim=12, hidden=8, n_horizons=2, n_types=1))
    rows = np.flatnonzero(np.arange(len(dataset)) % 4 == 0)
    net.set_normalization(*_mean_std(dataset, rows))
    for batch in (50, 4096):
        p, d = predict_rows(net, dataset, rows, batch)
        p_ref, d_ref = predict(net, dataset.features(rows), batch)
        assert np.array_equal(p, p_ref) and np.array_equal(d, d_ref)
    again = dataset.features(rows)  # pages released after each read come back with the same bytes
    assert np.array_equal(again, dataset.features(rows))


@pytest.mark.parametrize("n_types,column", [(1, (0, 0)), (3, (2, 1))])
def test_scorer_is_the_module_forward_exactly(n_types, column):
    torch.manual_seed(1)
    net = RiskMLP(ModelConfig(in_dim=64, hidden=16, n_horizons=4, n_types=n_types)).eval()
    rng = np.random.default_rng(0)
    net.set_normalization(
        rng.standard_normal(64).astype(np.float32), rng.uniform(0.5, 2, 64).astype(np.float32)
    )
    scorer = HiddenScorer(net, column)
    threads = torch.get_num_threads()
    for _ in range(20):
        h = (3 * rng.standard_normal((1, 64))).astype(np.float32)
        with torch.no_grad():
            logits, dims = net(torch.as_tensor(h.astype(np.float16).astype(np.float32)))
        ref = torch.sigmoid(logits[0, column[0], column[1]])
        ref_dims = (ref * torch.sigmoid(dims[0])).numpy()
        ref_dims[6:] = 0.0
        score, per_dim = scorer(h)
        assert score == float(ref) and per_dim.dtype == np.float32 and np.array_equal(per_dim, ref_dims)
        assert score_hidden(net, h, column)[0] == score
    assert torch.get_num_threads() == threads


def test_maps_reopened_after_eviction_read_the_same_rows(dataset):
    import functools

    from mistvla.harness.risk.learned.dataset import RiskDataset

    rows = np.random.default_rng(0).permutation(len(dataset))[:300]
    ds = RiskDataset(dataset.root)
    ds._load = functools.lru_cache(maxsize=1)(ds._open)  # every episode switch reopens from the header cache
    first = ds.features(rows)
    assert ds._headers and np.array_equal(ds.features(rows), first)
    assert np.array_equal(first, RiskDataset(dataset.root).features(rows))
    assert isinstance(ds._open(0, ds._key_names[0]), np.memmap)
