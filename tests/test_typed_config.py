from dataclasses import dataclass, field

import pytest

from mistvla.harness.errors import ConfigError
from mistvla.harness.typed import from_dict, to_dict


@dataclass
class Inner:
    factor: float = 0.5

    def __post_init__(self):
        if not 0 < self.factor <= 1:
            raise ValueError(f"factor must be in (0, 1], got {self.factor}")


@dataclass
class Outer:
    name: str
    inner: Inner = field(default_factory=Inner)
    tags: list[int] = field(default_factory=list)
    mode: str | None = None


def test_builds_nested_and_converts_ints_to_floats():
    got = from_dict(Outer, {"name": "a", "inner": {"factor": 1}, "tags": [1, 2]})
    assert got == Outer("a", Inner(1.0), [1, 2])
    assert to_dict(got) == {"name": "a", "inner": {"factor": 1.0}, "tags": [1, 2], "mode": None}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "a", "inner": {"facter": 1}}, "inner.facter: unknown key (known: factor)"),
        ({"name": "a", "tags": ["x"]}, "tags[0]: expected int, got str 'x'"),
        ({"inner": {}}, "name: required key is missing"),
        ({"name": "a", "inner": {"factor": 3}}, "inner: factor must be in (0, 1], got 3.0"),
        ({"name": True}, "name: expected a string"),
        ({"name": "a", "tags": [True]}, "tags[0]: expected int, got bool"),
        ([1], "<root>: expected a mapping"),
    ],
)
def test_errors_name_the_field(data, message):
    with pytest.raises(ConfigError) as err:
        from_dict(Outer, data)
    assert message in str(err.value)
