"""Where an episode's time goes: exclusive wall time per phase of real episodes of a run config.

:class:`PhaseTimer` wraps callables so that each phase's time is **exclusive**
(time spent in a nested timed call is booked to the inner phase): env build,
reset (warm-up and init-state restore), simulator substeps (``sim.step`` /
``sim.forward``, with the substep collision ledger that wraps ``sim.step``), rendering (``sim.render``), the rest of the env step
(observation assembly, collision ledger, checks), the policy's forward pass
(hooks included), risk scoring, the intervention, the per-step record of the
episode loop, and the episode write to a results store; the policy build (imports, checkpoint) once per worker. The wrappers are set
on the instances of one worker only (:class:`ProfiledWorker`) and the results
are the same as an unprofiled run's (the same code runs, only timed).

>>> t = PhaseTimer()
>>> f = t.timed("outer", lambda: t.timed("inner", lambda: 1)())
>>> f(), sorted(t.calls.items())
(1, [('inner', 1), ('outer', 1)])
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mistvla.harness.config.run import RunConfig
from mistvla.harness.interventions.base import Intervention
from mistvla.harness.risk.base import RiskSource
from mistvla.harness.run.plan import EpisodeSpec, env_key
from mistvla.harness.run.worker import Worker

PHASES = (
    ("policy_build", "policy build (once per worker)"),
    ("env_build", "env build"),
    ("reset", "reset (warm-up, init state)"),
    ("sim", "simulator substeps (with the substep collision ledger)"),
    ("render", "rendering"),
    ("env_step", "env step: observation, ledger, checks"),
    ("policy", "policy forward (hooks included)"),
    ("risk", "risk scoring"),
    ("intervention", "intervention (gate, apply)"),
    ("loop", "episode loop: per-step record"),
    ("write", "episode write (results store)"),
)


class PhaseTimer:
    """Exclusive time and call count per phase name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[float] = []  # child time of each open call
        self._absorbing = 0

    def timed(self, name: str, fn: Callable[..., Any], absorb: bool = False) -> Callable[..., Any]:
        """``fn`` timed as ``name``; with ``absorb`` the timed calls inside it are booked to ``name`` too."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self._absorbing:
                return fn(*args, **kwargs)
            self._stack.append(0.0)
            self._absorbing += absorb
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                self._absorbing -= absorb
                children = self._stack.pop()
                self.seconds[name] += elapsed - children
                self.calls[name] += 1
                if self._stack:
                    self._stack[-1] += elapsed

        return wrapper

    def patch(self, obj: Any, method: str, name: str, absorb: bool = False) -> None:
        """Time ``obj.method`` (on this instance only) as phase ``name``."""
        setattr(obj, method, self.timed(name, getattr(obj, method), absorb))


class ProfiledWorker(Worker):
    """A :class:`Worker` whose envs, simulators, policy, risk source and intervention are timed.

    Every env it runs is instrumented, the extra envs of a ``lockstep: N`` group too.
    """

    def __init__(self, cfg: RunConfig, timer: PhaseTimer) -> None:
        super().__init__(cfg)
        self.timer = timer
        self._patched: set[int] = set()
        self._sims: dict[int, tuple[Any, dict[str, Any]]] = {}  # env id -> its simulator, saved methods

    def env(self, key: tuple[str, int]) -> Any:
        fresh = key not in self.envs
        if fresh:
            _ = self.policy  # built before the clock for the env starts
        env = self.timer.timed("env_build", super().env)(key) if fresh else self.envs[key]
        return self._instrument(env)

    def _group_envs(self, task: tuple[str, int], n: int) -> list[Any]:
        _ = self.policy
        envs = self.timer.timed("env_build", super()._group_envs)(task, n)
        return [self._instrument(e) for e in envs]

    def _instrument(self, env: Any) -> Any:
        if id(env) in self._patched:
            return env
        self._patched.add(id(env))
        reset = self.timer.timed("reset", env.reset, absorb=True)  # its warm-up steps and renders included

        def reset_and_patch(*args: Any, **kwargs: Any) -> Any:
            self._unpatch_sim(
                id(env)
            )  # the collision ledger re-attaches at reset: it must find its own wrapper
            out = reset(*args, **kwargs)
            self._patch_sim(
                id(env), env.sim
            )  # after the ledger attached (a hard reset builds a new simulator)
            return out

        env.reset = reset_and_patch
        self.timer.patch(env, "step", "env_step")
        return env

    def _patch_sim(self, key: int, sim: Any) -> None:
        saved = {m: vars(sim).get(m) for m in ("step", "forward", "render") if hasattr(sim, m)}
        for method in saved:
            self.timer.patch(sim, method, "render" if method == "render" else "sim")
        self._sims[key] = (sim, saved)

    def close_envs(self) -> None:
        for key in list(self._sims):
            self._unpatch_sim(key)  # the ledger detaches at close: it must find its own wrapper
        super().close_envs()

    def close_extra_envs(self) -> None:
        for key in list(self._sims):
            if not any(id(e) == key for e in self.envs.values()):
                self._unpatch_sim(key)
        super().close_extra_envs()

    def _unpatch_sim(self, key: int) -> None:
        sim, saved = self._sims.pop(key, (None, {}))
        for method, original in saved.items():
            if original is None:
                vars(sim).pop(method, None)
            else:
                setattr(sim, method, original)

    @property
    def policy(self) -> Any:
        if self._policy is None:
            self._policy = self.timer.timed("policy_build", lambda: Worker.policy.fget(self))()
        policy = self._policy
        if not getattr(policy, "_mistvla_profiled", False):
            self._time_policy(policy)
        return policy

    def _time_policy(self, policy: Any) -> None:
        """Time ``policy``'s calls; its lock-step forks are timed on their own instances too."""
        for method in ("select_action", "select_actions"):
            vars(policy).pop(method, None)  # a fork's copy of the wrapper would call the original's method
            if hasattr(policy, method):
                self.timer.patch(policy, method, "policy")
        fork = type(policy).fork

        def timed_fork() -> Any:
            other = fork(policy)
            self._time_policy(other)
            return other

        policy.fork = timed_fork
        policy._mistvla_profiled = True

    def run_group(self, specs: list[EpisodeSpec], thresholds: dict[str, float | None]) -> list[Any]:
        cls = type(self.policy)  # a batched policy's lock-step call is its class's select_actions_for
        saved = vars(cls).get("select_actions_for")
        cls.select_actions_for = staticmethod(self.timer.timed("policy", cls.select_actions_for))
        try:
            return super().run_group(specs, thresholds)
        finally:
            if saved is None:
                delattr(cls, "select_actions_for")
            else:
                cls.select_actions_for = saved

    def episode_parts(self, env: Any, spec: EpisodeSpec, thresholds: dict[str, float | None]
                      ) -> tuple[Any, Intervention, RiskSource]:  # fmt: skip
        env, intervention, risk = super().episode_parts(env, spec, thresholds)
        self.timer.patch(risk, "risk", "risk")
        for method in ("gate", "apply"):
            self.timer.patch(intervention, method, "intervention")
        return env, intervention, risk


def profile_episodes(cfg: RunConfig, specs: list[EpisodeSpec], store_dir: Path,
                     thresholds: dict[str, float | None] | None = None) -> dict[str, Any]:  # fmt: skip
    """Run ``specs`` in this process, timed; each result is written to a fresh store in ``store_dir``."""
    from mistvla.harness.results.store import ResultsStore
    from mistvla.harness.run.run_identity import identity

    timer = PhaseTimer()
    worker = ProfiledWorker(cfg, timer)
    thresholds = thresholds or {i.display: 0.0 for i in cfg.interventions}
    steps = 0
    t0 = time.perf_counter()
    with ResultsStore.open(store_dir, identity(cfg)) as store:
        write = timer.timed("write", store.write_episode)
        step_results = timer.timed("loop", next)
        for chunk in _task_chunks(specs):  # one task's episodes, run as the worker runs them (lockstep: N)
            results = worker.run_chunk(chunk, thresholds)
            while (result := step_results(results, None)) is not None:
                steps += int(result.record["steps"])
                write(result.record, result.steps, result.hidden or None)
    wall = time.perf_counter() - t0
    worker.close()
    seconds = dict(timer.seconds)
    return {
        "episodes": len(specs),
        "steps": steps,
        "wall_s": wall,
        "seconds": seconds,
        "calls": dict(timer.calls),
    }


def _task_chunks(specs: list[EpisodeSpec]) -> list[list[EpisodeSpec]]:
    """Consecutive runs of ``specs`` with the same env (suite, task), in order."""
    chunks: list[list[EpisodeSpec]] = []
    for spec in specs:
        if chunks and env_key(chunks[-1][-1]) == env_key(spec):
            chunks[-1].append(spec)
        else:
            chunks.append([spec])
    return chunks


def format_profile(profile: dict[str, Any], title: str = "") -> str:
    """A Markdown table: seconds, share of the wall time and ms per env step, per phase."""
    wall, steps = profile["wall_s"], max(1, profile["steps"])
    head = f"{title} ({profile['episodes']} episodes, {profile['steps']} steps, {wall:.1f} s, "
    head += f"{profile['steps'] / wall:.1f} steps/s)"
    lines = [head if title else "", "", "| phase | s | share % | ms / step |", "|---|---:|---:|---:|"]
    accounted = 0.0
    for key, label in PHASES:
        s = profile["seconds"].get(key, 0.0)
        accounted += s
        lines.append(f"| {label} | {s:.2f} | {100 * s / wall:.1f} | {1000 * s / steps:.2f} |")
    rest = wall - accounted
    lines.append(f"| other (untimed) | {rest:.2f} | {100 * rest / wall:.1f} | {1000 * rest / steps:.2f} |")
    return "\n".join(lines).strip() + "\n"


__all__ = ["PHASES", "PhaseTimer", "ProfiledWorker", "format_profile", "profile_episodes"]
