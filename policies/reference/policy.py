"""The reference policy: a small Llama-block transformer trained on the scripted expert's demonstrations.

It reads proprioception and privileged object poses (no cameras), so it runs
at hundreds of steps per second on a CPU, and it has the hook points of
OpenVLA's language model (``llm.blocks.{i}.resid_post`` ...). Position
``last_prompt`` is the action query token, the state the action is read from;
``mean`` averages every token (instruction, state, environment, query);
``generated`` has one row (there is no decoding).

Perturbations (seeded by the episode seed, so failures are reproducible):
``action_noise`` adds Gaussian noise (std, action units) to the 6 arm dims it
returns; ``pose_noise`` shifts every observed object position horizontally by
a per-episode offset (std in metres, i.e. object-position jitter as the
policy perceives it). The failures that follow are the policy's own: nothing
else is injected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mistvla.harness.envs.vectors import environment_vector, state_vector
from mistvla.hooks.capture import CaptureSpec
from mistvla.hooks.steering import SteeringSpec
from mistvla.policies.base import HookedPolicy, PolicyRequirements
from mistvla.policies.reference.checkpoint import Checkpoint, load_checkpoint
from mistvla.policies.reference.features import environment_features, state_features


def model_inputs(
    ckpt: Checkpoint, ids: list[int], states: np.ndarray, envs: np.ndarray, past: np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids and normalized features for (N, 8) dataset states and (N, 7 K) object poses
    (``past``: the (N, 8) states ``history`` steps earlier, for models with ``history``)."""
    n = len(states)
    if ckpt.model.config.history > 0 and past is None:
        raise ValueError("this checkpoint reads history: pass past (the states history steps earlier)")
    s = ckpt.normalizer.normalize(
        "state", state_features(states, past if ckpt.model.config.history > 0 else None)
    )
    eef = np.asarray(states)[:, :3] if ckpt.model.config.relative_env else None
    e = ckpt.normalizer.normalize("env", environment_features(envs, eef))
    return torch.tensor([ids] * n, dtype=torch.long), torch.from_numpy(s), torch.from_numpy(e)


def decode_actions(ckpt: Checkpoint, out: np.ndarray) -> np.ndarray:
    """(N, 7) network outputs -> env actions: arm un-normalized and clipped, gripper -1 / +1."""
    arm = ckpt.normalizer.unnormalize("action", out[:, :6])
    grip = np.where(out[:, 6:7] > 0, 1.0, -1.0)
    return np.clip(np.concatenate([arm, grip], axis=1), -1.0, 1.0).astype(np.float32)


class ReferencePolicy(HookedPolicy):
    """A trained reference checkpoint acting from state; capture and steering as on OpenVLA.

    Args:
        checkpoint: a directory written by ``mistvla train-policy`` (see
            :mod:`~mistvla.policies.reference.checkpoint`).
        action_noise: std of Gaussian noise on the returned arm action (a perturbation).
        pose_noise: std (m) of a per-episode horizontal offset of each observed object.
        capture, steering: optional hook specs (also settable later).
        threads: torch CPU threads (None: leave torch's setting).
    """

    name = "reference"
    arch = "llama"
    batched_inference = True
    requirements = PolicyRequirements(cameras=(), privileged=True)
    action_positions = ("last_prompt",)
    """The positions the action is read from (the action-query token)."""

    @dataclass(frozen=True)
    class Config:
        checkpoint: str
        action_noise: float = 0.0
        pose_noise: float = 0.0
        capture: CaptureSpec | None = None
        threads: int | None = 1

        def __post_init__(self) -> None:
            for name in ("action_noise", "pose_noise"):
                if getattr(self, name) < 0:
                    raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def __init__(
        self,
        checkpoint: str | Path,
        action_noise: float = 0.0,
        pose_noise: float = 0.0,
        capture: CaptureSpec | None = None,
        steering: SteeringSpec | None = None,
        threads: int | None = 1,
    ) -> None:
        super().__init__()
        self.Config(str(checkpoint), action_noise, pose_noise, capture, threads)  # values checked once
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.ckpt = load_checkpoint(checkpoint)
        self.checkpoint = str(checkpoint)
        self.action_noise, self.pose_noise = float(action_noise), float(pose_noise)
        self.set_capture(capture)
        self.set_steering(steering)
        self._ids: list[int] = []
        self._rng = np.random.default_rng(0)
        self._pose_offset = np.zeros((len(self.ckpt.object_names), 2))
        self.last_step: dict[str, Any] = {}
        self._states: list[np.ndarray] = []

    @classmethod
    def block_count(cls, params: dict[str, Any]) -> int | None:
        """``num_layers`` of the checkpoint's ``config.json`` (None when it cannot be read)."""
        import json

        path = Path(str(params.get("checkpoint", ""))) / "config.json"
        try:
            return int(json.loads(path.read_text())["model"]["num_layers"])
        except (OSError, KeyError, TypeError, ValueError):
            return None

    @property
    def model(self) -> torch.nn.Module:
        return self.ckpt.model

    def hook_model(self) -> torch.nn.Module:
        return self.ckpt.model

    def reset(self, instruction: str, *, seed: int | None = None) -> None:
        super().reset(instruction, seed=seed)
        self._ids = self.ckpt.tokenizer.encode(instruction, self.ckpt.model.config.prompt_length)
        self._rng = np.random.default_rng([0 if seed is None else int(seed), 9])
        k = len(self.ckpt.object_names)
        self._pose_offset = (
            self._rng.normal(0.0, self.pose_noise, (k, 2)) if self.pose_noise > 0 else np.zeros((k, 2))
        )
        self.last_step = {}
        self._states = []

    def observe_state(self, obs: dict[str, Any], remember: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """This step's (8,) state and the one ``history`` steps earlier in the episode (the first
        state while fewer have passed); remembers this one unless ``remember`` is False (call once
        per step with it)."""
        state = state_vector(obs)
        k = self.ckpt.model.config.history
        states = [*self._states, state]
        del states[: max(0, len(states) - k - 1)]
        if remember:
            self._states = states
        return state, states[0]

    def observed_environment(self, obs: dict[str, Any]) -> np.ndarray:
        """(7 K,) object poses as the policy perceives them (with ``pose_noise`` jitter)."""
        env = environment_vector(obs, self.ckpt.object_names).reshape(-1, 7)
        present = np.abs(env).sum(axis=1) > 0
        env[present, :2] += self._pose_offset[present]
        return env.reshape(-1)

    def predict(self, states: np.ndarray, envs: np.ndarray, past: np.ndarray | None = None) -> np.ndarray:
        """(N, 7) raw network outputs for this episode's instruction, hooks armed meanwhile."""
        if self.instruction is None:
            raise RuntimeError("call reset(instruction) before select_action")
        ids, s, e = model_inputs(self.ckpt, self._ids, states, envs, past)
        with torch.inference_mode(), self.hook_session():
            out = self.ckpt.model(ids, s, e)
        return out.numpy()

    def differentiable_action(self, obs: dict[str, Any]) -> torch.Tensor:
        """(7,) this observation's action with autograd on: arm in env units (unclipped), gripper logit.

        It leaves the episode's state alone (no history entry, no noise drawn), so a per-step
        Jacobian (``jacobian_online`` steering) can precede the step's own ``select_action``."""
        state, past = self.observe_state(obs, remember=False)
        ids, s, e = model_inputs(
            self.ckpt, self._ids, state[None], self.observed_environment(obs)[None], past[None]
        )
        with self.hook_session():
            out = self.ckpt.model(ids, s, e)[0]
        stats = self.ckpt.normalizer.stats["action"]
        std, mean = torch.from_numpy(stats["std"][:6]), torch.from_numpy(stats["mean"][:6])
        return torch.cat([out[:6] * std + mean, out[6:]])

    @classmethod
    def select_actions_for(
        cls, policies: Sequence[Any], observations: Sequence[dict[str, Any]]
    ) -> np.ndarray:
        """One batch through the model for several episodes (forks of one policy); same actions as one by one.

        Every prompt has the checkpoint's fixed length, so no padding is needed;
        each policy gets its own ``last_capture`` (its row) and its own noise.
        """
        lead = policies[0]
        if any(p.instruction is None for p in policies):
            raise RuntimeError("call reset(instruction) before select_action")
        pairs = [p.observe_state(o) for p, o in zip(policies, observations, strict=True)]
        states, past = np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs])
        envs = np.stack([p.observed_environment(o) for p, o in zip(policies, observations, strict=True)])
        _, s, e = model_inputs(lead.ckpt, lead._ids, states, envs, past)
        ids = torch.tensor([p._ids for p in policies], dtype=torch.long)
        with torch.inference_mode(), lead.batch_hook_session(policies):
            out = lead.ckpt.model(ids, s, e).numpy()
        actions = decode_actions(lead.ckpt, out)
        for i, p in enumerate(policies):
            p.last_step = {"gripper_logit": float(out[i, 6])}
            if p.action_noise > 0:
                actions[i, :6] = np.clip(actions[i, :6] + p._rng.normal(0.0, p.action_noise, 6), -1.0, 1.0)
        return actions

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """float32 (7,): delta pose in [-1, 1], gripper -1 open / +1 close."""
        state, past = self.observe_state(obs)
        out = self.predict(state[None], self.observed_environment(obs)[None], past[None])
        action = decode_actions(self.ckpt, out)[0]
        self.last_step = {"gripper_logit": float(out[0, 6])}
        if self.action_noise > 0:
            action[:6] = np.clip(action[:6] + self._rng.normal(0.0, self.action_noise, 6), -1.0, 1.0)
        return action
