"""A run's statistical plan in practice: ``mistvla preregister``, ``mistvla plan --power``, and the checks of ``mistvla run``.

* :func:`preregister` writes ``prereg.json`` (the hash of the run identity, the
  hypotheses of ``stats.hypotheses``, the analysis and the stopping rule) into
  the run directory, and refuses once any episode exists.
* :func:`power_lines` sizes each question: the paired units the run plans for
  it against the units needed to detect ``stats.power.effect_pp`` at the
  planned power (exact McNemar, :func:`~mistvla.harness.stats.power.units_needed`),
  from a pilot run's discordance or from stated assumptions. With ``k``
  questions each is planned at ``alpha / k`` (Bonferroni, conservative for Holm).
* :func:`check_study` runs before ``mistvla run`` touches anything: a stopping
  rule needs a pre-registration of this very config; a changed config after
  pre-registration is said (its tests will be exploratory); an under-powered
  plan is warned about.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

from mistvla.harness.config.run import RunConfig
from mistvla.harness.errors import ConfigError, StoreError
from mistvla.harness.report.hypotheses import BASE, unit_outcomes
from mistvla.harness.run.plan import plan_episodes
from mistvla.harness.run.run_identity import identity
from mistvla.harness.stats.config import PowerConfig, check_stopping_preregistered
from mistvla.harness.stats.power import SampleSize, units_needed
from mistvla.harness.stats.prereg import (
    Hypothesis,
    Prereg,
    build_prereg,
    identity_hash,
    read_prereg,
    write_prereg,
)


def questions(cfg: RunConfig) -> list[Hypothesis]:
    """The run's questions: its hypotheses, else one per treated row on ``stats.power.metric``."""
    stats = cfg.stats
    if stats is not None and stats.hypotheses:
        return list(stats.hypotheses)
    metric = stats.power.metric if stats is not None and stats.power is not None else "sr"
    direction = stats.power.alternative if stats is not None and stats.power is not None else "two-sided"
    return [Hypothesis(i.display, metric, direction) for i in cfg.interventions if i.display != BASE]


def planned_units(cfg: RunConfig, hypothesis: Hypothesis) -> int:
    """Pairing units the plan gives ``hypothesis`` (its row's planned episodes in its condition)."""
    from mistvla.harness.report.hypotheses import applies

    return sum(s.id.intervention == hypothesis.row and applies(hypothesis, s.id) for s in plan_episodes(cfg))


def preregister(cfg: RunConfig) -> Path:
    """Write ``prereg.json`` for ``cfg`` into its run directory, before the first episode."""
    from mistvla.harness.run.checks import check_run

    if cfg.stats is None or not cfg.stats.hypotheses:
        raise ConfigError(
            "stats.hypotheses: nothing to pre-register; list the tests (row, metric, direction)"
        )
    check_run(cfg)
    episodes = cfg.run_dir / "episodes"
    if episodes.exists() and any(episodes.iterdir()):
        raise StoreError(
            f"{cfg.run_dir}: episodes exist already; a pre-registration must precede the first episode"
        )
    notes = {"power": [line.text() for line in power_lines(cfg)]} if cfg.stats.power is not None else {}
    record = build_prereg(identity(cfg), cfg.stats.hypotheses, cfg.stats.stopping, notes=notes)
    return write_prereg(cfg.run_dir, record)


@dataclass(frozen=True)
class PowerLine:
    """One question's plan: units planned, units needed (or why they cannot be computed)."""

    hypothesis: Hypothesis
    planned: int
    effect_pp: float
    alpha: float
    power: float
    source: str
    needed: SampleSize | None = None
    problem: str | None = None

    @property
    def enough(self) -> bool | None:
        return None if self.needed is None else self.planned >= self.needed.n

    def text(self) -> str:
        h = self.hypothesis
        head = f"{h.question} ({h.direction}): {self.planned} units planned"
        if self.needed is None:
            return f"{head}; units needed unknown: {self.problem}"
        verdict = "enough" if self.enough else f"NOT enough: {self.needed.n - self.planned} more units needed"
        return (
            f"{head}; {self.needed.n} needed for {self.effect_pp:g} pp at power {self.power:g}, alpha "
            f"{self.alpha:.3g} (discordance {self.needed.rates.discordance:.3f} from {self.source}) -> {verdict}"
        )


def _pilot_episodes(path: str) -> list[dict]:
    from mistvla.harness.results.store import ResultsStore

    if not (Path(path) / "manifest.json").is_file():
        raise ConfigError(f"stats.power.pilot_run: {path} is not a mistvla run directory (no manifest.json)")
    return ResultsStore.read(path).episodes().to_pylist()


def power_lines(cfg: RunConfig, power: PowerConfig | None = None) -> list[PowerLine]:
    """Each question's power plan under ``power`` (default ``cfg.stats.power``)."""
    power = power or (cfg.stats.power if cfg.stats is not None else None)
    if power is None:
        raise ConfigError(
            "stats.power: the config has no power block; give --effect and --pilot RUN, "
            "or add stats.power with effect_pp and assume or pilot_run"
        )
    qs = questions(cfg)
    alpha = power.alpha / max(1, len(qs))
    pilot = _pilot_episodes(power.pilot_run) if power.pilot_run is not None else None
    out = []
    for h in qs:
        p = dataclasses.replace(power, metric=h.metric, alternative=h.direction)
        planned = planned_units(cfg, h)
        stop = cfg.stats.stopping if cfg.stats is not None else None
        if stop is not None:
            planned = min(planned, stop.max_units)
        source = f"pilot {power.pilot_run}" if pilot is not None else "stated assumptions"
        line = PowerLine(h, planned, power.effect_pp, alpha, power.power, source)
        try:
            rates = p.rates(_pilot_pairs(pilot, h) if pilot is not None else None)
            out.append(dataclasses.replace(line, needed=units_needed(rates, alpha, power.power, h.direction)))
        except (ValueError, ConfigError) as err:
            out.append(dataclasses.replace(line, problem=str(err)))
    return out


def _pilot_pairs(pilot: list[dict], h: Hypothesis) -> tuple[list[bool], list[bool]]:
    pairs = [pair for _, pair in unit_outcomes(pilot, h)]
    if not pairs:
        rows = sorted({r["intervention"] for r in pilot} - {BASE})
        raise ConfigError(
            f"stats.power.pilot_run: no paired units of {h.question} in the pilot (its rows: {rows})"
        )
    return [t for t, _ in pairs], [b for _, b in pairs]


def describe_power(cfg: RunConfig, power: PowerConfig | None = None) -> str:
    """The power plan, for ``mistvla plan --power``."""
    lines = power_lines(cfg, power)
    head = (
        f"power plan: exact McNemar, paired units, power {lines[0].power:g}, alpha {lines[0].alpha * len(lines):g}"
        + (f" / {len(lines)} questions (Bonferroni)" if len(lines) > 1 else "")
    )
    return "\n".join([head, *("  " + line.text() for line in lines)])


def check_study(cfg: RunConfig) -> Prereg | None:
    """Before ``mistvla run``: the pre-registration the stopping rule needs, and warnings (stderr)."""
    prereg = read_prereg(cfg.run_dir)
    current = identity_hash(identity(cfg))
    stopping = cfg.stats.stopping if cfg.stats is not None else None
    check_stopping_preregistered(stopping, prereg is not None, "stats.stopping")
    if prereg is not None and prereg.config_hash != current:
        if stopping is not None:
            raise ConfigError(
                f"stats.stopping: the config changed after pre-registration ({cfg.run_dir / 'prereg.json'} "
                f"has hash {prereg.config_hash[:12]}, the config {current[:12]}); the stopping rule "
                "runs only as registered"
            )
        print(
            "mistvla: warning: the config changed after pre-registration; every test of this run will be "
            "reported as exploratory",
            file=sys.stderr,
        )
    if cfg.stats is not None and cfg.stats.power is not None:
        try:
            for line in power_lines(cfg):
                if line.enough is False or line.needed is None:
                    print(f"mistvla: warning: stats.power: {line.text()}", file=sys.stderr)
        except ConfigError as err:
            print(f"mistvla: warning: power plan not computed: {err}", file=sys.stderr)
    return prereg if stopping is not None else None


def power_override(cfg: RunConfig, effect: str | None, pilot: str | None) -> PowerConfig:
    """``stats.power`` with ``mistvla plan --effect/--pilot`` applied (either may stand in for a missing block)."""
    from mistvla.harness.stats.config import parse_effect_pp

    base = cfg.stats.power if cfg.stats is not None else None
    effect_pp = parse_effect_pp(effect) if effect is not None else None
    if base is None:
        if effect_pp is None or pilot is None:
            raise ConfigError(
                "--power: the config has no stats.power block; give --effect 10pp and --pilot RUN"
            )
        return PowerConfig(effect_pp=effect_pp, pilot_run=pilot)
    if effect_pp is not None:
        base = dataclasses.replace(base, effect_pp=effect_pp)
    if pilot is not None:
        base = dataclasses.replace(base, pilot_run=pilot, assume=None)
    return base


__all__ = [
    "PowerLine",
    "check_study",
    "describe_power",
    "planned_units",
    "power_lines",
    "power_override",
    "preregister",
    "questions",
]
