"""prereg.json: the hash of the run identity, strict parsing, atomic write-once, and the labels."""

from __future__ import annotations

import json

import pytest

from mistvla.harness.errors import ConfigError, StoreError
from mistvla.harness.results.manifest import config_hash
from mistvla.harness.stats.config import StoppingConfig
from mistvla.harness.stats.prereg import (
    Hypothesis,
    build_prereg,
    classify,
    identity_hash,
    parse_prereg,
    read_prereg,
    write_prereg,
)

IDENTITY = {"policy": {"name": "openvla"}, "suites": ["libero_spatial"], "seeds": [0, 1, 2], "alpha": 0.05}


def _record(**kw):
    hyps = [Hypothesis("steer", "sr", "greater"), Hypothesis("steer", "cr", "less", 0.01)]
    return build_prereg(IDENTITY, hyps, StoppingConfig(min_units=10, max_units=200), **kw)


def test_hash_is_the_manifest_config_hash() -> None:
    assert identity_hash(IDENTITY) == config_hash(IDENTITY)
    assert identity_hash({**IDENTITY, "seeds": [0, 1]}) != identity_hash(IDENTITY)


def test_record_round_trips_through_the_file(tmp_path) -> None:
    record = _record()
    assert record["analysis"].startswith("exact McNemar") and record["created_utc"].endswith("Z")
    assert record["stopping"]["rule"] == "anytime_valid"
    path = write_prereg(tmp_path, record)
    assert json.loads(path.read_text()) == record
    prereg = read_prereg(tmp_path)
    assert prereg.stopping == StoppingConfig(min_units=10, max_units=200)
    assert [h.question for h in prereg.hypotheses] == ["steer/sr", "steer/cr"]
    monitor = prereg.monitor()
    assert [(q.name, q.alternative) for q in monitor.questions] == [
        ("steer/sr", "greater"),
        ("steer/cr", "less"),
    ]
    assert (monitor.threshold, monitor.min_units, monitor.max_units) == (40, 10, 200)
    no_rule = parse_prereg({**record, "stopping": None})
    with pytest.raises(ConfigError, match="no stopping rule"):
        no_rule.monitor()
    with pytest.raises(StoreError, match="exists already"):
        write_prereg(tmp_path, record)
    assert read_prereg(tmp_path / "none") is None
    assert [p.name for p in tmp_path.iterdir()] == ["prereg.json"]  # no temp file left behind


def test_classification() -> None:
    prereg = parse_prereg(_record())
    h = identity_hash(IDENTITY)
    assert classify(prereg, h, "steer", "sr").label == "confirmatory"
    assert classify(prereg, h, "steer", "cr").reason == "confirmatory: pre-registered (less, alpha 0.01)"
    assert classify(prereg, h, "damp", "sr").reason == "exploratory: damp/sr was not pre-registered"
    changed = classify(prereg, identity_hash({**IDENTITY, "seeds": [0]}), "steer", "sr")
    assert changed.label == "exploratory" and "config changed after pre-registration" in changed.reason
    assert classify(None, h, "steer", "sr").reason == "exploratory: no pre-registration"


def test_bad_records_name_the_field(tmp_path) -> None:
    with pytest.raises(
        ConfigError, match=r"hypotheses\[0\].metric: must be one of \['sr', 'cr', 'cr_obstacle'\]"
    ):
        build_prereg(IDENTITY, [{"row": "x", "metric": "xx"}])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="repeat a"):
        build_prereg(IDENTITY, [Hypothesis("a", "sr"), Hypothesis("a", "sr", "greater")])
    with pytest.raises(ValueError, match="alpha must be in"):
        Hypothesis("a", "sr", alpha=0.5)
    bad = {**_record(), "config_hash": "xyz"}
    with pytest.raises(StoreError, match=r"prereg\.json: config_hash must be 64"):
        parse_prereg(bad)
    (tmp_path / "prereg.json").write_text("{")
    with pytest.raises(StoreError, match="not valid JSON"):
        read_prereg(tmp_path)
    with pytest.raises(StoreError, match=r"prereg\.json: stopping: max_units"):
        parse_prereg({**_record(), "stopping": {"min_units": 5, "max_units": 1}})
