import itertools

from wrapper_helpers import psnr_by_level

from mistvla.harness.envs.wrappers.textures import TexturePerturbation, surface_geoms


def test_scene_surfaces_found_and_psnr_falls_with_level(env):
    geoms = surface_geoms(env.sim.model._model)
    assert all(geoms[s] for s in ("floor", "walls", "table")), geoms
    values = psnr_by_level(env, TexturePerturbation)
    assert all(a > b for a, b in itertools.pairwise(values)), values
