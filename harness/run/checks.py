"""Everything about a run that can be checked before an episode runs or a file is written.

A refused config leaves nothing behind: :func:`check_run` runs before the run
directory is created, and each problem is one :class:`~mistvla.harness.errors.ConfigError`
naming the field.

>>> from mistvla.harness.config.run import parse_config
>>> cfg = parse_config({"name": "t", "policy": {"name": "scripted"},
...                     "episodes": {"suite": "libero_spatial", "tasks": [0], "init_states": [0]},
...                     "interventions": [{"name": "none"}, {"name": "damp"}],
...                     "risk": {"source": "oracle"}})
>>> check_run(cfg)
>>> bad = parse_config({**cfg.to_dict(), "interventions": [{"name": "none"},
...                     {"name": "steer", "steering": "nowhere"}]})
>>> check_run(bad)
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: interventions[1]: 'steer' acts through hook points, and policy 'scripted' has none (it is not a HookedPolicy)
"""

from __future__ import annotations

from mistvla.harness.config.run import RunConfig
from mistvla.harness.errors import ConfigError
from mistvla.harness.interventions.base import intervention_class
from mistvla.harness.risk.base import risk_options, risk_source_class
from mistvla.harness.run.plan import run_tasks


def check_run(cfg: RunConfig) -> None:
    """Raise :class:`ConfigError` for the first problem found; return None when the run can start."""
    from mistvla.policies.base import HookedPolicy
    from mistvla.policies.params import policy_config
    from mistvla.policies.registry import policy_class

    run_tasks(cfg)
    policy_cls = policy_class(cfg.policy.name)
    policy_config(policy_cls, cfg.policy.params)
    risk_options(cfg.risk)
    risk_cls = risk_source_class(cfg.risk.source)
    if risk_cls.needs_hidden and not issubclass(policy_cls, HookedPolicy):
        raise ConfigError(
            f"risk.source: {cfg.risk.source!r} reads hidden states; policy {cfg.policy.name!r} has none"
        )
    for i, icfg in enumerate(cfg.interventions):
        kind = intervention_class(icfg.name)
        where = f"interventions[{i}]"
        if kind.needs_hooks and not issubclass(policy_cls, HookedPolicy):
            raise ConfigError(
                f"{where}: {icfg.name!r} acts through hook points, and policy {cfg.policy.name!r} has none "
                "(it is not a HookedPolicy)"
            )
        away = getattr(icfg.options, "target", None) == "away"
        if (kind.needs_direction or away) and not risk_cls.direction:
            raise ConfigError(
                f"{where}: {icfg.name!r} needs the direction of the nearest hazard, and risk source "
                f"{cfg.risk.source!r} gives none"
            )
        if kind.needs_per_dim and not risk_cls.per_dim:
            raise ConfigError(
                f"{where}: {icfg.name!r} needs a per-dimension risk vector, and risk source "
                f"{cfg.risk.source!r} gives only a scalar"
            )
        steering = getattr(icfg.options, "steering", None)
        if steering is not None:
            from mistvla.harness.interventions.steer import load_dimension_specs, online_point

            try:
                specs = load_dimension_specs(steering)
            except ConfigError as err:
                raise ConfigError(f"{where}.{err}") from None
            check_steering_set(steering, icfg.options, where)
            online = online_point(steering, getattr(icfg.options, "strength", "alpha"), f"{where}.steering")
            if online is not None and risk_cls.needs_hidden:
                raise ConfigError(
                    f"{where}.steering: a jacobian_online set takes its Jacobian before the forward pass, and "
                    f"risk.source {cfg.risk.source!r} gates inside it; use a risk source read from the observation"
                )
            count = (
                policy_cls.block_count(cfg.policy.params) if issubclass(policy_cls, HookedPolicy) else None
            )
            check_blocks(specs, count, cfg.policy.name, where)
            if kind.needs_hooks and risk_cls.needs_hidden:  # in-pass gating: steer at or after the risk point
                from mistvla.harness.interventions.in_pass import check_order
                from mistvla.harness.risk.base import make_risk_source

                points = sorted({p for spec in specs.values() for p in spec.vectors})
                check_order(make_risk_source(cfg.risk).point, points, where)
    if cfg.executor.policy_server is not None:
        check_policy_server(cfg, policy_cls, risk_cls)


def check_blocks(specs: dict, count: int | None, policy: str, where: str) -> None:
    """Refuse a steering point at a block the policy does not have."""
    from mistvla.harness.interventions.in_pass import block_index

    for spec in specs.values():
        for point in spec.vectors:
            b = block_index(point)
            if count is not None and b is not None and b >= count:
                raise ConfigError(
                    f"{where}.steering: steers {point!r}, and policy {policy!r} has blocks 0-{count - 1}"
                )


def check_steering_set(steering: str, options: object, where: str) -> None:
    """Refuse a direction set without an honest check result, or whose check failed, unless allowed."""
    from mistvla.harness.steering.check_score import PASS_DIMS, read_check

    if getattr(options, "allow_failed_check", False):
        return
    chk = read_check(steering)
    if chk is None:
        raise ConfigError(
            f"{where}.steering: {steering!r} has no check result (check/check.json of `mistvla steer check`); "
            "check it or set allow_failed_check: true"
        )
    if chk["n_pass"] < PASS_DIMS:
        raise ConfigError(
            f"{where}.steering: {steering!r} failed its check ({chk['n_pass']}/6 dimensions pass, "
            f"need >= {PASS_DIMS}); set allow_failed_check: true to run it anyway"
        )


def check_policy_server(cfg: RunConfig, policy_cls: type, risk_cls: type) -> None:
    """What the policy server cannot serve yet: hooks armed in the env actor, a policy reading its env."""
    from mistvla.policies.base import Policy

    where = "executor.policy_server"
    if risk_cls.needs_hidden:
        raise ConfigError(f"{where}: risk.source {cfg.risk.source!r} reads hidden states in the env actor; "
                          "not supported with a policy server yet")  # fmt: skip
    for i, icfg in enumerate(cfg.interventions):
        if intervention_class(icfg.name).needs_hooks:
            raise ConfigError(f"{where}: interventions[{i}] {icfg.name!r} steers the policy's hidden states; "
                              "not supported with a policy server yet")  # fmt: skip
    if policy_cls.bind is not Policy.bind:
        raise ConfigError(f"{where}: policy {cfg.policy.name!r} reads its env in bind(), and the server "
                          "holds no env")  # fmt: skip
