"""The run configuration (``experiments/*.yaml``), typed and validated up front.

A broken config is an error naming the field; nothing runs on it. ``--set
key=value`` overrides are applied to the YAML data before validation.

>>> cfg = parse_config({"name": "t", "policy": {"name": "random"},
...                     "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1]}})
>>> cfg.episodes.init_states, cfg.interventions[0].name
([0, 1], 'none')
>>> try:
...     parse_config({"name": "t", "policy": {"name": "random"}, "episodes": {"suite": "libero_spatial"},
...                   "interventions": [{"name": "stpo"}]})
... except ConfigError as err:
...     print(err)
interventions[0]: unknown intervention 'stpo'; known: damp, none, random_steer, repel, slow, steer, stop (or a 'package.module:Class' name)
>>> parse_config({"name": "t", "policy": {"name": "random"}, "episodes": {"suite": "libero_spatial"},
...               "env": {"max_step": 5}})
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: env.max_step: unknown key (known: cameras, collision, control_freq, drop, hard_reset, image_size, max_steps, privileged, protocol, reflections, reset_protocol, terminate_on_collision, terminate_on_drop, warmup_steps)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mistvla.harness.envs.tasks import SUITES
from mistvla.harness.errors import ConfigError
from mistvla.harness.interventions.base import InterventionConfig
from mistvla.harness.risk.base import RiskConfig
from mistvla.harness.stats.study import StudyConfig
from mistvla.harness.typed import from_dict, to_dict


@dataclass
class PolicyConfig:
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the policy class (e.g. ``perturbation`` for the scripted expert)."""


@dataclass
class EpisodesConfig:
    suite: str | list[str]
    """One suite, or a list of suites run in one go (tables get per-suite rows and their average)."""
    tasks: list[int] | None = None
    """Task indices (of every suite listed); None: every task of each suite."""
    init_states: list[int] = field(default_factory=lambda: list(range(10)))
    seeds: list[int] = field(default_factory=lambda: [0])
    repeats: int = 1

    def __post_init__(self) -> None:
        if not self.suites:
            raise ValueError("suite must name at least one suite")
        if len(set(self.suites)) != len(self.suites):
            raise ValueError(f"suite has duplicates: {self.suites}")
        for suite in self.suites:
            if suite not in SUITES:
                raise ValueError(f"suite must be one of {list(SUITES)}, got {suite!r}")
        for name in ("init_states", "seeds"):
            values = getattr(self, name)
            if not values:
                raise ValueError(f"{name} must not be empty")
            if len(set(values)) != len(values):
                raise ValueError(f"{name} has duplicates: {values}")
        if any(not 0 <= k < 50 for k in self.init_states):
            raise ValueError(
                f"init_states must be in [0, 49] (LIBERO ships 50 per task), got {self.init_states}"
            )
        if self.repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {self.repeats}")

    @property
    def suites(self) -> list[str]:
        """The suites of the run, in config order (one for a single ``suite: name``).

        >>> EpisodesConfig("libero_goal").suites, EpisodesConfig(["libero_goal", "libero_10"]).suites
        (['libero_goal'], ['libero_goal', 'libero_10'])
        """
        return [self.suite] if isinstance(self.suite, str) else list(self.suite)


@dataclass
class CalibrationConfig:
    """Thresholds come from the base policy's risk on held-out init states, never the evaluated ones."""

    init_states: list[int] = field(default_factory=lambda: [45, 46, 47, 48, 49])
    quantile: float = 0.9
    """Threshold = this quantile of the per-episode peak risk of clean held-out base episodes
    (success, no collision): the intervention would trigger in about ``1 - quantile`` of them."""

    def __post_init__(self) -> None:
        if not 0.0 < self.quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {self.quantile}")
        if any(not 0 <= k < 50 for k in self.init_states):
            raise ValueError(
                f"init_states must be in [0, 49] (LIBERO ships 50 per task), got {self.init_states}"
            )


@dataclass
class PerturbationSpec:
    """One perturbation of a sweep: a registered wrapper, the levels to run, its options."""

    name: str
    levels: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    label: str | None = None
    """Name of this entry in results and tables (default: ``name``); needed to sweep one kind twice."""
    params: dict[str, Any] = field(default_factory=dict)
    """Options of the wrapper (its ``Config``), e.g. ``corruption: fog`` for ``sensor_noise``."""

    def __post_init__(self) -> None:
        from mistvla.harness.envs.wrappers.base import MAX_LEVEL, PERTURBATIONS, perturbation_options

        if self.name not in PERTURBATIONS:
            raise ValueError(f"unknown perturbation {self.name!r}; known: {', '.join(PERTURBATIONS.names())}")
        if not self.levels or any(not 0 <= lvl <= MAX_LEVEL for lvl in self.levels):
            raise ValueError(
                f"levels must be a non-empty list of ints in [0, {MAX_LEVEL}], got {self.levels}"
            )
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels has duplicates: {self.levels}")
        if self.display == "none":
            raise ValueError("label 'none' is reserved for the clean env")
        try:
            perturbation_options(self.name, self.params, "params")
        except ConfigError as err:
            raise ValueError(str(err)) from None

    @property
    def display(self) -> str:
        return self.label or self.name


@dataclass
class SweepConfig:
    """``sweep:``: perturbations x levels over the same episodes, and the clean env unless ``include_clean: false``."""

    perturbations: list[PerturbationSpec] = field(default_factory=list)
    seed: int = 0
    """Seed of the perturbations' sampled parameters (mixed with each episode's seed and init state)."""
    cross_interventions: bool = True
    """Run every intervention under every perturbation (False: perturbed episodes run the base policy only)."""
    include_clean: bool = True
    """False: only the perturbed conditions run (a scenario study whose gate is silent without the hazard)."""

    def __post_init__(self) -> None:
        if not self.include_clean and not any(lvl > 0 for p in self.perturbations for lvl in p.levels):
            raise ValueError("include_clean: false needs a perturbation with a level above 0")
        labels = [p.display for p in self.perturbations]
        if len(set(labels)) != len(labels):
            raise ValueError(f"perturbations need distinct labels (set `label:`), got {labels}")

    def conditions(self) -> list[tuple[str, int]]:
        """Every env condition of the sweep, clean first: ``[("none", 0), (label, level), ...]`` (level 0 is clean)."""
        out = [("none", 0)] if self.include_clean else []
        out += [(p.display, lvl) for p in self.perturbations for lvl in p.levels if lvl > 0]
        return out

    def spec(self, label: str) -> PerturbationSpec:
        return next(p for p in self.perturbations if p.display == label)


@dataclass
class PolicyServerConfig:
    """``executor.policy_server:`` (Ray only): the policy as one actor serving the env actors batched
    (``harness/run/policy_server.py``, ``docs/distributed.md``)."""

    num_gpus: float = 0.0
    """GPUs the server actor reserves (0 on CPU machines; the env actors reserve none)."""
    num_cpus: float = 0.0
    """CPUs the server actor reserves (0: it mostly waits on the model; the env actors keep the CPUs)."""
    replicas: int = 1
    """Server actors (e.g. one per GPU); env actor ``i`` is served by replica ``i % replicas``."""
    max_batch: int = 8
    """Most observations in one batched call; a full batch is answered at once."""
    wait_ms: float = 5.0
    """How long the first request of a batch waits for others before the batch is answered."""

    def __post_init__(self) -> None:
        if self.num_gpus < 0 or self.num_cpus < 0:
            raise ValueError("num_gpus and num_cpus must be >= 0")
        if self.max_batch < 1 or self.wait_ms < 0 or self.replicas < 1:
            raise ValueError("max_batch and replicas must be >= 1 and wait_ms >= 0")


@dataclass
class ExecutorConfig:
    """``executor:``: where episodes run (``docs/distributed.md``); results never depend on it."""

    kind: str = "local"
    """``local`` (worker processes on this machine) or ``ray`` (env workers as Ray actors)."""
    address: str | None = None
    """Ray: None starts a private local cluster; ``auto`` joins the running one (``ray start``); or ``host:port``."""
    num_cpus: int | None = None
    """Ray: CPUs of the private local cluster (None: all of this machine's)."""
    cpus_per_worker: float = 1.0
    """Ray: CPUs each env actor reserves."""
    max_restarts: int = 3
    """Ray: times a dead env actor is restarted (its episode in flight is rerun, never duplicated)."""
    policy_server: PolicyServerConfig | None = None
    """Ray: one policy actor serving every env actor batched (None: each env actor holds its own policy)."""

    def __post_init__(self) -> None:
        if self.kind not in ("local", "ray"):
            raise ValueError(f"kind must be 'local' or 'ray', got {self.kind!r}")
        if self.cpus_per_worker <= 0 or self.max_restarts < 0:
            raise ValueError("cpus_per_worker must be > 0 and max_restarts >= 0")
        if self.policy_server is not None and self.kind != "ray":
            raise ValueError("policy_server needs kind: ray")


@dataclass
class ReportConfig:
    """``report:``: how the run's tables look (not what runs)."""

    reference: list[str] = field(default_factory=list)
    """Published results shown as SR columns beside the run's (``harness/report/published.py``:
    openvla, openvla_oft, smolvla)."""

    def __post_init__(self) -> None:
        from mistvla.harness.report.published import check_reference

        check_reference(self.reference, "report.reference")


@dataclass
class RunConfig:
    name: str
    policy: PolicyConfig
    episodes: EpisodesConfig
    env: dict[str, Any] = field(default_factory=dict)
    """Fields of :class:`~mistvla.harness.envs.libero.LiberoEnvConfig`; ``cameras``, ``image_size``
    and ``privileged`` default to what the policy (and the risk source) consume."""
    interventions: list[InterventionConfig] = field(default_factory=lambda: [InterventionConfig("none")])
    risk: RiskConfig = field(default_factory=RiskConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    output_dir: str = "runs/{name}"
    workers: int = 1
    video: bool = False
    seed: int = 0
    """Seed for everything not tied to an episode (bootstrap resampling)."""
    sweep: SweepConfig | None = None
    """Perturbation-robustness sweep (``docs/perturbations.md``); None: the clean env only."""
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    lockstep: int = 1
    """Episodes each worker runs side by side with one policy (batched calls where the policy has
    ``batched_inference``: results then agree with ``1`` to float32 precision, so it is part of the
    run's identity; see ``harness/run/lockstep.py``)."""
    report: ReportConfig = field(default_factory=ReportConfig)
    stats: StudyConfig | None = None
    """Pre-registered questions, power plan and stopping rule (``docs/statistics.md``); None: none."""

    def __post_init__(self) -> None:
        labels = [i.display for i in self.interventions]
        if len(set(labels)) != len(labels):
            raise ValueError(f"interventions need distinct labels, got {labels}")
        if "none" not in labels:
            raise ValueError("interventions must include the base policy `none` to compare against")
        overlap = set(self.calibration.init_states) & set(self.episodes.init_states)
        gated = [i for i in self.interventions if i.name != "none" and i.threshold is None]
        if gated and overlap:
            raise ValueError(
                f"calibration.init_states {sorted(overlap)} are also evaluated; thresholds must be "
                "calibrated on held-out init states"
            )
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.lockstep < 1:
            raise ValueError(f"lockstep must be >= 1, got {self.lockstep}")
        from mistvla.harness.envs.config import LiberoEnvConfig

        self._env_config = from_dict(LiberoEnvConfig, self.env, "env")  # parsed once, every key checked now
        if self.stats is not None:
            self._check_hypotheses(labels)

    def env_for(self, requirements: Any) -> Any:
        """The env's :class:`~mistvla.harness.envs.config.LiberoEnvConfig` (parsed once, at load): the ``env:``
        section, with the ``cameras``, ``image_size`` and ``privileged`` it leaves out taken from what the
        policy's ``requirements`` and the risk source consume (``agentview`` alone for a video run)."""
        import dataclasses

        from mistvla.harness.risk.base import risk_source_class

        base = self._env_config
        cameras = base.cameras if "cameras" in self.env else tuple(requirements.cameras)
        if self.video and not cameras:
            cameras = ("agentview",)  # rendered only for the video
        image_size = base.image_size if "image_size" in self.env else requirements.image_size
        needs = requirements.privileged or risk_source_class(self.risk.source).needs_privileged
        return dataclasses.replace(
            base, cameras=cameras, image_size=image_size, privileged=base.privileged or needs
        )

    def conditions(self) -> list[str]:
        """The env conditions episodes run under, as report scopes: ``clean``, ``<perturbation> L<level>``."""
        out = ["clean"] if self.sweep is None or self.sweep.include_clean else []
        for spec in self.sweep.perturbations if self.sweep is not None else []:
            out += [f"{spec.display} L{lvl}" for lvl in spec.levels if lvl > 0]
        return out

    def _check_hypotheses(self, labels: list[str]) -> None:
        assert self.stats is not None
        for i, h in enumerate(self.stats.hypotheses):
            where = f"stats.hypotheses[{i}]"
            if h.row not in labels or h.row == "none":
                treated = [x for x in labels if x != "none"]
                raise ConfigError(
                    f"{where}.row: {h.row!r} is not an intervention of this run; one of {treated}"
                )
            if h.condition is not None and h.condition not in self.conditions():
                raise ConfigError(
                    f"{where}.condition: {h.condition!r} is not a condition of this run; one of {self.conditions()}"
                )
            crossed = self.sweep is None or self.sweep.cross_interventions
            if h.condition not in (None, "clean") and not crossed:
                raise ConfigError(
                    f"{where}.condition: {h.condition!r} has only base episodes; "
                    "set sweep.cross_interventions: true to test interventions under it"
                )

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir.format(name=self.name))

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def _apply_override(data: dict[str, Any], assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"--set expects key=value, got {assignment!r}")
    key, raw = assignment.split("=", 1)
    value = yaml.safe_load(raw)
    node: Any = data
    parts = key.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def parse_config(data: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Validate plain data (e.g. loaded YAML) plus ``key=value`` overrides into a :class:`RunConfig`."""
    data = yaml.safe_load(yaml.safe_dump(data))  # deep copy, plain types
    for assignment in overrides:
        _apply_override(data, assignment)
    if isinstance(data, dict) and isinstance(data.get("interventions"), list):
        data["interventions"] = [InterventionConfig.from_yaml(i) for i in data["interventions"]]
    return from_dict(RunConfig, data)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read and validate a YAML run config."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{p}: not valid YAML: {err}") from err
    return parse_config(data or {}, overrides)
