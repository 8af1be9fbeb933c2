"""Geom classification by ownership: tiny MJCF models, fake env metadata, and a real LIBERO kitchen scene."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from typing import Any

import mujoco
import numpy as np
import pytest

from mistvla.harness.envs.collisions.body_classes import (
    CLASS_NAMES,
    BodyClass,
    RootSpec,
    classify_env,
    classify_geoms,
    table_body_names,
    target_names,
)

XML = """<mujoco><worldbody>
  <geom name="floor" type="plane" size="2 2 .1"/>
  <body name="table"><geom name="table_top" type="box" size=".5 .5 .02"/></body>
  <body name="robot0_base">
    <body name="robot0_link1"><geom name="link1" size=".05"/>
      <body name="gripper0_right_gripper"><geom name="palm" size=".03"/>
        <body name="gripper0_finger"><geom name="pad" size=".01"/></body></body></body>
    <body name="mount0_base"><body name="mount0_pedestal"><geom name="pedestal" size=".1"/></body></body>
  </body>
  <body name="bowl_1_main"><freejoint/><geom name="bowl" size=".03"/>
    <body name="bowl_1_handle"><geom name="handle" size=".01"/></body></body>
  <body name="cabinet_1_main"><body name="cabinet_1_drawer"><joint type="slide"/><geom name="drawer" size=".1"/></body></body>
  <body name="stray_box"><freejoint/><geom name="stray" size=".02"/></body>
</worldbody></mujoco>"""

ROOTS = {
    "table": RootSpec(BodyClass.TABLE, "table"),
    "robot0_base": RootSpec(BodyClass.ARM, "robot0"),
    "gripper0_right_gripper": RootSpec(BodyClass.GRIPPER, "gripper0"),
    "mount0_base": RootSpec(BodyClass.MOUNT, "mount0"),
    "bowl_1_main": RootSpec(BodyClass.OBJECT, "bowl_1", movable=True),
    "cabinet_1_main": RootSpec(BodyClass.TARGET, "cabinet_1"),
    "not_in_this_model": RootSpec(BodyClass.FIXTURE, "ghost"),
}


def by_geom(model: mujoco.MjModel, gc: Any) -> dict[str, tuple[str, str, bool]]:
    name = lambda g: mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)  # noqa: E731
    return {
        name(g): (CLASS_NAMES[gc.geom_class[g]], gc.geom_owner[g], bool(gc.geom_movable[g]))
        for g in range(model.ngeom)
    }


def test_nearest_owned_ancestor_decides_the_class() -> None:
    model = mujoco.MjModel.from_xml_string(XML)
    gc = classify_geoms(model, ROOTS)
    assert by_geom(model, gc) == {
        "floor": ("world", "world", False),
        "table_top": ("table", "table", False),
        "link1": ("arm", "robot0", False),
        "palm": ("gripper", "gripper0", False),  # gripper root is nearer than the robot root
        "pad": ("gripper", "gripper0", False),
        "pedestal": ("mount", "mount0", False),  # mount hangs under robot0_base but is its own root
        "bowl": ("object", "bowl_1", True),
        "handle": ("object", "bowl_1", True),  # child bodies inherit class, owner and mobility
        "drawer": ("target", "cabinet_1", False),
        "stray": ("world", "stray_box", False),  # unknown top-level body: world, named after itself
    }
    assert gc.is_robot_geom.tolist() == [False, False, True, True, True, True, False, False, False, False]
    counts = gc.class_counts()
    assert sum(counts.values()) == model.ngeom and counts["gripper"] == 2 and counts["fixture"] == 0
    assert gc.geom_class.dtype == np.int8 and len(gc.body_names) == model.nbody


def test_classification_is_a_lookup_table_for_contact_arrays() -> None:
    model = mujoco.MjModel.from_xml_string(XML)
    gc = classify_geoms(model, ROOTS)
    pad, table = model.geom("pad").id, model.geom("table_top").id
    pairs = np.array([[pad, table], [table, pad]])
    assert gc.geom_class[pairs].tolist() == [
        [BodyClass.GRIPPER, BodyClass.TABLE],
        [BodyClass.TABLE, BodyClass.GRIPPER],
    ]


def test_target_names_resolve_regions_to_their_owner() -> None:
    env = SimpleNamespace(
        objects_dict={"bowl_1": None, "plate_1": None},
        fixtures_dict={"wooden_cabinet_1": None},
        object_sites_dict={
            "wooden_cabinet_1_top_region": SimpleNamespace(parent_name="wooden_cabinet_1"),
            "main_table_front_region": SimpleNamespace(),  # a table zone: no parent object
        },
        obj_of_interest=["bowl_1", "wooden_cabinet_1_top_region", "main_table_front_region", "unknown_thing"],
    )
    assert target_names(env) == {"bowl_1", "wooden_cabinet_1"}
    assert target_names(SimpleNamespace()) == set()


def test_table_body_names_come_from_the_arena() -> None:
    arena = SimpleNamespace(
        table_body=ET.Element("body", name="table"), floor=ET.Element("geom", name="floor")
    )
    env = SimpleNamespace(model=SimpleNamespace(mujoco_arena=arena), workspace_name="kitchen_table")
    assert table_body_names(env) == ["table", "kitchen_table"]
    living = SimpleNamespace(living_room_table_body=ET.Element("body", name="living_room_table"))
    assert table_body_names(SimpleNamespace(model=SimpleNamespace(mujoco_arena=living))) == [
        "living_room_table"
    ]
    assert table_body_names(SimpleNamespace(model=SimpleNamespace(mujoco_arena=SimpleNamespace()))) == []


@pytest.fixture(scope="module")
def kitchen() -> Any:
    """libero_10 KITCHEN_SCENE3: kitchen table, the stove fixture *and* the moka pot are targets."""
    from mistvla.harness.envs.setup import ensure_libero

    ensure_libero()
    from libero.libero import benchmark, get_libero_path
    from libero.libero.envs import OffScreenRenderEnv

    suite = benchmark.get_benchmark_dict()["libero_10"]()
    tasks = [suite.get_task(i) for i in range(suite.n_tasks)]
    task = next(t for t in tasks if t.bddl_file.startswith("KITCHEN_SCENE3_turn_on_the_stove"))
    bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
    env = OffScreenRenderEnv(bddl_file_name=bddl, has_offscreen_renderer=False, use_camera_obs=False)
    env.reset()
    yield env
    env.close()


def test_real_kitchen_scene(kitchen: Any) -> None:
    rs = kitchen.env
    model = rs.sim.model._model
    gc = classify_env(rs)
    assert target_names(rs) == {"moka_pot_1", "flat_stove_1"}
    expected_prefix = {
        "robot0_": "arm",
        "gripper0_": "gripper",
        "mount0_": "mount",
        "flat_stove_1_": "target",
        "moka_pot_1_": "target",
        "chefmate_8_frypan_1_": "object",
    }
    for b, name in enumerate(gc.body_names):
        want = next((cls for prefix, cls in expected_prefix.items() if name.startswith(prefix)), None)
        if name == "table":
            want = "table"
        if b == 0:
            want = "world"
        assert want is not None, f"unexpected body {name}"
        assert CLASS_NAMES[gc.body_class[b]] == want, name
    # Floor and walls are world geoms; nothing is a plain fixture here (the only fixture is a target).
    counts = gc.class_counts()
    assert counts["world"] >= 1 and counts["fixture"] == 0 and counts["table"] >= 1
    # Only free objects (objects_dict) are movable; the stove target is not.
    movable_owners = {gc.geom_owner[g] for g in np.flatnonzero(gc.geom_movable)}
    assert movable_owners == set(rs.objects_dict)
    stove = [g for g in range(model.ngeom) if gc.geom_owner[g] == "flat_stove_1"]
    assert stove and not gc.geom_movable[stove].any()
    # A hard reset builds a new model; classifying it again gives the same answer.
    old_sim = rs.sim
    kitchen.reset()
    assert rs.sim is not old_sim
    again = classify_env(rs)
    assert np.array_equal(again.geom_class, gc.geom_class) and again.geom_owner == gc.geom_owner
