"""The MIST ablation sweep: one file, one command (``mistvla steer ablate``), resumable, one table.

An ablation file names a base run config and the axes to vary one at a time
around ``defaults`` (the Table 2 design: each row changes one thing)::

    base: mist.yaml                 # a run config, relative to this file
    name: mist_ablations            # runs go to runs/<name>/<group>/
    steering: experiments/artifacts/steering/{layer}/{method}   # directory per (layer, method)
    defaults: {layer: 2, alpha: 0.2, method: contrastive, quantile: 0.9, risk: oracle}
    axes:
      layer: [0, 2, 4]              # hook point llm.blocks.<layer>.resid_post (its steering directory)
      alpha: [0.05, 0.1, 0.2, 0.4]
      method: [contrastive, probe, generic, random]
      quantile: [0.8, 0.9, 0.95]    # calibration quantile of the threshold
      risk: [oracle, learned]       # names of entries of `risks:`
    risks: {oracle: {source: oracle}, learned: {source: learned, params: {checkpoint: ...}}}
    steer: {adaptive: false}        # other options of every steer entry

Rows that share (risk, quantile) run in one run directory (one calibration);
each group also runs ``none`` (a run always has its base), and every row is
paired against the ``none`` episodes of the defaults' group, the same base
episodes for the whole table.

>>> spec = AblationSpec(base="b.yaml", steering="s/{layer}/{method}",
...     defaults={"layer": 2, "alpha": 0.2, "method": "contrastive", "quantile": 0.9, "risk": "oracle"},
...     axes={"alpha": [0.1, 0.2], "quantile": [0.9, 0.95]}, risks={"oracle": {"source": "oracle"}})
>>> [(r.axis, r.label, r.group) for r in spec.rows()]
[('defaults', 'steer', 'oracle__q0.9'), ('alpha', 'steer alpha=0.1', 'oracle__q0.9'), ('quantile', 'steer quantile=0.95', 'oracle__q0.95')]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mistvla.harness.errors import ConfigError
from mistvla.harness.typed import from_dict

AXES = ("layer", "alpha", "method", "quantile", "risk")


@dataclass(frozen=True)
class AblationRow:
    axis: str
    """The axis this row varies (``defaults`` for the reference row)."""
    value: Any
    settings: dict[str, Any]
    label: str
    group: str


@dataclass
class AblationSpec:
    base: str
    steering: str
    """Steering directory template with ``{layer}`` and ``{method}``."""
    defaults: dict[str, Any]
    axes: dict[str, list[Any]] = field(default_factory=dict)
    risks: dict[str, dict[str, Any]] = field(default_factory=dict)
    name: str = "mist_ablations"
    point: str = "llm.blocks.{layer}.resid_post"
    steer: dict[str, Any] = field(default_factory=dict)
    """Other options of every steer entry (``adaptive``, ``span``)."""
    output_dir: str = "runs/{name}"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.axes) - set(AXES))
        if unknown:
            raise ValueError(f"axes: unknown {unknown}; known: {', '.join(AXES)}")
        missing = [a for a in AXES if a not in self.defaults]
        if missing:
            raise ValueError(f"defaults: missing {missing}")
        for r in {self.defaults["risk"], *self.axes.get("risk", [])}:
            if r not in self.risks:
                raise ValueError(f"risks: no entry {r!r} (named by defaults or axes.risk)")

    def rows(self) -> list[AblationRow]:
        """The defaults row, then one row per axis value that differs from the default."""
        out = [self._row("defaults", None, dict(self.defaults))]
        for axis, values in self.axes.items():
            for v in values:
                if v != self.defaults[axis]:
                    out.append(self._row(axis, v, {**self.defaults, axis: v}))
        return out

    def _row(self, axis: str, value: Any, s: dict[str, Any]) -> AblationRow:
        label = "steer" if axis == "defaults" else f"steer {axis}={value}"
        return AblationRow(axis, value, s, label, f"{s['risk']}__q{s['quantile']}")

    def steering_dir(self, settings: dict[str, Any]) -> str:
        return self.steering.format(layer=settings["layer"], method=settings["method"])

    @property
    def default_group(self) -> str:
        return self.rows()[0].group


def load_ablations(path: str | Path) -> tuple[AblationSpec, Path]:
    """Read an ablation file; returns the spec and the base config's path."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"ablation file {str(p)!r} does not exist")
    spec = from_dict(AblationSpec, yaml.safe_load(p.read_text()) or {})
    base = (p.parent / spec.base) if not Path(spec.base).is_absolute() else Path(spec.base)
    if not base.is_file():
        base = Path(spec.base)
    if not base.is_file():
        raise ConfigError(f"base: run config {spec.base!r} not found (relative to {p.parent} or here)")
    return spec, base


def group_configs(spec: AblationSpec, base_data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Plain run-config data per group: the base config with its risk, quantile and steer entries."""
    groups: dict[str, dict[str, Any]] = {}
    for row in spec.rows():
        s = row.settings
        data = groups.get(row.group)
        if data is None:
            data = yaml.safe_load(yaml.safe_dump(base_data))
            data["name"] = f"{spec.name}__{row.group}"
            data["output_dir"] = str(Path(spec.output_dir.format(name=spec.name)) / row.group)
            data["risk"] = spec.risks[s["risk"]]
            data["calibration"] = {**(data.get("calibration") or {}), "quantile": s["quantile"]}
            data["interventions"] = [{"name": "none"}]
            groups[row.group] = data
        entry = {"name": "steer", "label": row.label, "steering": spec.steering_dir(s), "alpha": s["alpha"]}
        data["interventions"].append({**entry, **spec.steer})
    return groups


def run_ablations(path: str | Path, workers: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) every group of the ablation file, then write Table 2; returns the written paths."""
    from mistvla.harness.config.run import load_config, parse_config
    from mistvla.harness.report.ablation_table import ablation_rows, write_ablation_table
    from mistvla.harness.results.store import ResultsStore
    from mistvla.harness.run.run_command import run

    spec, base_path = load_ablations(path)
    base_data = load_config(base_path).to_dict()
    configs = {g: parse_config(d) for g, d in group_configs(spec, base_data).items()}
    episodes: dict[str, list[dict[str, Any]]] = {}
    for group, cfg in configs.items():
        run_dir = run(cfg, workers=workers, progress=progress)
        episodes[group] = ResultsStore.read(run_dir).episodes().to_pylist()
    rows = ablation_rows(spec, episodes, seed=configs[spec.default_group].seed)
    out = Path(spec.output_dir.format(name=spec.name))
    return write_ablation_table(rows, out, spec)
