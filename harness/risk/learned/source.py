"""The ``learned`` risk source: a trained checkpoint applied to this step's hidden state.

``risk: {source: learned, params: {checkpoint: DIR}}``. The source declares
``needs_hidden``: the runner then asks for its risk *after* the policy's
forward pass of the same step and before the action is executed, passing the
captured hidden states in ``obs["hidden"]`` (see ``docs/running.md``, "Order
within a step"). The hidden state is cast to float16 first, exactly as the
results store keeps it, so the stored per-step risk equals the checkpoint
applied offline to the stored shard of that step.

A checkpoint trained with temporal context (``feature.context``) is fed the
stacked last states of the episode (:class:`~.context.ContextBuffer`, emptied at
every reset), the same rows the offline dataset stacks.

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
from mistvla.harness.risk.learned.context import ContextBuffer, ContextSpec
from mistvla.harness.risk.learned.dataset import feature_name


@dataclass
class LearnedConfig:
    checkpoint: str = ""
    """Checkpoint directory written by ``mistvla risk train``."""
    type: str = "any"
    """Failure type of the gate score (one of the checkpoint's label types)."""
    horizon: int | None = None
    """Horizon of the gate score; None: the checkpoint's smallest."""


class HiddenScorer:
    """One hidden-state vector -> (gate score, per-dimension risk), the model's forward without its overhead.

    The same operations as :meth:`RiskMLP.forward <mistvla.harness.risk.learned.model.RiskMLP.forward>` in
    eval mode, in the same order, on the model's own parameter tensors (so the numbers are its numbers).
    In the loop every call runs with cold caches (the policy's forward and the simulator ran in between),
    so each torch call costs 10-40 us there: the elementwise steps (float16 cast, normalization, the
    final product) run in numpy, which rounds each float32 operation the same way (IEEE), and the
    parameters are detached so no autograd or inference-mode context is entered. One intra-op thread:
    a 1-row forward gains nothing from a second, and waiting for one on a loaded CPU cost more than the
    arithmetic (set only when the process is not already on one thread, as the harness's workers are).
    ``tests/risk/learned/test_scorer_identity.py`` holds the scores bit-identical to the module's forward.
    """

    def __init__(self, model: Any, column: tuple[int, int]) -> None:
        import torch

        ln, lin = model.backbone[0], model.backbone[1]
        self.mean = model.mean.detach().numpy().astype(np.float32)
        self.std = model.std.detach().numpy().astype(np.float32)
        self.ln = (tuple(ln.normalized_shape), ln.weight.detach(), ln.bias.detach(), ln.eps)
        self.lin = (lin.weight.detach(), lin.bias.detach())
        self.binary = (model.binary.weight.detach(), model.binary.bias.detach())
        self.dims = (model.per_dim.weight.detach(), model.per_dim.bias.detach())
        self.col = column[0] * model.config.n_types + column[1]  # the (horizon, type) logit's flat index
        self._x = torch.zeros(1, model.config.in_dim)  # the normalized input, written through its numpy view
        self._xn = self._x.numpy()

    def __call__(self, hidden: np.ndarray) -> tuple[float, np.ndarray]:
        import torch
        import torch.nn.functional as F

        x = np.asarray(hidden, dtype=np.float16).reshape(1, -1).astype(np.float32)
        np.divide(np.subtract(x, self.mean, out=x), self.std, out=self._xn)
        x = self._x
        threads = torch.get_num_threads()
        if threads != 1:
            torch.set_num_threads(1)
        try:
            z = F.gelu(F.linear(F.layer_norm(x, *self.ln), *self.lin))
            score = torch.sigmoid(F.linear(z, *self.binary)[0, self.col]).numpy()
            per_dim = score * torch.sigmoid(F.linear(z, *self.dims)[0]).numpy()
        finally:
            if threads != 1:
                torch.set_num_threads(threads)
        per_dim[6:] = 0.0
        return float(score), per_dim


def score_hidden(model: Any, hidden: np.ndarray, column: tuple[int, int]) -> tuple[float, np.ndarray]:
    """Gate score and per-dimension risk of one hidden-state vector (float16-cast, as stored)."""
    return HiddenScorer(model, column)(hidden)


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
        self.scorer = HiddenScorer(self.model, self.column)
        self.context = ContextBuffer(ContextSpec.of(feat.get("context")))
        """The episode's last hidden states, when the checkpoint was trained with temporal context."""

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
        self.context.reset()

    def risk(self, obs: dict[str, Any]) -> RiskSignal:
        hidden = (obs.get("hidden") or {}).get(self.feature)
        if hidden is None:
            raise ConfigError(
                f"risk.params.checkpoint: the policy captured no {self.point!r} at {self.position!r} this step "
                "(the learned source needs a hooked policy capturing it)"
            )
        score, per_dim = self.scorer(self.context.push(hidden))
        return RiskSignal(score, per_dim)
