"""The collapse detector flags a constant predictor and passes a good one; constant data is not flagged."""

from __future__ import annotations

import numpy as np

from mistvla.harness.report.action_analysis import per_dimension


def test_collapse_detector():
    rng = np.random.default_rng(0)
    true = np.stack([rng.normal(size=400), rng.normal(size=400), np.full(400, -1.0)], axis=1)
    good = true + 0.2 * rng.normal(size=true.shape) * [1, 1, 0]
    collapsed = good.copy()
    collapsed[:, 1] = true[:, 1].mean() + 0.05 * rng.normal(size=400)
    rows_good = per_dimension(good, true, ("a", "b", "g"))
    rows_bad = per_dimension(collapsed, true, ("a", "b", "g"))
    assert [r["collapsed"] for r in rows_good] == [False, False, False]
    assert [r["collapsed"] for r in rows_bad] == [False, True, False]
    assert rows_bad[2]["near_constant_in_data"] and rows_good[0]["r2"] > 0.9
