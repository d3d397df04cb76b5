"""The shared look of every figure: colours, colour scales, layout and axis defaults."""

from __future__ import annotations

import math
from typing import Any

Figure = dict[str, Any]

COLORS = (
    "#2563eb",
    "#f97316",
    "#16a34a",
    "#dc2626",
    "#9333ea",
    "#0891b2",
    "#ca8a04",
    "#db2777",
    "#4b5563",
    "#65a30d",
)
MUTED = "#94a3b8"
# Explicit colour scales: Plotly.js's named ones run the other way from matplotlib's.
SEQUENTIAL = [
    [0, "#f7fbff"],
    [0.25, "#c6dbef"],
    [0.5, "#6baed6"],
    [0.75, "#2171b5"],
    [1, "#08306b"],
]
DIVERGING = [
    [0, "#2166ac"],
    [0.25, "#92c5de"],
    [0.5, "#f7f7f7"],
    [0.75, "#f4a582"],
    [1, "#b2182b"],
]  # blue negative, red positive


def layout(**extra: Any) -> dict[str, Any]:
    """The shared look: system font, light grid, compact margins."""
    base: dict[str, Any] = {
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "colorway": list(COLORS),
        "hovermode": "closest",
        # Above the plot, left: below it the legend collides with long axis titles.
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
        "height": 340,
    }
    base.update(extra)
    return base


def axis(title: str = "", **extra: Any) -> dict[str, Any]:
    """An axis with a light grid; ``title`` is trusted text (callers escape user strings)."""
    return {"title": {"text": title}, "gridcolor": "#e5e7eb", "zerolinecolor": "#cbd5e1", **extra}


def is_number(x: Any) -> bool:
    """True for a finite int or float (not bool)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
