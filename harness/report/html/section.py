"""The contract of a report section: a builder takes the :class:`ReportData`, returns HTML plus data.

A section builder is any callable ``builder(data: ReportData) -> SectionOutput | None``
(None: the section does not apply to these runs, e.g. ROC curves of a run without
risk labels). The page (:mod:`mistvla.harness.report.html.page`) gives each
section an element id, inlines its ``data`` as JSON, draws its Plotly ``figures``
into the ``<div>`` ids it names and runs its ``script`` as the body of
``function (data, el)`` once the page has loaded. See ``docs/report.md``.

>>> out = SectionOutput("Hello", "<p>hi</p>", data={"n": 1})
>>> out.key
'hello'
>>> to_json({"x": float("nan"), "tag": "</script>"})
'{"x":null,"tag":"<\\\\/script>"}'
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mistvla.harness.report.html.data import ReportData


@dataclass
class SectionOutput:
    """One section of the page.

    ``html`` is the section body (the page adds the ``<h2>`` title); ``figures``
    maps ids of ``<div>`` elements in ``html`` to Plotly figures
    (``{"data": [...], "layout": {...}}``); ``data`` (JSON-serialisable) and
    ``script`` (JavaScript, the body of ``function (data, el)``) are optional.
    """

    title: str
    html: str
    data: Any = None
    script: str | None = None
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "section"


SectionBuilder = Callable[["ReportData"], "SectionOutput | None"]


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return None if math.isnan(x) or math.isinf(x) else x
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "tolist"):  # numpy scalars and arrays
        return _clean(x.tolist())
    return x


def to_json(x: Any) -> str:
    """Compact JSON safe inside ``<script>``: NaN/inf become null, ``</`` is escaped."""
    return json.dumps(_clean(x), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def esc(text: Any) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text), quote=True)


def plot_div(div_id: str, height: int = 360) -> str:
    """The placeholder ``<div>`` a figure of :attr:`SectionOutput.figures` is drawn into."""
    return f'<div class="plot" id="{esc(div_id)}" style="height:{int(height)}px"></div>'
