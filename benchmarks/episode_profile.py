"""Where an episode's time goes, and how close `mistvla run` comes to raw LIBERO's step rate.

1. Profile: real episodes of a run config in one process, exclusive wall time per phase
   (:mod:`mistvla.harness.run.profile`: env build, reset, substeps, rendering, env step, policy, risk,
   intervention, per-step record, episode write).
2. Ratio: the same tasks, init states and **executed action sequences** replayed in LIBERO's own
   ``OffScreenRenderEnv`` (LIBERO's reset + ``set_init_state`` + the same warm-up, the same cameras),
   in the same process right after; steps per second of each and the ratio mistvla / raw (issue target:
   >= 0.85 end to end).

    .venv/bin/python benchmarks/episode_profile.py                         # the main job's config, 4 episodes
    .venv/bin/python benchmarks/episode_profile.py --config experiments/quickstart.yaml --episodes 4
    .venv/bin/python benchmarks/episode_profile.py --set 'env.cameras=[agentview,robot0_eye_in_hand]'

BLAS/OpenMP are pinned to one thread as the harness's workers are. Writes ``--out`` (JSON) if given.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from mistvla.harness.config.run import load_config  # noqa: E402
from mistvla.harness.envs.libero import NOOP_ACTION  # noqa: E402
from mistvla.harness.envs.tasks import get_task, load_init_states  # noqa: E402
from mistvla.harness.run.plan import plan_episodes  # noqa: E402
from mistvla.harness.run.profile import format_profile, profile_episodes  # noqa: E402
from mistvla.harness.run.worker import Worker  # noqa: E402


def raw_replay(specs, actions: dict[str, np.ndarray], config) -> dict[str, float]:
    """LIBERO's own env on the same episodes: build per task, reset, init state, warm-up, the same actions."""
    from libero.libero.envs import OffScreenRenderEnv

    cams = list(config.cameras)
    steps, t_build, t_run, envs = 0, 0.0, 0.0, {}
    for spec in specs:
        key = (spec.id.suite, spec.id.task_index)
        if key not in envs:
            t0 = time.perf_counter()
            for env in envs.values():
                env.close()
            envs.clear()
            with contextlib.redirect_stdout(io.StringIO()):
                envs[key] = OffScreenRenderEnv(
                    bddl_file_name=get_task(*key).bddl_file, has_offscreen_renderer=bool(cams),
                    use_camera_obs=bool(cams), camera_names=cams or ["agentview"],
                    camera_heights=config.image_size, camera_widths=config.image_size,
                    control_freq=config.control_freq, hard_reset=config.hard_reset,
                    horizon=config.warmup_steps + 10_000,
                )  # fmt: skip
            if not cams:
                envs[key].env.has_offscreen_renderer = False
            t_build += time.perf_counter() - t0
        env = envs[key]
        t0 = time.perf_counter()
        env.seed(spec.id.seed)
        env.reset()
        env.set_init_state(load_init_states(*key)[spec.id.init_state])
        for _ in range(config.warmup_steps):
            env.step(NOOP_ACTION)
        for a in actions[spec.key]:
            env.step(a)
        t_run += time.perf_counter() - t0
        steps += len(actions[spec.key])
    for env in envs.values():
        env.close()
    return {"steps": steps, "build_s": t_build, "run_s": t_run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="experiments/mist.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--episodes", type=int, default=4, help="episodes of the plan, one task first")
    parser.add_argument("--out", default=None, help="write the numbers as JSON here")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    cfg = load_config(args.config, args.set)
    specs = plan_episodes(cfg)[: args.episodes]
    with tempfile.TemporaryDirectory() as tmp:
        profile = profile_episodes(cfg, specs, Path(tmp) / "store")
        from mistvla.harness.results.store import ResultsStore

        rows = ResultsStore.read(Path(tmp) / "store").steps().to_pylist()
    actions: dict[str, list] = {}
    for r in rows:
        actions.setdefault(r["episode_key"], []).append(np.asarray(r["executed_action"], dtype=np.float64))
    config = cfg.env_for(Worker(cfg).policy.requirements)
    raw = raw_replay(specs, actions, config)
    ours_rate = profile["steps"] / profile["wall_s"]
    builds = profile["seconds"].get("env_build", 0.0) + profile["seconds"].get("policy_build", 0.0)
    ours_run = profile["steps"] / (profile["wall_s"] - builds)
    raw_rate = raw["steps"] / (raw["run_s"] + raw["build_s"])
    raw_run = raw["steps"] / raw["run_s"]
    print(format_profile(profile, f"{args.config} {' '.join(args.set)}"))
    print("| | steps/s incl. env builds | steps/s excl. builds |")
    print("|---|---:|---:|")
    print(f"| raw LIBERO (same episodes, same actions) | {raw_rate:.1f} | {raw_run:.1f} |")
    print(f"| mistvla, whole episode loop | {ours_rate:.1f} | {ours_run:.1f} |")
    print(f"| ratio mistvla / raw | {ours_rate / raw_rate:.2f} | {ours_run / raw_run:.2f} |")
    if args.out:
        Path(args.out).write_text(
            json.dumps({"profile": profile, "raw": raw, "ratio": ours_run / raw_run}, indent=2)
        )


if __name__ == "__main__":
    main()
