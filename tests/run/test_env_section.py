"""The run config's ``env:`` section: parsed once into a LiberoEnvConfig, completed from the policy's needs."""

from __future__ import annotations

import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.errors import ConfigError
from mistvla.policies.base import PolicyRequirements

SEEN = PolicyRequirements(cameras=("agentview", "robot0_eye_in_hand"), image_size=64)
STATE = PolicyRequirements(cameras=(), privileged=True)


def _cfg(env: dict | None = None, **extra):
    data = {"name": "t", "policy": {"name": "random"}, "episodes": {"suite": "libero_spatial"},
            "risk": {"source": "constant"}, **extra}  # fmt: skip
    return parse_config({**data, "env": env} if env is not None else data)


def test_what_the_section_leaves_out_comes_from_the_policy() -> None:
    env = _cfg().env_for(SEEN)
    assert (env.cameras, env.image_size, env.privileged) == (SEEN.cameras, 64, False)
    assert _cfg().env_for(STATE).privileged and _cfg().env_for(STATE).cameras == ()


def test_what_the_section_sets_wins() -> None:
    env = _cfg({"cameras": ["agentview"], "image_size": 96, "max_steps": 40}).env_for(SEEN)
    assert (env.cameras, env.image_size, env.max_steps) == (("agentview",), 96, 40)


def test_a_video_run_renders_agentview_for_a_state_policy() -> None:
    assert _cfg(video=True).env_for(STATE).cameras == ("agentview",)


def test_privileged_risk_source_turns_privileged_on() -> None:
    cfg = _cfg(risk={"source": "oracle"})
    assert cfg.env_for(SEEN).privileged


def test_the_section_is_not_widened_in_the_run_identity() -> None:
    """The identity (config hash) holds only what the YAML gave, as before the section was typed."""
    assert _cfg({"max_steps": 40}).to_dict()["env"] == {"max_steps": 40}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"image_size": 4}, r"^env: image_size must be in \[8, 1024\], got 4$"),
        ({"cameras": ["topview"]}, r"^env: unknown camera\(s\) \['topview'\]"),
        ({"collision": {"nope": 1}}, r"^env\.collision\.nope: unknown key"),
    ],
)
def test_bad_env_is_refused_at_load(env: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _cfg(env)
