"""The header section: run name, provenance (git, packages, seeds), thresholds and how they were set, config."""

from __future__ import annotations

from typing import Any

import yaml

from mistvla.harness.report.html.data import ReportData, RunData
from mistvla.harness.report.html.section import SectionOutput, esc


def calibration_text(run: RunData) -> str:
    """Each threshold with where it came from (config or calibration); labels sharing one are grouped."""
    record = run.thresholds_record
    calibrated = set((record or {}).get("interventions") or [])
    groups: dict[str, list[str]] = {}
    for label, value in run.thresholds().items():
        if value is None:
            continue
        if label in calibrated and record is not None:
            how = (
                f"{value:.3f}, calibrated = {record['quantile']:g}-quantile of the {record['statistic']} "
                f"(n={record['n_clean']} of {record['n_episodes']}, init states {record['init_states']}, "
                f"{record['risk_source']} risk)"
            )
        else:
            how = f"{value:.3f}, given in the config"
        groups.setdefault(how, []).append(label)
    parts = [f"{', '.join(labels)}: {how}" for how, labels in groups.items()]
    return "; ".join(parts) if parts else "no gated intervention"


def _kv_table(items: list[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items)
    return f'<table class="kv">{rows}</table>'


def _seeds(run: RunData) -> str:
    cfg = run.config
    episodes = cfg.get("episodes") or {}
    parts = [f"episode seeds {episodes.get('seeds')}", f"init states {episodes.get('init_states')}"]
    if "seed" in cfg:
        parts.append(f"run seed {cfg['seed']}")
    if run.manifest.get("seeds"):
        parts.append(f"manifest seeds {run.manifest['seeds']}")
    return ", ".join(parts)


def _run_block(run: RunData) -> str:
    m = run.manifest
    git = m.get("git") or {}
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (dirty tree)"
    n = len(run.episodes)
    methods = sorted({(e["policy"], e["intervention"]) for e in run.episodes})
    items = [
        ("run directory", str(run.root)),
        ("created", m.get("created_utc", "")),
        ("episodes", f"{n} finished ({len(methods)} methods)"),
        ("git commit", f"{commit} ({git.get('branch') or '?'})"),
        ("seeds", _seeds(run)),
        ("thresholds", calibration_text(run)),
        ("python / platform", f"{m.get('python', '?')} / {m.get('platform', '?')}"),
    ]
    damaged = getattr(run.store, "damaged", [])
    if damaged:
        items.append(("skipped", f"{len(damaged)} damaged file(s): " + "; ".join(p for _, p in damaged)))
    packages = ", ".join(f"{k} {v}" for k, v in (m.get("packages") or {}).items() if v)
    items.append(("packages", packages))
    config = yaml.safe_dump(run.config, sort_keys=False)
    return (
        f"<h3>{esc(run.name)}</h3>"
        + _kv_table(items)
        + f"<details><summary>config (hash {esc(str(m.get('config_hash', ''))[:12])})</summary>"
        + f"<pre>{esc(config)}</pre></details>"
    )


def header_section(data: ReportData) -> SectionOutput:
    """Provenance of every run of the page."""
    body = "".join(_run_block(r) for r in data.runs)
    return SectionOutput("Runs", body, data={"runs": [r.name for r in data.runs]})
