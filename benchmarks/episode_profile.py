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
    .venv/bin/python benchmarks/episode_profile.py --episodes 12 --set lockstep=4   # 4 envs, one batched policy

Rounds alternate the order (mistvla first, then raw first, ...) after a warm-up that imports and builds
LIBERO once, so neither side pays the first import; the table gives every round and the median ratio.
mistvla's policy build (imports, checkpoint: once per worker, not per episode) is reported, not counted.

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
from mistvla.harness.envs.rendering import configure_scene  # noqa: E402
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
        if cams and not config.reflections:  # the same render flag as mistvla's env (env.reflections)
            configure_scene(env.env.sim._render_context_offscreen.scn, reflections=False)
        for _ in range(config.warmup_steps):
            env.step(NOOP_ACTION)
        for a in actions[spec.key]:
            env.step(a)
        t_run += time.perf_counter() - t0
        steps += len(actions[spec.key])
    for env in envs.values():
        env.close()
    return {"steps": steps, "build_s": t_build, "run_s": t_run}


def warm_up(specs, config) -> None:
    """Import and build what both sides use once (LIBERO, robosuite, EGL), so neither pays it in its timing."""
    raw_replay(specs[:1], {specs[0].key: np.zeros((1, 7))}, config)


def measure_ours(cfg, specs) -> tuple[dict, dict[str, np.ndarray]]:
    with tempfile.TemporaryDirectory() as tmp:
        profile = profile_episodes(cfg, specs, Path(tmp) / "store")
        from mistvla.harness.results.store import ResultsStore

        rows = ResultsStore.read(Path(tmp) / "store").steps().to_pylist()
    actions: dict[str, list] = {}
    for r in rows:
        actions.setdefault(r["episode_key"], []).append(np.asarray(r["executed_action"], dtype=np.float64))
    return profile, {k: np.asarray(v) for k, v in actions.items()}


def rates(profile: dict, raw: dict) -> dict[str, float]:
    """Steps/s of each side with and without env builds; mistvla's policy build (once per worker) left out."""
    s = profile["seconds"]
    policy_build, env_build = s.get("policy_build", 0.0), s.get("env_build", 0.0)
    ours = profile["steps"] / (profile["wall_s"] - policy_build)
    ours_run = profile["steps"] / (profile["wall_s"] - policy_build - env_build)
    raw_rate = raw["steps"] / (raw["run_s"] + raw["build_s"])
    raw_run = raw["steps"] / raw["run_s"]
    return {"raw": raw_rate, "raw_run": raw_run, "ours": ours, "ours_run": ours_run,
            "ratio": ours / raw_rate, "ratio_run": ours_run / raw_run, "policy_build_s": policy_build}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="experiments/mist.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--episodes", type=int, default=4, help="episodes of the plan, one task first")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds: ours then raw, raw then ours, ..."
    )
    parser.add_argument("--out", default=None, help="write the numbers as JSON here")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    cfg = load_config(args.config, args.set)
    specs = plan_episodes(cfg)[: args.episodes]
    config = cfg.env_for(Worker(cfg).policy.requirements)
    warm_up(specs, config)
    first, actions = measure_ours(cfg, specs)
    rounds = [rates(first, raw_replay(specs, actions, config))]
    for r in range(1, args.rounds):
        if r % 2:  # raw first this round
            raw = raw_replay(specs, actions, config)
            profile, _ = measure_ours(cfg, specs)
        else:
            profile, _ = measure_ours(cfg, specs)
            raw = raw_replay(specs, actions, config)
        rounds.append(rates(profile, raw))
    print(format_profile(first, f"{args.config} {' '.join(args.set)}"))
    print(
        f"policy build (once per worker, left out below): {first['seconds'].get('policy_build', 0.0):.2f} s\n"
    )
    print("| round | raw LIBERO steps/s incl. / excl. env builds | mistvla | ratio incl. / excl. builds |")
    print("|---|---|---|---|")
    for i, x in enumerate(rounds, 1):
        order = "raw first" if i % 2 == 0 else "mistvla first"
        print(f"| {i} ({order}) | {x['raw']:.1f} / {x['raw_run']:.1f} | {x['ours']:.1f} / {x['ours_run']:.1f} "
              f"| {x['ratio']:.2f} / {x['ratio_run']:.2f} |")  # fmt: skip
    med = {k: float(np.median([x[k] for x in rounds])) for k in ("ratio", "ratio_run")}
    print(f"| median | | | **{med['ratio']:.2f} / {med['ratio_run']:.2f}** |")
    if args.out:
        Path(args.out).write_text(json.dumps({"profile": first, "rounds": rounds, "median": med}, indent=2))


if __name__ == "__main__":
    main()
