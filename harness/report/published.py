"""Published LIBERO success rates, shown as reference columns beside a run's own SR.

A config names the columns it wants (``report: {reference: [openvla, openvla_oft]}``);
each shows, per suite row, the SR the paper reports for that suite, and on the
``average`` row the paper's mean over the four suites (only when the run's
suites are exactly those four, since a mean over other suites is another
number). Rows of other suites (LIBERO-90, LIBERO-PRO) get ``-``.

>>> reference_sr("openvla", "libero_goal", ["libero_goal"])
79.2
>>> reference_sr("smolvla", "average", list(PUBLISHED_SUITES))
87.3
>>> reference_sr("smolvla", "average", ["libero_goal", "libero_10"]) is None
True
>>> check_reference(["openvla", "octo"], "report.reference")
Traceback (most recent call last):
...
mistvla.harness.errors.ConfigError: report.reference: unknown published result 'octo'; known: openvla, openvla_oft, smolvla
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mistvla.harness.errors import ConfigError

PUBLISHED_SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10")
"""The four suites the published protocols report (libero_10 is LIBERO-Long)."""


@dataclass(frozen=True)
class PublishedResult:
    """One paper's LIBERO SRs (percent), per suite and their mean as the paper prints it."""

    label: str
    source: str
    sr: dict[str, float]
    average: float

    def __post_init__(self) -> None:
        mean = sum(self.sr[s] for s in PUBLISHED_SUITES) / len(PUBLISHED_SUITES)
        assert abs(mean - self.average) < 0.06, (self.label, mean)  # the paper's rounding only


PUBLISHED: dict[str, PublishedResult] = {
    "openvla": PublishedResult(
        "OpenVLA",
        "Kim et al. 2024, OpenVLA: An Open-Source Vision-Language-Action Model (LIBERO table, "
        "fine-tuned OpenVLA, 500 episodes per suite over 3 seeds)",
        dict(zip(PUBLISHED_SUITES, (84.7, 88.4, 79.2, 53.7), strict=True)),
        76.5,
    ),
    "openvla_oft": PublishedResult(
        "OpenVLA-OFT",
        "Kim, Finn, Liang 2025, Fine-Tuning Vision-Language-Action Models: Optimizing Speed and "
        "Success (LIBERO table, OpenVLA-OFT)",
        dict(zip(PUBLISHED_SUITES, (97.6, 98.4, 97.9, 94.5), strict=True)),
        97.1,
    ),
    "smolvla": PublishedResult(
        "SmolVLA (0.45B)",
        "Shukor et al. 2025, SmolVLA: A Vision-Language-Action Model for Affordable and Efficient "
        "Robotics (LIBERO table, SmolVLA 0.45B)",
        dict(zip(PUBLISHED_SUITES, (90.0, 96.0, 92.0, 71.0), strict=True)),
        87.3,
    ),
}


def check_reference(names: Sequence[str], where: str) -> None:
    """Raise a one-line :class:`ConfigError` at ``where`` for a name not in :data:`PUBLISHED`."""
    for name in names:
        if name not in PUBLISHED:
            raise ConfigError(f"{where}: unknown published result {name!r}; known: {', '.join(PUBLISHED)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: duplicates in {list(names)}")


def reference_sr(name: str, scope: str, suites: Sequence[str]) -> float | None:
    """The published SR (percent) of ``name`` for a table row's ``scope``; None where it has none.

    ``suites`` are the run's suite scopes: the ``average`` row gets the paper's
    mean only when they are exactly :data:`PUBLISHED_SUITES`.
    """
    result = PUBLISHED[name]
    if scope == "average":
        return result.average if sorted(suites) == sorted(PUBLISHED_SUITES) else None
    return result.sr.get(scope)


def reference_header(name: str) -> str:
    """The column header, e.g. ``OpenVLA pub. SR %``."""
    return f"{PUBLISHED[name].label} pub. SR %"


def reference_footer(names: Sequence[str]) -> str:
    """The sources of the reference columns, one sentence ('' for none)."""
    if not names:
        return ""
    sources = "; ".join(f"{reference_header(n)}: {PUBLISHED[n].source}" for n in names)
    return (
        f"Reference columns (published SRs, not this run): {sources}. '-' where the paper reports "
        "none; its average only on an average row over exactly libero_spatial/object/goal/10."
    )
