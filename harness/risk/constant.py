"""A constant risk: the same value every step, on every dimension.

A sanity baseline: with a threshold below the value an intervention is always
on, above it never.

>>> c = ConstantRisk(ConstantConfig(value=0.3))
>>> c.reset(env=None)
>>> c.risk(obs={}).per_dim.tolist()[:2]
[0.30000001192092896, 0.30000001192092896]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mistvla.harness.risk.base import RiskSignal, RiskSource


@dataclass
class ConstantConfig:
    value: float = 0.0


class ConstantRisk(RiskSource):
    Config = ConstantConfig
    per_dim = True

    def reset(self, env: Any) -> None:
        pass

    def risk(self, obs: dict[str, Any]) -> RiskSignal:
        value = float(self.config.value)
        return RiskSignal(value, np.full(7, value, dtype=np.float32))
