"""In-pass gating: score hidden-state risk inside the forward pass and arm steering in the same pass.

A risk source that ``needs_hidden`` (the learned predictor) reads the state of
hook point P at this step; ``steer`` must be armed before the layers it acts on
run. :class:`InPassGate` closes that gap within one forward pass: a read-only
hook at P takes the predictor's position (``last_prompt``: the last prompt
position of the prefill; ``mean``: the mean over it), scores it with the risk
source, calls the intervention's ``gate``, and, when it is active, the
steering hooks at P (registered after the reader, so P's risk is read before
P is steered) and at later blocks add the riskiest dimension's vectors for the
rest of the pass (the decode calls too). Steering at a block before P is
refused: its effect would precede the risk it depends on.

>>> block_index("llm.blocks.12.resid_post"), block_index("llm.final_norm")
(12, None)
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from mistvla.harness.errors import ConfigError
from mistvla.hooks.positions import is_prefill
from mistvla.hooks.session import HookSession, register_point

_BLOCK = re.compile(r"\.blocks\.(\d+)\.")


def block_index(point: str) -> int | None:
    """The block number of a ``*.blocks.<i>.*`` hook name, or None."""
    m = _BLOCK.search(point)
    return int(m.group(1)) if m else None


def check_order(risk_point: str, steer_points: list[str], where: str = "interventions") -> None:
    """Refuse steering points before the predictor's block (or not comparable with it)."""
    p = block_index(risk_point)
    for s in steer_points:
        b = block_index(s)
        if s != risk_point and (p is None or b is None or b < p):
            raise ConfigError(
                f"{where}: in-pass gating reads risk at {risk_point!r}, so it can steer only there or at a "
                f"later block, not at {s!r}"
            )


class InPassGate(HookSession):
    """``with InPassGate(policy, intervention, risk_source): policy.select_action(obs)``; then ``.risk``."""

    def __init__(self, policy: Any, intervention: Any, risk_source: Any) -> None:
        from mistvla.hooks import resolve

        super().__init__()
        model, arch = policy.hook_model(), policy.arch
        self.intervention, self.source = intervention, risk_source
        points = sorted({p for spec in intervention.specs.values() for p in spec.vectors})
        check_order(risk_source.point, points)
        self._reader = resolve(model, risk_source.point, arch).point
        self._steer = {p: resolve(model, p, arch).point for p in points}
        self.risk: Any = None

    def _on_enter(self) -> None:
        self.risk = None
        self._adders: dict[str, Any] = {}

    def _register(self) -> None:
        self._add(register_point(self._reader, self._read))
        for name, point in self._steer.items():
            self._add(register_point(point, self._adder(name)))

    def _read(self, h: torch.Tensor) -> None:
        if self.risk is not None or not is_prefill(h.shape[-2]):
            return None
        if self.source.position == "mean":
            state = h[0].float().mean(dim=0)
        else:
            state = h[0, -1].float()
        hidden = {self.source.feature: state.detach().cpu().numpy().astype(np.float32)}
        self.risk = self.source.risk({"hidden": hidden})
        if self.intervention.gate(self.risk):
            from mistvla.hooks.steering import _Adder

            spec = self.intervention._spec_for(self.intervention.dim)
            if spec is not None:
                self._adders = {n: _Adder(n, v, spec) for n, v in spec.vectors.items()}
        return None

    def _adder(self, name: str) -> Any:
        def add(h: torch.Tensor) -> torch.Tensor | None:
            adder = self._adders.get(name)
            return None if adder is None else adder(h)

        return add
