"""The ``learned`` risk source: a trained checkpoint applied to this step's hidden state.

``risk: {source: learned, params: {checkpoint: DIR}}``. The source declares
``needs_hidden``: the runner then asks for its risk *after* the policy's
forward pass of the same step and before the action is executed, passing the
captured hidden states in ``obs["hidden"]`` (see ``docs/running.md``, "Order
within a step"). The hidden state is cast to float16 first, exactly as the
results store keeps it, so the stored per-step risk equals the checkpoint
applied offline to the stored shard of that step.

The scalar score is the probability of the configured (type, horizon)
column; the per-dimension risk is that score times the per-dimension head's
probabilities (gripper 0), so ``damp`` scales the dimension the head blames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mistvla.harness.errors import ConfigError
from mistvla.harness.risk.base import RiskSignal, RiskSource
from mistvla.harness.risk.learned.dataset import feature_name


@dataclass
class LearnedConfig:
    checkpoint: str = ""
    """Checkpoint directory written by ``mistvla risk train``."""
    type: str = "any"
    """Failure type of the gate score (one of the checkpoint's label types)."""
    horizon: int | None = None
    """Horizon of the gate score; None: the checkpoint's smallest."""


def score_hidden(model: Any, hidden: np.ndarray, column: tuple[int, int]) -> tuple[float, np.ndarray]:
    """Gate score and per-dimension risk of one hidden-state vector (float16-cast, as stored)."""
    import torch

    x = torch.as_tensor(np.asarray(hidden, dtype=np.float16).astype(np.float32).reshape(1, -1))
    with torch.no_grad():
        logits, dims = model(x)
    score = float(torch.sigmoid(logits[0, column[0], column[1]]))
    per_dim = (score * torch.sigmoid(dims[0])).numpy().astype(np.float32)
    per_dim[6:] = 0.0
    return score, per_dim


class LearnedRisk(RiskSource):
    """Risk from a trained :class:`~mistvla.harness.risk.learned.model.RiskMLP` on the step's hidden state."""

    Config = LearnedConfig
    per_dim = True
    needs_hidden: ClassVar[bool] = True
    """Scored after the policy's forward pass of the same step (the runner passes ``obs["hidden"]``)."""

    def __init__(self, config: LearnedConfig | None = None) -> None:
        from mistvla.harness.risk.learned.model import load_checkpoint

        super().__init__(config)
        if not self.config.checkpoint:
            raise ConfigError("risk.params.checkpoint: required for the learned risk source")
        self.model, self.meta = load_checkpoint(self.config.checkpoint)
        labels, feat = self.meta["labels"], self.meta["feature"]
        if self.config.type not in labels["types"]:
            raise ConfigError(
                f"risk.params.type: {self.config.type!r} not in the checkpoint's {labels['types']}"
            )
        horizon = self.config.horizon or labels["horizons"][0]
        if horizon not in labels["horizons"]:
            raise ConfigError(f"risk.params.horizon: {horizon} not in the checkpoint's {labels['horizons']}")
        self.column = (labels["horizons"].index(horizon), labels["types"].index(self.config.type))
        self.point, self.position = feat["point"], feat["position"]
        self.feature = feature_name(self.point, self.position)

    def capture_spec(self) -> Any:
        """The hook point and position the policy must capture for this source."""
        from mistvla.hooks import CaptureSpec

        return CaptureSpec(points=(self.point,), positions=(self.position,))

    def bind_policy(self, policy: Any) -> None:
        """Make ``policy`` capture this source's point and position (added to what it already captures)."""
        from mistvla.hooks import CaptureSpec
        from mistvla.policies.base import HookedPolicy

        if not isinstance(policy, HookedPolicy):
            raise ConfigError(
                f"risk.source: 'learned' reads hidden states; policy {policy.name!r} has no hook points"
            )
        current = policy._capture.spec if policy._capture is not None else None
        if current is not None and self.point in current.points and self.position in current.positions:
            return
        points = tuple(dict.fromkeys((*(current.points if current else ()), self.point)))
        positions = tuple(dict.fromkeys((*(current.positions if current else ()), self.position)))
        policy.set_capture(CaptureSpec(points=points, positions=positions))

    def reset(self, env: Any) -> None:
        pass

    def risk(self, obs: dict[str, Any]) -> RiskSignal:
        hidden = (obs.get("hidden") or {}).get(self.feature)
        if hidden is None:
            raise ConfigError(
                f"risk.params.checkpoint: the policy captured no {self.point!r} at {self.position!r} this step "
                "(the learned source needs a hooked policy capturing it)"
            )
        score, per_dim = score_hidden(self.model, hidden, self.column)
        return RiskSignal(score, per_dim)
