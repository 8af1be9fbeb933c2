"""Two local workers against one on a long state-policy workload: the speed-up and steps/s per worker.

The reference policy (``experiments/artifacts/reference/libero_spatial``, state-only, cameras off) on
libero_spatial tasks ``--tasks`` x init states ``0..--init-states-1`` (default 10 x 4 = 40 episodes),
intervention ``none``, constant risk, run by ``mistvla run``'s scheduler with 1 and then 2 local workers
(fresh run directories, worker start and env builds included). Prints wall time, steps, steps/s in all and
per worker, the speed-up (issue 27 bar: >= 1.9x) and the load average (``os.getloadavg``) before and after
each run: on a machine shared with other jobs the ratio is only as good as the load was steady. With
``--order 2,1`` the two-worker run goes first (to see drift). Nothing is asserted.

    .venv/bin/python benchmarks/worker_scaling.py [--init-states 4] [--tasks 0-9] [--order 1,2]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

CKPT = "experiments/artifacts/reference/libero_spatial"


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--init-states", type=int, default=4)
    ap.add_argument("--tasks", default="0-9", help="first-last task index")
    ap.add_argument("--order", default="1,2", help="worker counts, in the order they run")
    args = ap.parse_args()

    from mistvla.harness.config.run import parse_config
    from mistvla.harness.results.store import ResultsStore
    from mistvla.harness.run.run_command import run

    first, last = (int(v) for v in args.tasks.split("-"))
    data = {
        "name": "scaling",
        "policy": {"name": "reference", "params": {"checkpoint": CKPT}},
        "episodes": {
            "suite": "libero_spatial",
            "tasks": list(range(first, last + 1)),
            "init_states": list(range(args.init_states)),
            "seeds": [0],
        },
        "risk": {"source": "constant"},
        "interventions": [{"name": "none"}],
    }
    n = (last - first + 1) * args.init_states
    print(f"{n} episodes, reference policy, libero_spatial, cameras off; {os.cpu_count()} CPUs")
    rows: dict[int, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (int(w) for w in args.order.split(",")):
            cfg = parse_config({**data, "output_dir": str(Path(tmp) / f"w{workers}"), "workers": workers})
            before = _load()
            t0 = time.perf_counter()
            run_dir = run(cfg, workers=workers, progress=False)
            wall = time.perf_counter() - t0
            eps = ResultsStore.read(run_dir).episodes().to_pylist()
            steps = sum(int(e["steps"]) for e in eps)
            rows[workers] = (wall, steps)
            print(
                f"{workers} worker(s): {len(eps)} episodes, {steps} steps in {wall:.1f} s = "
                f"{steps / wall:.1f} steps/s, {steps / wall / workers:.1f} per worker; "
                f"load (1/5/15 min) before {before}, after {_load()}"
            )
    if 1 in rows and 2 in rows:
        (w1, s1), (w2, s2) = rows[1], rows[2]
        same = "same steps" if s1 == s2 else f"steps differ: {s1} vs {s2}"
        print(f"speed-up 2 vs 1 workers (wall): {w1 / w2:.2f}x ({same}; bar >= 1.9x)")


if __name__ == "__main__":
    main()
