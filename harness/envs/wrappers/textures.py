"""Background and textures: the table, floor and wall materials recoloured, and from level 4 swapped.

The scene's own textured materials (LIBERO's ``floorplane``, ``walls_mat``,
``table_texture`` / ``table_mat``) are tinted ``tint`` of the way toward a
colour drawn per surface per episode (MuJoCo multiplies the texture by the
material colour); the level sets the tint and which surfaces change. From
level 4 the floor, wall and table geoms also swap their materials with each
other (a drawn permutation of the textures LIBERO ships in this scene).
Textures outside the loaded scene would need a model rebuild and are not used.

>>> TexturePerturbation.LEVELS[2]
{'tint': 0.3, 'surfaces': ['floor', 'walls'], 'swap': False}
"""

from __future__ import annotations

from typing import Any, ClassVar

import mujoco
import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper

SURFACE_PREFIXES = {"floor": ("floor",), "walls": ("wall",), "table": ("table",)}


def surface_geoms(model: Any) -> dict[str, list[int]]:
    """Geom ids of the floor, walls and table (visual geoms with a textured material), by surface."""
    out: dict[str, list[int]] = {s: [] for s in SURFACE_PREFIXES}
    for g in range(model.ngeom):
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or ""
        mat = model.geom_matid[g]
        if mat < 0 or model.mat_texid[mat].max() < 0:
            continue
        for surface, prefixes in SURFACE_PREFIXES.items():
            if name.startswith(prefixes) and "leg" not in name:
                out[surface].append(g)
    return out


class TexturePerturbation(PerturbationWrapper):
    """Tint (and at levels 4-5 swap) the floor, wall and table materials."""

    name = "textures"
    visual = True
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"tint": 0.15, "surfaces": ["floor"], "swap": False},
        2: {"tint": 0.3, "surfaces": ["floor", "walls"], "swap": False},
        3: {"tint": 0.45, "surfaces": ["floor", "walls", "table"], "swap": False},
        4: {"tint": 0.6, "surfaces": ["floor", "walls", "table"], "swap": True},
        5: {"tint": 0.8, "surfaces": ["floor", "walls", "table"], "swap": True},
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        row = self.level_params()
        colours = {s: rng.uniform(0.0, 1.0, size=3).round(4).tolist() for s in SURFACE_PREFIXES}
        order = [int(i) for i in rng.permutation(3)]
        if order == [0, 1, 2]:
            order = [1, 2, 0]
        return {
            "tint": row["tint"],
            "surfaces": row["surfaces"],
            "colours": {s: colours[s] for s in row["surfaces"]},
            "swap": [list(SURFACE_PREFIXES)[i] for i in order] if row["swap"] else None,
        }

    def apply(self, env: Any) -> None:
        model = env.sim.model._model
        geoms = surface_geoms(model)
        p = self.params
        surfaces = list(SURFACE_PREFIXES)
        mats = {s: int(model.geom_matid[g[0]]) for s, g in geoms.items() if g}
        if p["swap"] is not None and len(mats) == len(surfaces):
            for s, src in zip(surfaces, p["swap"], strict=True):
                for g in geoms[s]:
                    self.set_field(model, "geom_matid", g, mats[src])
        for s in p["surfaces"]:
            for mat in {int(model.geom_matid[g]) for g in geoms[s]}:
                rgba = model.mat_rgba[mat].copy()
                rgba[:3] = (1 - p["tint"]) * rgba[:3] + p["tint"] * np.asarray(p["colours"][s])
                self.set_field(model, "mat_rgba", mat, rgba)
