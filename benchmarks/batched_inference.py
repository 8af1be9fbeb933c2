"""Lock-step batched inference against the one-at-a-time runner, same process, same envs.

``--policy reference``: the reference policy with the shipped network sizes
(hidden 256, 4 layers, random weights: speed does not depend on them) on CPU,
``--envs`` LIBERO envs of libero_spatial task 0 (state only, no rendering).
``--policy openvla``: the tiny offline OpenVLA stand-in
(:mod:`mistvla.policies.testing.tiny_llava` at its default sizes: Llama 64 x 4
layers, 49 image tokens; 7 greedy tokens per step), agentview rendered at
``--image-size`` (64 by default: the rendering cost is the simulator's, the
same in every mode). For batch B in
``--batches`` the lock-step runner (:mod:`mistvla.harness.run.lockstep`) runs
groups of B episodes; the baseline runs the same episodes one after another
with :func:`~mistvla.harness.run.episode.run_episode`. Printed: episodes/h,
policy forward calls/s, and the ratio to the baseline, plus the time in the
policy alone (the part batching can speed up; the simulator steps stay serial).

    .venv/bin/python benchmarks/batched_inference.py [--policy reference|openvla] [--envs 8] [--steps 60] [--batches 1 4 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mistvla.harness.envs.libero import LiberoEnv
from mistvla.harness.interventions.base import InterventionConfig, make_intervention
from mistvla.harness.results.identity import EpisodeId
from mistvla.harness.risk.constant import ConstantConfig, ConstantRisk
from mistvla.harness.run.episode import run_episode
from mistvla.harness.run.lockstep import LockstepEpisode, LockstepStats, run_lockstep
from mistvla.harness.run.plan import EpisodeSpec
from mistvla.policies.reference.checkpoint import Checkpoint, save_checkpoint
from mistvla.policies.reference.features import environment_features
from mistvla.policies.reference.model import ReferenceConfig, ReferenceModel
from mistvla.policies.reference.normalization import Normalizer
from mistvla.policies.reference.policy import ReferencePolicy
from mistvla.policies.reference.tokenizer import WordTokenizer


def checkpoint(env: LiberoEnv, tmp: Path) -> Path:
    names = list(env.object_names)
    torch.manual_seed(0)
    tok = WordTokenizer.build([env.instruction])
    env_dim = environment_features(np.zeros((1, 7 * len(names)))).shape[1]
    model = ReferenceModel(ReferenceConfig(len(tok.vocab), env_dim))
    rng = np.random.default_rng(0)
    norm = Normalizer.fit(
        {"state": rng.normal(size=(50, model.config.state_dim)), "env": rng.normal(size=(50, env_dim)),
         "action": rng.normal(size=(50, 6))}
    )  # fmt: skip
    return save_checkpoint(tmp / "ckpt", Checkpoint(model, tok, norm, names, {"by": "init_state"}, {}))


def make_policy(kind: str, env: LiberoEnv, tmp: Path) -> tuple[object, type, str]:
    """(policy, its class, a description) for ``--policy``."""
    if kind == "reference":
        return (
            ReferencePolicy(checkpoint(env, tmp)),
            ReferencePolicy,
            "reference policy (hidden 256, 4 layers)",
        )
    from mistvla.policies.openvla.policy import OpenVLAPolicy
    from mistvla.policies.testing.tiny_llava import build_tiny_llava

    return (
        OpenVLAPolicy(build_tiny_llava(tmp / "tiny_openvla")),
        OpenVLAPolicy,
        "tiny OpenVLA (Llama 64 x 4, 49 patches)",
    )


def episodes(envs: list[LiberoEnv], start: int, policy: str = "reference") -> list[LockstepEpisode]:
    none = InterventionConfig.make("none")
    return [
        LockstepEpisode(
            env,
            make_intervention(none, None),
            ConstantRisk(ConstantConfig(0.0)),
            EpisodeSpec(EpisodeId(policy, "none", "libero_spatial", 0, (start + i) % 50, 0)),
        )
        for i, env in enumerate(envs)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--policy", choices=["reference", "openvla"], default="reference")
    parser.add_argument("--image-size", type=int, default=64, help="openvla: agentview render size")
    args = parser.parse_args()
    torch.set_num_threads(1)
    view = {"cameras": ("agentview",), "image_size": args.image_size} if args.policy == "openvla" else {}
    envs = [
        LiberoEnv("libero_spatial", 0, privileged=not view, max_steps=args.steps, **({"cameras": ()} | view))
        for _ in range(args.envs)
    ]
    policy, cls, described = make_policy(args.policy, envs[0], Path(tempfile.mkdtemp()))
    in_policy = {"s": 0.0}
    real_batch, real_one = cls.select_actions_for.__func__, cls.select_action

    def timed_batch(cls, policies, observations):
        t = time.perf_counter()
        try:
            return real_batch(cls, policies, observations)
        finally:
            in_policy["s"] += time.perf_counter() - t

    def timed_one(self, obs):
        t = time.perf_counter()
        try:
            return real_one(self, obs)
        finally:
            in_policy["s"] += time.perf_counter() - t

    cls.select_actions_for = classmethod(timed_batch)
    cls.select_action = timed_one
    n = args.envs
    rows = []
    in_policy["s"] = 0.0
    t = time.perf_counter()
    calls = 0
    for e in episodes(envs, 0, args.policy):
        res = run_episode(e.env, policy, e.intervention, e.risk_source, e.spec)
        calls += res.record["steps"]
    base = time.perf_counter() - t
    rows.append(("one at a time", base, calls, in_policy["s"]))
    for b in args.batches:
        in_policy["s"] = 0.0
        stats = LockstepStats()
        t = time.perf_counter()
        for g in range(0, n, b):
            run_lockstep(policy, episodes(envs[g : g + b], g, args.policy), stats=stats)
        rows.append((f"lock-step batch {b}", time.perf_counter() - t, stats.policy_calls, in_policy["s"]))
    for env in envs:
        env.close()
    print(f"{n} episodes x {args.steps} steps, {described} on CPU, 1 torch thread")
    print(
        f"{'mode':<20} {'episodes/h':>10} {'ratio':>6} {'fwd calls/s':>11} {'policy s':>9} {'policy ratio':>12}"
    )
    for name, secs, calls, pol in rows:
        print(
            f"{name:<20} {3600 * n / secs:10.0f} {base / secs:6.2f} {calls / pol:11.1f} {pol:9.2f} "
            f"{rows[0][3] / pol:12.2f}"
        )


if __name__ == "__main__":
    main()
