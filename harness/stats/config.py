"""The typed ``stopping:`` and ``power:`` config blocks, parsed with :func:`mistvla.harness.typed.from_dict`.

Bad values raise :class:`~mistvla.harness.errors.ConfigError` in one line that
starts with the field's dotted path:

>>> from mistvla.harness.typed import from_dict
>>> from_dict(StoppingConfig, {"rule": "anytime_valid", "alpha": 0.05, "min_units": 20, "max_units": 400},
...           "stopping")
StoppingConfig(rule='anytime_valid', alpha=0.05, min_units=20, max_units=400, prior_a=None)
>>> from_dict(StoppingConfig, {"max_units": 10, "min_units": 20}, "stopping")
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: stopping: max_units (10) must be >= min_units (20)
>>> from_dict(PowerConfig, {"effect_pp": 0, "assume": {"discordance": 0.3}}, "power")
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: power: effect_pp must be in (0, 100) percentage points, got 0.0
>>> parse_effect_pp("10pp")
10.0
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mistvla.harness.errors import ConfigError
from mistvla.harness.stats.eprocess import DEFAULT_PRIOR_A, prior_for_split
from mistvla.harness.stats.rates import (
    DiscordanceRates,
    rates_from_effect,
    rates_from_margins,
    rates_from_pilot,
)
from mistvla.harness.stats.sequential import Question, SequentialMonitor


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")


@dataclass(kw_only=True)
class StoppingConfig:
    """``stopping: {rule: anytime_valid, alpha, min_units, max_units}``: sequential early stopping.

    ``alpha`` is the family-wise level over all pre-registered questions
    (Bonferroni: ``alpha / k`` each); units are pairing units. ``prior_a`` is
    the e-process's Beta(a, a) prior; ``None`` takes it from the planned effect
    when a ``power:`` block exists (:func:`.eprocess.prior_for_split`), else 1.
    """

    rule: Literal["anytime_valid"] = "anytime_valid"
    alpha: float = 0.05
    min_units: int = 1
    max_units: int
    prior_a: float | None = None

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if self.min_units < 0:
            raise ValueError(f"min_units must be >= 0, got {self.min_units}")
        if self.max_units < max(1, self.min_units):
            raise ValueError(f"max_units ({self.max_units}) must be >= min_units ({self.min_units})")
        if self.prior_a is not None and self.prior_a <= 0:
            raise ValueError(f"prior_a must be > 0, got {self.prior_a}")

    def prior(self, planned: DiscordanceRates | None = None) -> float:
        """The e-process prior: ``prior_a``, else tuned to the ``planned`` rates, else 1."""
        if self.prior_a is not None:
            return self.prior_a
        return prior_for_split(planned.split) if planned is not None else DEFAULT_PRIOR_A

    def monitor(
        self,
        questions: Sequence[str | Question],
        alternative: str = "two-sided",
        planned: DiscordanceRates | None = None,
    ) -> SequentialMonitor:
        """A :class:`SequentialMonitor` for these questions (names get ``alternative`` and the prior).

        The prior is ``prior_a`` if set, else tuned to the ``planned`` rates
        (e.g. ``PowerConfig.rates()``), else 1 (uniform).
        """
        a = self.prior(planned)
        qs = [q if isinstance(q, Question) else Question(q, alternative, a) for q in questions]
        return SequentialMonitor(qs, self.alpha, self.min_units, self.max_units)


@dataclass(kw_only=True)
class PowerAssumptions:
    """Planning rates without a pilot: either ``discordance`` (P(unit discordant)) or ``base_rate`` (+ ``correlation``).

    ``correlation`` is the phi coefficient of the paired outcomes; its default
    0 (independence) is conservative for positively correlated pairs.
    """

    discordance: float | None = None
    base_rate: float | None = None
    correlation: float = 0.0

    def __post_init__(self) -> None:
        if (self.discordance is None) == (self.base_rate is None):
            raise ValueError("give exactly one of discordance or base_rate")
        if self.discordance is not None and not 0 < self.discordance <= 1:
            raise ValueError(f"discordance must be in (0, 1], got {self.discordance}")
        if self.base_rate is not None and not 0 < self.base_rate < 1:
            raise ValueError(f"base_rate must be in (0, 1), got {self.base_rate}")
        if not -1 <= self.correlation <= 1:
            raise ValueError(f"correlation must be in [-1, 1], got {self.correlation}")


@dataclass(kw_only=True)
class PowerConfig:
    """``power:`` the planned effect and where the discordance comes from (a pilot run or assumptions).

    ``effect_pp`` is the size of the paired difference to detect, in
    percentage points, in the direction of ``alternative`` ("less" plans a
    decrease, e.g. of the collision rate; "greater" and "two-sided" an increase).
    """

    effect_pp: float
    metric: Literal["sr", "cr", "cr_obstacle"] = "sr"
    alpha: float = 0.05
    power: float = 0.8
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    pilot_run: str | None = None
    assume: PowerAssumptions | None = None

    def __post_init__(self) -> None:
        if not 0 < self.effect_pp < 100:
            raise ValueError(f"effect_pp must be in (0, 100) percentage points, got {self.effect_pp}")
        _check_alpha(self.alpha)
        if not 0 < self.power < 1:
            raise ValueError(f"power must be in (0, 1), got {self.power}")
        if (self.pilot_run is None) == (self.assume is None):
            raise ValueError("give exactly one of pilot_run or assume")

    @property
    def delta(self) -> float:
        """The planned paired difference as a signed fraction (treated minus base)."""
        return (-1 if self.alternative == "less" else 1) * self.effect_pp / 100

    def rates(
        self, pilot: tuple[Sequence[bool], Sequence[bool]] | None = None, path: str = "power"
    ) -> DiscordanceRates:
        """Planning rates: from ``pilot = (treated, base)`` outcomes (needs ``pilot_run``) or from ``assume``."""
        try:
            if self.assume is None:
                if pilot is None:
                    raise ValueError("pilot_run is set; pass its (treated, base) outcomes")
                return rates_from_pilot(*pilot, self.delta)
            if self.assume.discordance is not None:
                return rates_from_effect(self.delta, self.assume.discordance)
            return rates_from_margins(self.assume.base_rate, self.delta, self.assume.correlation)
        except ValueError as err:
            where = "pilot_run" if self.assume is None else "assume"
            raise ConfigError(f"{path}.{where}: {err} (effect_pp={self.effect_pp:g})") from None


def parse_effect_pp(text: str | float, field: str = "--effect") -> float:
    """``"10pp"``, ``"10 pp"`` or ``10`` -> 10.0 percentage points, in (0, 100).

    >>> parse_effect_pp("150pp")
    Traceback (most recent call last):
    ...
    mistvla.harness.errors.ConfigError: --effect: must be in (0, 100) percentage points, got 150pp
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(pp)?\s*", str(text))
    if not match:
        raise ConfigError(f"{field}: expected percentage points like 10pp, got {text!r}")
    value = float(match.group(1))
    if not 0 < value < 100:
        raise ConfigError(f"{field}: must be in (0, 100) percentage points, got {text}")
    return value


def check_stopping_preregistered(
    stopping: StoppingConfig | None, prereg_exists: bool, path: str = "stopping"
) -> None:
    """A sequential stopping rule needs a pre-registration (the questions it stops on come from it).

    >>> check_stopping_preregistered(StoppingConfig(max_units=100), prereg_exists=False)
    Traceback (most recent call last):
    ...
    mistvla.harness.errors.ConfigError: stopping: rule anytime_valid needs a pre-registration; run `mistvla preregister CONFIG` first (no prereg.json in the run directory)
    """
    if stopping is not None and not prereg_exists:
        raise ConfigError(
            f"{path}: rule {stopping.rule} needs a pre-registration; run `mistvla preregister CONFIG` first "
            "(no prereg.json in the run directory)"
        )


__all__ = [
    "PowerAssumptions",
    "PowerConfig",
    "StoppingConfig",
    "check_stopping_preregistered",
    "parse_effect_pp",
]
