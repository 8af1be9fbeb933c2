"""The HTML report of a small real run, rendered in headless Chromium; eval_info.json; the compact table.

One module-scoped real run (scripted expert with an overshooting descent, 2 init
states x {none, stop}, 60 steps: the second init state collides near step 52
and the stop gate fires). Set ``MISTVLA_REPORT_SCREENSHOT=docs/images/report.png``
to also save the screenshot the README shows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from mistvla.harness.cli import main
from mistvla.harness.report.html.browser import browser_data
from mistvla.harness.report.html.data import load_report_data
from mistvla.harness.report.metrics import compare, success_rate
from mistvla.harness.report.table import drop_duplicate_overall, table_cells, to_terminal
from mistvla.harness.results.store import ResultsStore

CHROMIUM = Path("/usr/bin/chromium")
THRESHOLD = 0.5


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    config = {
        "name": "tinyhtml",
        "output_dir": str(tmp / "{name}"),
        "policy": {
            "name": "scripted",
            "params": {"perturbation": {"overshoot": 0.05, "overshoot_prob": 1.0, "action_noise": 0.1}},
        },
        "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0, 1], "seeds": [0]},
        "env": {"max_steps": 60},
        "risk": {"source": "oracle", "params": {"margin": 0.05}},
        "interventions": [{"name": "none"}, {"name": "stop", "hold_steps": 3, "threshold": THRESHOLD}],
    }
    path = tmp / "tinyhtml.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--workers", "1", "--quiet"]) == 0  # ends by writing the page
    run_dir = tmp / "tinyhtml"
    assert (run_dir / "report" / "index.html").is_file()
    return run_dir


def _external(url: str, root: Path) -> bool:
    if url.startswith(("data:", "blob:", "about:")):
        return False
    if not url.startswith("file://"):
        return True
    return not Path(url[len("file://") :]).resolve().is_relative_to(root.resolve())


def test_page_renders_in_chromium(real_run):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), (
        f"{CHROMIUM} missing: `bash scripts/install.sh --test` installs Debian's chromium"
    )
    page_path = real_run / "report" / "index.html"
    episodes = ResultsStore.read(real_run).episodes().to_pylist()
    steps = ResultsStore.read(real_run).steps().to_pylist()
    chosen = next(e for e in episodes if e["intervention"] == "stop" and e["n_collision_onsets"] > 0)
    errors, outside = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("request", lambda r: outside.append(r.url) if _external(r.url, page_path.parent) else None)
        tab.goto(page_path.resolve().as_uri())
        tab.wait_for_selector("body[data-ready]", state="attached", timeout=60_000)

        # the table holds the metrics module's numbers, one group for one suite
        shown = tab.eval_on_selector_all(
            "#comparison-table tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.textContent))"
        )
        assert shown == table_cells(drop_duplicate_overall(compare(episodes)))
        assert all(row[0] == "libero_spatial" for row in shown)

        # the episode browser shows the clicked episode's trace
        eid = f"tinyhtml/{chosen['episode_key']}"
        tab.click(f'.episode-list tr[data-id="{eid}"]')
        assert tab.get_attribute("#episode-detail", "data-episode") == eid
        plot = tab.evaluate(
            "() => { const d = document.getElementById('episode-plot');"
            " return {data: d.data.map(t => ({name: t.name, x: t.x, y: t.y})), shapes: d.layout.shapes}; }"
        )
        mine = [s for s in steps if s["episode_key"] == chosen["episode_key"]]
        traces = {t["name"]: t for t in plot["data"]}
        assert traces["risk"]["y"] == pytest.approx([s["risk_score"] for s in mine], abs=6e-4)
        assert traces[f"threshold {THRESHOLD:.3f}"]["y"] == [THRESHOLD, THRESHOLD]
        assert traces["collision onset"]["x"] == [s["step"] for s in mine if s["n_collision_events"] > 0]
        spans = [s for s in plot["shapes"] if s["type"] == "rect"]
        assert len(spans) == chosen["n_interventions"] >= 1
        first = min(s["x0"] for s in spans) + 0.5
        assert first == chosen["first_intervention_step"]
        assert chosen["termination_reason"] in tab.text_content(".episode-info")

        # filtering by intervention keeps only that intervention's rows
        tab.select_option('select[data-filter="intervention"]', "none")
        methods = tab.eval_on_selector_all(
            ".episode-list tbody tr", "rows => rows.map(r => r.cells[0].textContent)"
        )
        assert methods == ["none"] * sum(e["intervention"] == "none" for e in episodes)
        tab.select_option('select[data-filter="intervention"]', "(all)")
        tab.click(f'.episode-list tr[data-id="{eid}"]')
        assert tab.locator("#episode-plot .scatterlayer .trace").count() >= 3  # drawn again, not blank

        hrefs = tab.eval_on_selector_all(
            "[src],[href]", "els => els.map(e => e.getAttribute('src') || e.getAttribute('href'))"
        )
        png = tab.screenshot(full_page=True)
        browser.close()
    assert errors == []
    assert outside == []
    assert all(h.startswith("#") or not re.match(r"^([a-z]+:|/|\.\.)", h) for h in hrefs), hrefs
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    if target := os.environ.get("MISTVLA_REPORT_SCREENSHOT"):
        Path(target).write_bytes(png)


def test_eval_info_has_lerobot_keys_and_wilson_intervals(real_run):
    info = json.loads((real_run / "eval_info.json").read_text())
    episodes = ResultsStore.read(real_run).episodes().to_pylist()
    base = [e for e in episodes if e["intervention"] == "none"]
    assert {"per_task", "per_group", "overall"} <= set(info)
    assert {
        "avg_sum_reward",
        "avg_max_reward",
        "pc_success",
        "n_episodes",
        "eval_s",
        "eval_ep_s",
        "video_paths",
    } <= set(info["overall"])
    (task,) = info["per_task"]
    assert (task["task_group"], task["task_id"]) == ("libero_spatial", 0)
    assert task["metrics"]["successes"] == [
        e["success"] for e in sorted(base, key=lambda e: e["episode_index"])
    ]
    sr = success_rate(base)
    assert info["overall"]["pc_success"] == pytest.approx(100 * sr.value)
    assert info["per_group"]["libero_spatial"]["pc_success_ci"] == pytest.approx([100 * sr.lo, 100 * sr.hi])
    assert set(info["mistvla"]["methods"]) == {"scripted/none", "scripted/stop"}


def test_terminal_table_is_compact_and_by_task(real_run, capsys):
    rows = compare(ResultsStore.read(real_run).episodes())
    text = to_terminal(rows)
    assert "overall" not in text and text.count("libero_spatial") == 2
    assert main(["report", str(real_run), "--by", "task"]) == 0
    out = capsys.readouterr().out
    assert "libero_spatial/pick_up_the_black_bowl" in out and "scripted / stop" in out
    assert "overall" not in out  # one task: its rows are the overall rows
    page = real_run / "report" / "index.html"
    before = page.read_text()
    page.unlink()
    assert main(["report", str(real_run), "--html"]) == 0
    assert page.read_text().count("<section") == before.count("<section")


def test_compare_pairs_runs_on_shared_episodes(real_run, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(real_run, twin, ignore=shutil.ignore_patterns("report", ".lock"))
    assert main(["compare", str(real_run), str(twin), "--out", str(tmp_path / "cmp")]) == 0
    html = (tmp_path / "cmp" / "index.html").read_text()
    table = html[html.index('id="crossrun-table"') :]
    rows = re.findall(r"<tr><td>(.*?)</td></tr>", table[: table.index("</table>")])
    cells = [r.split("</td><td>") for r in rows]
    assert [(c[0], c[1], c[2], c[4]) for c in cells] == [
        ("twin vs tinyhtml", "none", "+0.0 [+0.0, +0.0]", "2"),
        ("twin vs tinyhtml", "stop", "+0.0 [+0.0, +0.0]", "2"),
    ]


def test_videos_are_copied_beside_the_page(tmp_path):
    record = {
        "policy": "scripted", "intervention": "none", "suite": "libero_spatial", "task": "t", "task_index": 0,
        "init_state": 0, "seed": 0, "episode_index": 0, "success": True, "collided": False,
        "n_collision_onsets": 0, "first_collision_step": None, "max_collision_force": None,
        "termination_reason": "success", "steps": 6, "max_steps": 10, "wall_time_s": 1.0,
        "n_interventions": 0, "first_intervention_step": None, "env_kwargs": {}, "video_path": "videos/ep0.mp4",
    }  # fmt: skip
    risk = np.array([0.1, 0.2, 0.9, 0.95, 0.3, np.nan], np.float32)
    steps = {
        "raw_action": np.zeros((6, 7)), "executed_action": np.zeros((6, 7)), "eef_pos": np.zeros((6, 3)),
        "intervention_active": np.array([0, 0, 1, 1, 0, 1], bool), "risk_score": risk,
        "n_collision_events": np.array([0, 0, 0, 1, 0, 0], np.int32),
        "collision_force": np.array([0, 0, 0, 7.25, 3.0, 0], np.float32),
    }  # fmt: skip
    store = ResultsStore.open(tmp_path / "vid", {"name": "vid"}, durable=False)
    key = store.write_episode(record, steps)
    store.close()
    (tmp_path / "vid" / "videos" / "ep0.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    data = load_report_data([tmp_path / "vid"])
    data.out_dir = tmp_path / "page"
    (ep,) = browser_data(data)["episodes"]
    assert ep["video"] == "videos/vid/ep0.mp4" and (tmp_path / "page" / ep["video"]).is_file()
    assert ep["id"] == f"vid/{key}"
    trace = ep["trace"]
    assert trace["active"] == [[2, 3], [5, 5]]
    assert trace["onsets"] == [[3, 1, 7.25]] and trace["force"] == [[3, 7.25], [4, 3.0]]
    assert trace["risk"] == [0.1, 0.2, 0.9, 0.95, 0.3, None]


def test_a_plugged_in_section_gets_its_html_data_and_script(real_run, tmp_path):
    from mistvla.harness.report.html.page import SECTIONS, write_report_html
    from mistvla.harness.report.html.section import SectionOutput

    def n_episodes_section(data):
        n = len(data.episodes)
        return SectionOutput(
            "Episode count", f"<p id='n-eps'>{n}</p>", data={"n": n}, script="el.dataset.n = data.n;"
        )

    def absent(data):
        return None

    page = write_report_html([real_run], tmp_path, sections=[*SECTIONS, absent, n_episodes_section])
    html = page.read_text()
    assert "<section id=\"sec-episode-count\"><h2>Episode count</h2><p id='n-eps'>4</p></section>" in html
    assert (
        'window.MISTVLA_SECTIONS["sec-episode-count"] = function (data, el) {\nel.dataset.n = data.n;' in html
    )
    # + the new one; no crossrun (one run), no heatmap (one task), no detection (no clean success)
    assert html.count("<section id=") == len(SECTIONS) - 2
