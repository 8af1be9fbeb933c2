"""The episode browser section: filter episodes, see one episode's risk trace, interventions and collisions.

Per episode the page holds a summary (method, task, init state, outcome,
termination reason, counts, the gate threshold) and compact per-step traces
from the steps table: ``risk`` (``risk_score`` rounded to 1e-3, null where none
ran), ``active`` (spans ``[first, last]`` of ``intervention_active``),
``onsets`` (``[step, n_collision_events, collision_force]`` where a collision
began) and ``force`` (``[step, collision_force]`` where a force was reported).
Videos (``video_path``) are hard-linked (or copied) next to the page so it references nothing
outside its folder. The drawing is ``browser.js``.
"""

from __future__ import annotations

import math
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mistvla.harness.report.html.data import ReportData, RunData
from mistvla.harness.report.html.section import SectionOutput, plot_div

FIELDS = (
    "run", "episode_key", "policy", "intervention", "suite", "task", "task_index", "init_state", "seed",
    "repeat", "success", "collided", "termination_reason", "steps", "max_steps", "n_interventions",
    "intervention_steps", "n_collision_onsets", "first_collision_step", "max_collision_force", "peak_risk",
    "perturbation", "perturbation_level", "obstacle_collided", "first_obstacle_step", "disturbance_step",
)  # fmt: skip


def spans(active: np.ndarray, steps: np.ndarray) -> list[list[int]]:
    """``[first, last]`` step of every run of True in ``active``.

    >>> spans(np.array([0, 1, 1, 0, 1], bool), np.arange(5))
    [[1, 2], [4, 4]]
    """
    out: list[list[int]] = []
    start = None
    for i, a in enumerate(active):
        if a and start is None:
            start = i
        if start is not None and (not a or i == len(active) - 1):
            end = i if a else i - 1
            out.append([int(steps[start]), int(steps[end])])
            start = None
    return out


def _round(x: Any, digits: int = 3) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else round(x, digits)


def episode_traces(steps: dict[str, np.ndarray]) -> dict[str, Any]:
    """The compact traces of one episode from its steps columns (numpy arrays, ordered by step)."""
    step = steps["step"]
    risk = steps["risk_score"]
    force = steps["collision_force"]
    events = steps["n_collision_events"]
    onsets = [[int(step[i]), int(events[i]), _round(force[i], 2)] for i in np.flatnonzero(events > 0)]
    forced = [[int(step[i]), _round(force[i], 2)] for i in range(len(step)) if _round(force[i], 2)]
    return {
        "step0": int(step[0]) if len(step) else 0,
        "risk": [_round(r) for r in risk],
        "active": spans(steps["intervention_active"], step),
        "onsets": onsets,
        "force": forced,
    }


def _grouped_steps(run: RunData, data: ReportData) -> dict[str, dict[str, np.ndarray]]:
    table = data.steps(run).select(
        ["episode_key", "step", "risk_score", "intervention_active", "n_collision_events", "collision_force"]
    )
    if table.num_rows == 0:
        return {}
    keys = table.column("episode_key").to_numpy(zero_copy_only=False)
    cols = {
        "step": table.column("step").to_numpy(),
        "risk_score": table.column("risk_score").to_numpy(zero_copy_only=False).astype(float),
        "intervention_active": table.column("intervention_active")
        .to_numpy(zero_copy_only=False)
        .astype(bool),
        "n_collision_events": table.column("n_collision_events").to_numpy(),
        "collision_force": table.column("collision_force").to_numpy(zero_copy_only=False).astype(float),
    }
    bounds = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, len(keys)]
    return {str(keys[s]): {k: v[s:e] for k, v in cols.items()} for s, e in zip(starts, ends, strict=True)}


def _copy_video(run: RunData, rel: str, out_dir: Path | None) -> str | None:
    src = run.root / rel
    if out_dir is None or not src.is_file():
        return None
    dest = out_dir / "videos" / run.name / Path(rel).name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists() or dest.stat().st_size != src.stat().st_size:
        dest.unlink(missing_ok=True)
        try:
            os.link(src, dest)  # same file system: no copy
        except OSError:
            shutil.copyfile(src, dest)
    return dest.relative_to(out_dir).as_posix()


def browser_data(data: ReportData) -> dict[str, Any]:
    """Summaries and traces of every episode of every run (the section's JSON)."""
    episodes = []
    by_run = {r.name: (r, _grouped_steps(r, data), r.thresholds()) for r in data.runs}
    for e in data.episodes:
        run, grouped, thresholds = by_run[e["run"]]
        item: dict[str, Any] = {k: e.get(k) for k in FIELDS}
        item["id"] = f"{e['run']}/{e['episode_key']}"
        item["threshold"] = thresholds.get(e["intervention"])
        item["max_collision_force"] = _round(e.get("max_collision_force"), 2)
        item["peak_risk"] = _round(e.get("peak_risk"))
        item["video"] = _copy_video(run, e["video_path"], data.out_dir) if e.get("video_path") else None
        steps = grouped.get(e["episode_key"])
        item["trace"] = episode_traces(steps) if steps is not None else None
        episodes.append(item)
    return {"episodes": episodes, "multi": data.multi}


BROWSER_HTML = """
<div class="filters">
  <label class="run-filter">run <select data-filter="run"></select></label>
  <label>task <select data-filter="task"></select></label>
  <label>intervention <select data-filter="intervention"></select></label>
  <label class="condition-filter">perturbation <select data-filter="condition"></select></label>
  <label>outcome <select data-filter="outcome"></select></label>
  <span class="count"></span>
</div>
<div class="browser">
  <div class="episode-list"><table class="results"><thead><tr>
    <th>method</th><th>task</th><th>init</th><th>seed</th><th>end</th><th>steps</th>
    <th>coll.</th><th>int.</th><th>peak risk</th></tr></thead><tbody></tbody></table></div>
  <div class="episode-detail" id="episode-detail">
    <h3 class="episode-title"></h3>
    <p class="episode-info"></p>
    <p class="episode-pairs"></p>
    PLOT
    <div class="episode-video"></div>
  </div>
</div>
"""


def browser_section(data: ReportData) -> SectionOutput:
    """The episode browser."""
    script = resources.files("mistvla.harness.report.html").joinpath("browser.js").read_text()
    html = BROWSER_HTML.replace("PLOT", plot_div("episode-plot", 340))
    return SectionOutput("Episodes", html, data=browser_data(data), script=script)
