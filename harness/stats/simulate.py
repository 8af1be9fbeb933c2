"""Monte Carlo studies of the paired design, to validate :mod:`.power` and :mod:`.eprocess` by simulation.

A simulated study draws ``n`` pairing units independently; each is
treated-side discordant with probability ``p10``, base-side with ``p01`` and
concordant otherwise. Everything is vectorised over studies (chunks of
``CHUNK`` studies), so thousands of monitored studies take well under a second.
Used by ``benchmarks/stats_power_simulation.py``,
``benchmarks/stats_sequential_simulation.py`` and ``tests/stats/``.

>>> from mistvla.harness.stats.rates import rates_from_effect
>>> round(fixed_rejection_rate(61, rates_from_effect(0.2, 0.3), studies=4000, seed=0), 2)
0.79
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mistvla.harness.stats.eprocess import DEFAULT_PRIOR_A, log_e_value
from mistvla.harness.stats.mcnemar import exact_p_value
from mistvla.harness.stats.rates import DiscordanceRates

CHUNK = 1000


def draw_units(rates: DiscordanceRates, n_units: int, studies: int, rng: np.random.Generator) -> np.ndarray:
    """``(studies, n_units)`` int8: +1 treated-side discordant, -1 base-side, 0 concordant."""
    u = rng.random((studies, n_units))
    return (u < rates.p10).astype(np.int8) - ((u >= rates.p10) & (u < rates.discordance)).astype(np.int8)


def fixed_rejection_rate(n: int, rates: DiscordanceRates, alpha: float = 0.05, alternative: str = "two-sided",
                         studies: int = 2000, seed: int = 0) -> float:  # fmt: skip
    """Fraction of simulated fixed-``n`` studies in which the exact McNemar test rejects."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, [rates.p10, rates.p01, max(0.0, 1 - rates.discordance)], size=studies)
    return float(np.mean(exact_p_value(counts[:, 0], counts[:, 1], alternative) <= alpha))


@dataclass(frozen=True)
class SequentialOutcome:
    """What continuous monitoring did over many simulated studies (one question each)."""

    studies: int
    rejected: float  # fraction of studies that rejected H0 by max_units
    mean_units: float  # mean pairing units run (stop at rejection, not before min_units, else max_units)
    max_units: int

    def saving_vs(self, n_fixed: int) -> float:
        """Average fraction of units saved against a fixed design of ``n_fixed`` units (negative: more)."""
        return 1 - self.mean_units / n_fixed


def crossing_units(rates: DiscordanceRates, max_units: int, alpha: float = 0.05, alternative: str = "two-sided",
                   prior_a: float = DEFAULT_PRIOR_A, studies: int = 2000, seed: int = 0) -> np.ndarray:  # fmt: skip
    """Per simulated study, the unit count at which ``E_t`` first reaches ``1/alpha`` (0: never by ``max_units``)."""
    rng = np.random.default_rng(seed)
    threshold = math.log(1 / alpha)
    out = []
    for start in range(0, studies, CHUNK):
        draws = draw_units(rates, max_units, min(CHUNK, studies - start), rng)
        b = np.cumsum(draws == 1, axis=1)
        c = np.cumsum(draws == -1, axis=1)
        crossed = log_e_value(b, c, alternative, prior_a) >= threshold
        out.append(np.where(crossed.any(axis=1), crossed.argmax(axis=1) + 1, 0))
    return np.concatenate(out)


def units_run(crossings: np.ndarray, max_units: int, min_units: int = 1) -> np.ndarray:
    """Units each study runs: the last question's crossing (``crossings`` is ``(studies, k)`` or ``(studies,)``),
    at least ``min_units``; ``max_units`` when some question never crossed."""
    c = crossings.reshape(len(crossings), -1)
    done = np.where((c > 0).all(axis=1), c.max(axis=1), max_units)
    return np.maximum(done, min(min_units, max_units))


def sequential_outcome(rates: DiscordanceRates, max_units: int, alpha: float = 0.05, alternative: str = "two-sided",
                       prior_a: float = DEFAULT_PRIOR_A, min_units: int = 1, studies: int = 2000,
                       seed: int = 0) -> SequentialOutcome:  # fmt: skip
    """Monitor ``studies`` simulated one-question studies after every unit; reject when ``E_t >= 1/alpha``."""
    crossings = crossing_units(rates, max_units, alpha, alternative, prior_a, studies, seed)
    used = units_run(crossings, max_units, min_units)
    return SequentialOutcome(studies, float(np.mean(crossings > 0)), float(np.mean(used)), max_units)


def peeking_rejection_rate(rates: DiscordanceRates, max_units: int, alpha: float = 0.05, studies: int = 2000,
                           seed: int = 0) -> float:  # fmt: skip
    """For contrast: the fixed-n McNemar test applied after *every* unit (invalid; inflates type-I error)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, studies, CHUNK):
        draws = draw_units(rates, max_units, min(CHUNK, studies - start), rng)
        b = np.cumsum(draws == 1, axis=1)
        c = np.cumsum(draws == -1, axis=1)
        hits += int((exact_p_value(b, c) <= alpha).any(axis=1).sum())
    return hits / studies


__all__ = [
    "SequentialOutcome",
    "draw_units",
    "fixed_rejection_rate",
    "peeking_rejection_rate",
    "sequential_outcome",
]
