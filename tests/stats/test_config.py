"""The stopping/power config blocks: parsing, one-line errors naming the field, planning rates."""

from __future__ import annotations

import pytest

from mistvla.harness.errors import ConfigError
from mistvla.harness.stats.config import (
    PowerConfig,
    StoppingConfig,
    check_stopping_preregistered,
    parse_effect_pp,
)
from mistvla.harness.stats.power import units_needed
from mistvla.harness.typed import from_dict


def _stopping(**kw):
    return from_dict(StoppingConfig, {"rule": "anytime_valid", "max_units": 100, **kw}, "stopping")


def _power(**kw):
    return from_dict(PowerConfig, {"effect_pp": 10, "assume": {"discordance": 0.3}, **kw}, "power")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _stopping(alpha=0.5), "stopping: alpha must be in (0, 0.5), got 0.5"),
        (lambda: _stopping(alpha=0), "stopping: alpha must be in (0, 0.5), got 0.0"),
        (lambda: _stopping(min_units=200), "stopping: max_units (100) must be >= min_units (200)"),
        (lambda: _stopping(rule="fixed"), "stopping.rule: must be one of ['anytime_valid'], got 'fixed'"),
        (lambda: from_dict(StoppingConfig, {}, "stopping"), "stopping.max_units: required key is missing"),
        (lambda: _power(effect_pp=0), "power: effect_pp must be in (0, 100) percentage points, got 0.0"),
        (lambda: _power(effect_pp=100), "power: effect_pp must be in (0, 100) percentage points, got 100.0"),
        (lambda: _power(effect_pp=-5), "power: effect_pp must be in (0, 100) percentage points, got -5.0"),
        (lambda: _power(alpha=0.7), "power: alpha must be in (0, 0.5), got 0.7"),
        (lambda: _power(assume=None), "power: give exactly one of pilot_run or assume"),
        (
            lambda: _power(assume={"discordance": 0.3, "base_rate": 0.5}),
            "power.assume: give exactly one of discordance or base_rate",
        ),
        (
            lambda: _power(effect_pp=40).rates(),
            "power.assume: |effect| 0.4 cannot exceed the discordance 0.3",
        ),
        (lambda: parse_effect_pp("ten"), "--effect: expected percentage points like 10pp, got 'ten'"),
        (lambda: parse_effect_pp("0pp"), "--effect: must be in (0, 100) percentage points, got 0pp"),
        (
            lambda: check_stopping_preregistered(_stopping(), False),
            "stopping: rule anytime_valid needs a pre-registration",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_field(make, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make()
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_good_blocks_parse_and_plan() -> None:
    stop = _stopping(alpha=0.05, min_units=20, max_units=400, prior_a=2)
    monitor = stop.monitor(["steer/sr", "damp/sr"], alternative="greater")
    assert monitor.threshold == 40 and monitor.min_units == 20
    tuned = _stopping(max_units=400).monitor(["steer/sr"], planned=_power(effect_pp=10).rates())
    assert tuned.questions[0].prior_a == pytest.approx(4.0)  # split 2/3: Beta(4, 4)
    assert _stopping().monitor(["steer/sr"]).questions[0].prior_a == 1.0
    check_stopping_preregistered(stop, True)
    check_stopping_preregistered(None, False)  # no stopping rule: nothing to check
    power = _power(effect_pp=10)
    assert units_needed(power.rates(), power.alpha, power.power).n == 249
    cr = _power(effect_pp=10, metric="cr", alternative="less", assume={"base_rate": 0.4})
    assert cr.delta == pytest.approx(-0.1) and cr.rates().delta == pytest.approx(-0.1)
    pilot = _power(effect_pp=10, assume=None, pilot_run="runs/pilot")
    assert pilot.rates(([1, 0, 1, 0], [0, 1, 1, 0])).discordance == pytest.approx(0.5)
    with pytest.raises(ConfigError, match=r"power\.pilot_run: pilot_run is set"):
        pilot.rates()
    assert parse_effect_pp(" 12.5 pp ") == 12.5 and parse_effect_pp(20) == 20.0
