"""Size of the HTML report and the time a headless Chromium takes to open it.

Measures an existing run (``--run DIR``, e.g. ``runs/quickstart``) or a synthetic
run of ``--episodes`` episodes x ``--steps`` steps written with the results
store (random-walk risk, intervention spans above a threshold, occasional
collision onsets). Prints the page size, the time to build it, and the time
from navigation to the page's ready mark (every section drawn) in Chromium,
next to the same measure for a page holding only the inlined plotly.js (the
baseline: what any Plotly page costs), as a ratio.

    .venv/bin/python benchmarks/report_html_size.py --episodes 1000 --steps 220
    .venv/bin/python benchmarks/report_html_size.py --run runs/quickstart
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mistvla.harness.report.html.page import write_report_html
from mistvla.harness.results.store import ResultsStore

INTERVENTIONS = ("none", "stop", "slow", "damp")
CHROMIUM = "/usr/bin/chromium"


def synthetic_run(root: Path, n_episodes: int, n_steps: int, threshold: float = 0.8) -> Path:
    """A run of ``n_episodes`` consistent episodes over 10 tasks x 4 interventions."""
    rng = np.random.default_rng(0)
    config = {
        "name": "synthetic",
        "interventions": [{"name": i, "threshold": threshold} for i in INTERVENTIONS],
    }
    config["interventions"][0] = {"name": "none"}
    store = ResultsStore.open(root, config, durable=False)
    per_method = n_episodes // len(INTERVENTIONS)
    for i in range(n_episodes):
        intervention = INTERVENTIONS[i // per_method % len(INTERVENTIONS)]
        unit = i % per_method
        task, init = unit % 10, unit // 10
        risk = np.clip(np.cumsum(rng.normal(0, 0.05, n_steps)) + rng.random() * 0.5, 0, 1).astype(np.float32)
        active = (risk >= threshold) if intervention != "none" else np.zeros(n_steps, bool)
        events = (rng.random(n_steps) < 0.004).astype(np.int32)
        force = np.where(events > 0, rng.random(n_steps) * 50, 0.0).astype(np.float32)
        success = bool(rng.random() < 0.6)
        steps = n_steps if not success else int(rng.integers(n_steps // 2, n_steps + 1))
        sl = slice(0, steps)
        onsets = int(events[sl].sum())
        starts = np.flatnonzero(np.diff(np.r_[0, active[sl].astype(int)]) == 1)
        record = {
            "policy": "scripted", "intervention": intervention, "suite": "libero_spatial",
            "task": f"synthetic_task_{task}", "task_index": task, "init_state": init, "seed": 0,
            "repeat": 0, "episode_index": i, "success": success, "collided": onsets > 0,
            "n_collision_onsets": onsets,
            "first_collision_step": int(np.flatnonzero(events[sl])[0]) if onsets else None,
            "max_collision_force": float(force[sl].max()), "termination_reason": "success" if success else "timeout",
            "steps": steps, "max_steps": n_steps, "wall_time_s": 1.0, "n_interventions": len(starts),
            "intervention_steps": int(active[sl].sum()),
            "first_intervention_step": int(starts[0]) if len(starts) else None,
            "env_kwargs": {}, "peak_risk": float(risk[sl].max()),
        }  # fmt: skip
        raw = rng.normal(size=(steps, 7)).astype(np.float32)
        store.write_episode(
            record,
            {
                "raw_action": raw,
                "executed_action": raw,
                "intervention_active": active[sl],
                "risk_score": risk[sl],
                "n_collision_events": events[sl],
                "collision_force": force[sl],
                "eef_pos": np.zeros((steps, 3)),
            },
        )
    store.close()
    return root


def open_time(page: Path, repeats: int = 3) -> float:
    """Median seconds from navigation to ``body[data-ready]`` (or the load event for the baseline)."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        for _ in range(repeats):
            tab = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            tab.goto(page.resolve().as_uri())
            tab.wait_for_selector("body[data-ready]", state="attached", timeout=120_000)
            times.append(time.perf_counter() - t0)
            tab.close()
        browser.close()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", help="an existing run directory (default: a synthetic run)")
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=220)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.run:
            run_dir = Path(args.run)
        else:
            t0 = time.perf_counter()
            run_dir = synthetic_run(Path(tmp) / "synthetic", args.episodes, args.steps)
            print(
                f"synthetic run: {args.episodes} episodes x {args.steps} steps ({time.perf_counter() - t0:.1f} s)"
            )
        out = Path(tmp) / "report"
        t0 = time.perf_counter()
        page = write_report_html([run_dir], out)
        build_s = time.perf_counter() - t0
        size = page.stat().st_size
        from plotly.offline import get_plotlyjs

        js = len(get_plotlyjs().encode())
        baseline = out / "baseline.html"
        baseline.write_text(
            f"<!DOCTYPE html><html><head><script>{get_plotlyjs()}</script></head>"
            "<body><script>document.body.dataset.ready='1'</script></body></html>"
        )
        print(f"page: {size / 1e6:.2f} MB ({js / 1e6:.2f} MB of it plotly.js), built in {build_s:.1f} s")
        if not Path(CHROMIUM).exists():
            print(f"no {CHROMIUM}: open time not measured")
            return
        t_page, t_base = open_time(page), open_time(baseline)
        print(
            f"open in headless Chromium: {t_page:.2f} s; plotly.js-only page {t_base:.2f} s; ratio {t_page / t_base:.2f}"
        )


if __name__ == "__main__":
    main()
