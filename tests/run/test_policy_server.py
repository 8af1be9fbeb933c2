"""The policy server's batching (no Ray: its actor body driven by asyncio) and what it refuses."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from mistvla.harness.config.run import parse_config
from mistvla.harness.errors import ConfigError
from mistvla.harness.run.checks import check_run
from mistvla.harness.run.policy_server import PolicyServer
from mistvla.policies.registry import make_policy

BASE = {
    "name": "ps",
    "policy": {"name": "random", "params": {"seed": 3}},
    "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0]},
    "risk": {"source": "oracle"},
    "executor": {"kind": "ray", "policy_server": {}},
}


def _serve(max_batch: int, wait_ms: float, requests: list[list[str]]) -> tuple[PolicyServer, list]:
    server = PolicyServer(parse_config(BASE).to_dict(), max_batch, wait_ms)

    async def main() -> list:
        for k in range(4):
            await server.open(f"e{k}", "pick up the bowl", seed=k)
        calls = [server.act(tokens, [{} for _ in tokens]) for tokens in requests]
        return await asyncio.gather(*calls, return_exceptions=True)

    return server, asyncio.run(main())


def _alone(seed: int) -> np.ndarray:
    policy = make_policy("random", seed=3)
    policy.reset("pick up the bowl", seed=seed)
    return policy.select_action({})


def test_requests_in_the_window_are_one_batch_with_each_episodes_own_actions():
    server, replies = _serve(8, 50.0, [["e0"], ["e1", "e2"], ["e3"]])
    assert (server.batches, server.items) == (1, 4)
    actions = np.concatenate([r[0] for r in replies])
    np.testing.assert_array_equal(actions, np.stack([_alone(k) for k in range(4)]))
    assert all(c is None for r in replies for c in r[1])  # the random policy captures nothing


def test_max_batch_cuts_batches_without_splitting_a_request():
    server, replies = _serve(2, 10_000.0, [["e0"], ["e1"], ["e2", "e3"]])  # full batches never wait
    assert (server.batches, server.items) == (2, 4)
    np.testing.assert_array_equal(replies[2][0], np.stack([_alone(2), _alone(3)]))


def test_a_failing_request_crashes_alone():
    server, replies = _serve(8, 20.0, [["e0"], ["nope"], ["e1"]])
    assert isinstance(replies[1], LookupError)
    assert (server.batches, server.items) == (2, 2)  # the batch of three failed; two reruns alone answered
    np.testing.assert_array_equal(replies[0][0][0], _alone(0))
    np.testing.assert_array_equal(replies[2][0][0], _alone(1))


def test_what_the_server_cannot_serve_is_a_config_error(tmp_path):
    from mistvla.hooks.steering import SteeringSpec

    SteeringSpec({"llm.blocks.1.resid_post": np.ones(8)}, positions="last_prompt").save(tmp_path / "dim_0")
    reference = {
        "name": "reference",
        "params": {"checkpoint": "experiments/artifacts/reference/libero_spatial"},
    }
    steer = [
        {"name": "none"},
        {"name": "steer", "steering": str(tmp_path), "threshold": 0.5, "allow_failed_check": True},
    ]
    cases = [
        ({"policy": {"name": "scripted"}}, "policy 'scripted' reads its env in bind()"),
        ({"policy": reference, "interventions": steer}, "interventions[1] 'steer' steers"),
    ]
    for change, field in cases:
        with pytest.raises(ConfigError, match=r"executor\.policy_server") as err:
            check_run(parse_config({**BASE, **change}))
        assert field in str(err.value) and "\n" not in str(err.value)


def test_the_server_needs_the_ray_executor():
    with pytest.raises(ConfigError, match="policy_server needs kind: ray"):
        parse_config({**BASE, "executor": {"kind": "local", "policy_server": {}}})
