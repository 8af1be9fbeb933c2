"""Robustness table: perturbed episodes paired with their clean twins, per method and condition."""

from __future__ import annotations

import math

from mistvla.harness.report import table as ct
from mistvla.harness.report.robustness import interventions_by_condition, robustness_rows
from mistvla.harness.report.robustness_table import to_csv_table, to_markdown_table, write_robustness


def ep(intervention, pert, level, init, success, collide=0):
    return {
        "policy": "p",
        "intervention": intervention,
        "suite": "libero_spatial",
        "task_index": init % 2,
        "init_state": init,
        "seed": 0,
        "repeat": 0,
        "perturbation": pert,
        "perturbation_level": level,
        "success": success,
        "n_collision_onsets": collide,
        "n_interventions": 1 if intervention != "none" else 0,
        "task": "t",
    }


def episodes():
    out = []
    for i in range(8):
        out.append(ep("none", "none", 0, i, True))
        out.append(ep("stop", "none", 0, i, i < 7))
        out.append(ep("none", "camera", 1, i, i < 6, collide=int(i == 0)))
        out.append(ep("none", "camera", 4, i, i < 2, collide=int(i < 4)))
        out.append(ep("stop", "camera", 4, i, i < 5))
    out.append(ep("none", "latency", 2, 99, False))  # no clean twin
    return out


def test_deltas_are_paired_with_the_clean_twin_of_the_same_method():
    rows = {(r.intervention, r.perturbation, r.level): r for r in robustness_rows(episodes(), resamples=300)}
    base4 = rows[("none", "camera", 4)]
    assert base4.sr.value == 0.25 and math.isclose(base4.delta_sr.value, -0.75) and base4.n_pairs == 8
    assert math.isclose(base4.delta_cr.value, 0.5)
    assert base4.delta_sr.lo <= base4.delta_sr.value <= base4.delta_sr.hi < 0
    stop4 = rows[("stop", "camera", 4)]  # paired with stop's clean episodes (7/8), not the base policy's
    assert math.isclose(stop4.delta_sr.value, 5 / 8 - 7 / 8)
    lat = rows[("none", "latency", 2)]
    assert lat.n_pairs == 0 and math.isnan(lat.delta_sr.value) and lat.notes
    order = [(r.intervention, r.perturbation, r.level) for r in robustness_rows(episodes(), resamples=50)]
    assert order[:4] == [
        ("none", "none", 0),
        ("none", "camera", 1),
        ("none", "camera", 4),
        ("none", "latency", 2),
    ]


def test_tables_and_the_interventions_within_each_condition(tmp_path):
    rows = robustness_rows(episodes(), resamples=50)
    md = to_markdown_table(rows)
    assert "| camera | 4 | p / none | 25.0 [" in md and "-75.0" in md
    assert len(to_csv_table(rows).splitlines()) == 1 + len(rows)
    crossed = interventions_by_condition(episodes(), resamples=50)
    scopes = {(r.scope, r.intervention) for r in crossed}
    assert ("camera L4", "stop") in scopes and ("clean", "stop") in scopes
    stop4 = next(r for r in crossed if (r.scope, r.intervention) == ("camera L4", "stop"))
    assert math.isclose(stop4.delta_sr.value, 5 / 8 - 2 / 8)  # vs the base policy under the same perturbation
    text, paths = write_robustness(episodes(), tmp_path)
    assert text == paths["robustness_md"].read_text()
    assert paths["interventions_by_condition_md"].read_text() == ct.to_markdown(
        interventions_by_condition(episodes())
    )
    assert paths["robustness_png"].stat().st_size > 1000 and "interventions_by_condition_md" in paths


def test_scenario_columns_appear_only_with_obstacle_or_disturbed_episodes():
    plain = to_markdown_table(robustness_rows(episodes(), resamples=50))
    assert "CR_obstacle" not in plain and "RR(d)" not in plain
    eps = [ep("none", "none", 0, i, True) for i in range(4)]
    for i in range(4):  # obstacles: 3 of 4 collide with one; object_move: fired in 3, 2 recovered cleanly
        eps.append({**ep("none", "obstacle", 5, i, i < 2), "obstacle_collided": i < 3})
        fired = {"disturbance_step": 20} if i < 3 else {}
        eps.append({**ep("none", "object_move", 3, i, i < 2), **fired})
    rows = robustness_rows(eps, resamples=50)
    by = {r.condition: r for r in rows}
    assert by["obstacle L5"].scenario["cr_obstacle"].value == 0.75
    assert math.isnan(by["clean"].scenario["cr_obstacle"].value)  # no obstacle episode in the clean condition
    assert by["object_move L3"].scenario["rr_disturbed"].value == 2 / 3
    md = to_markdown_table(rows)
    assert "| CR_obstacle % | RR(d) % |" in md and "CR_obstacle: among episodes with inserted obstacles" in md
    assert "cr_obstacle,cr_obstacle_lo" in to_csv_table(rows)
