"""How a LIBERO env's cameras are rendered: the EGL context, blanked frames, the reflection pass.

robosuite draws every camera observation with MuJoCo's OpenGL renderer (Mesa software EGL here).
Two things here change what that costs, never what the simulator does:

- :func:`blank_camera_renders` makes the camera observables return zeros for frames nobody reads
  (the reset and the warm-up steps before the last);
- :func:`configure_scene` turns MuJoCo's reflection pass on or off. LIBERO's floor and table materials
  are reflective, so with reflections on the scene is drawn twice (~75 ms per 128 px camera here, ~40
  with them off). Off changes the images, so it is an explicit env setting (``env.reflections``),
  recorded with the results, for a policy trained and evaluated that way.

>>> import mujoco
>>> scene = mujoco.MjvScene(mujoco.MjModel.from_xml_string("<mujoco/>"), maxgeom=10)
>>> int(scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION])
1
>>> configure_scene(scene, reflections=False)
>>> int(scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION])
0
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np


def _zeros_sensor(shape: tuple[int, ...], modality: str) -> Any:
    zeros = np.zeros(shape, dtype=np.uint8)

    def sensor(_cache: dict[str, Any]) -> np.ndarray:
        return zeros

    sensor.__modality__ = modality  # robosuite reads it on every observation
    return sensor


def configure_scene(scene: Any, *, reflections: bool) -> None:
    """Set the render flags of one ``mujoco.MjvScene`` (``mjv_updateScene`` leaves them alone)."""
    import mujoco

    scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = int(reflections)


def activate_renderer(rs: Any, *, reflections: bool = True) -> None:
    """Make this env's EGL context current if none is (closing another env leaves none: black frames),
    and set its scene's reflection pass (a hard reset builds a new context, so this runs every reset)."""
    ctx = getattr(rs.sim, "_render_context_offscreen", None) if rs.use_camera_obs else None
    if ctx is None:
        return
    configure_scene(ctx.scn, reflections=reflections)
    if type(ctx.gl_ctx).__module__.endswith("egl_context"):
        from OpenGL import EGL  # robosuite renders into the current context; a live one is left alone

        if not EGL.eglGetCurrentContext():
            ctx.gl_ctx.make_current()


@contextlib.contextmanager
def blank_camera_renders(rs: Any, active: bool = True) -> Iterator[None]:
    """Within the block, robosuite's camera observables return zeros instead of rendering.

    Their sampling clocks run on unchanged, so the first frame rendered after
    the block is the one that would have been rendered without it. (It must not
    raise: LIBERO's reset retries forever on any exception.)
    """
    cams = [o for o in rs._observables.values() if o.modality == "image"] if active else []
    real = [o._sensor for o in cams]
    try:
        for obs, sensor in zip(cams, real, strict=True):
            obs._sensor = _zeros_sensor(obs._data_shape, sensor.__modality__)
        yield
    finally:
        for obs, sensor in zip(cams, real, strict=True):
            obs._sensor = sensor
