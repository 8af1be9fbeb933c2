"""``eval_info.json`` in LeRobot's format, so LeRobot tooling reads a mistvla run.

LeRobot 0.4.4 (``lerobot/scripts/lerobot_eval.py:eval_policy_all``) writes
``{"per_task": [{"task_group", "task_id", "metrics": {"sum_rewards",
"max_rewards", "successes", "video_paths"}}], "per_group": {group:
{"avg_sum_reward", "avg_max_reward", "pc_success", "n_episodes",
"video_paths"}}, "overall": {..., "eval_s", "eval_ep_s"}}``. We write exactly
those keys for the base policy (intervention ``none``), with the task group =
suite and the task id = task index; LIBERO's reward is 1 on the success step
and the episode ends there, so both rewards are ``float(success)``. Added keys
(ignored by LeRobot): ``pc_success_ci`` ([lo, hi] percent, Wilson with the
design-effect n, :func:`~mistvla.harness.report.metrics.success_rate`),
``ci_method``, per task ``task`` and ``pc_success``, and ``mistvla``: the
policy/intervention of the top level and the same three blocks for every method.
``eval_s`` is the sum of the episodes' wall times (episodes may run in parallel).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from mistvla.harness.report.metrics import as_records, success_rate
from mistvla.harness.results.atomic import write_json_atomic

EVAL_INFO_FILE = "eval_info.json"


def _ci(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    e = success_rate(episodes)
    return {"pc_success_ci": [100 * e.lo, 100 * e.hi], "ci_method": e.method}


def _aggregate(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    succ = [bool(e["success"]) for e in episodes]
    return {
        "avg_sum_reward": sum(succ) / len(succ),
        "avg_max_reward": sum(succ) / len(succ),
        "pc_success": 100 * sum(succ) / len(succ),
        "n_episodes": len(succ),
        "video_paths": [e["video_path"] for e in episodes if e.get("video_path")],
        **_ci(episodes),
    }


def method_eval_info(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The three LeRobot blocks (``per_task``, ``per_group``, ``overall``) of one method's episodes.

    >>> eps = [{"policy": "p", "intervention": "none", "suite": "libero_spatial", "task": "t",
    ...         "task_index": 0, "init_state": i, "seed": 0, "success": i < 3} for i in range(4)]
    >>> info = method_eval_info(eps)
    >>> info["overall"]["pc_success"], info["per_task"][0]["metrics"]["successes"]
    (75.0, [True, True, True, False])
    """
    tasks: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in episodes:
        tasks[(e["suite"], int(e["task_index"]))].append(e)
        groups[e["suite"]].append(e)
    per_task = []
    for (suite, index), eps in sorted(tasks.items()):
        succ = [bool(e["success"]) for e in eps]
        per_task.append(
            {
                "task_group": suite,
                "task_id": index,
                "metrics": {
                    "sum_rewards": [float(s) for s in succ],
                    "max_rewards": [float(s) for s in succ],
                    "successes": succ,
                    "video_paths": [e["video_path"] for e in eps if e.get("video_path")],
                    "task": eps[0]["task"],
                    "pc_success": 100 * sum(succ) / len(succ),
                    **_ci(eps),
                },
            }
        )
    wall = sum(float(e.get("wall_time_s") or 0.0) for e in episodes)
    overall = {**_aggregate(episodes), "eval_s": wall, "eval_ep_s": wall / max(1, len(episodes))}
    return {
        "per_task": per_task,
        "per_group": {g: _aggregate(eps) for g, eps in sorted(groups.items())},
        "overall": overall,
    }


def eval_info(episodes: Any, base_intervention: str = "none") -> dict[str, Any]:
    """LeRobot's blocks for the base policy at the top level, every method under ``mistvla.methods``."""
    eps = as_records(episodes)
    methods: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in eps:
        methods[(e["policy"], e["intervention"])].append(e)
    order = sorted(methods, key=lambda k: (k[1] != base_intervention, k))
    top = order[0]
    return {
        **method_eval_info(methods[top]),
        "mistvla": {
            "policy": top[0],
            "intervention": top[1],
            "methods": {f"{p}/{i}": method_eval_info(methods[(p, i)]) for p, i in order},
        },
    }


def write_eval_info(episodes: Any, path: str | Path) -> Path:
    """Write :func:`eval_info` as JSON (atomically); returns the path."""
    out = Path(path)
    write_json_atomic(out, eval_info(episodes))
    return out
