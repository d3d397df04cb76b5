"""Escaping, rounding and number formatting shared by the figures and the templates."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from markupsafe import Markup

#: Significant digits kept for floats in embedded figures: plenty for a chart, and it keeps a
#: report with hundreds of attribution maps small.
SIG_DIGITS = 4

# Characters that could end a <script> element or open an HTML comment inside one; JSON allows
# the \uXXXX form anywhere in a string, so the parsed value is unchanged.
_SCRIPT_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def plot_text(value: Any) -> str:
    """A user string made safe for Plotly, which renders a small HTML subset in every text.

    ``<`` ``>`` ``&`` become entities, which Plotly decodes back to plain characters when it
    draws them, so ``<img src=x onerror=...>`` is shown as text and never parsed as a tag.
    """
    return html.escape(str(value), quote=False)


def plot_texts(values: Sequence[Any]) -> list[str]:
    """:func:`plot_text` over a sequence."""
    return [plot_text(v) for v in values]


def round_sig(x: float, digits: int = SIG_DIGITS) -> float | None:
    """``x`` to ``digits`` significant digits; None for NaN / inf (JSON has neither)."""
    if not math.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def clean(obj: Any, digits: int = SIG_DIGITS) -> Any:
    """A JSON-safe copy of ``obj``: numpy values to Python, floats rounded, NaN to None."""
    if isinstance(obj, bool | str) or obj is None:
        return obj
    if isinstance(obj, float | np.floating):
        return round_sig(float(obj), digits)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist(), digits)
    if isinstance(obj, Mapping):
        return {str(k): clean(v, digits) for k, v in obj.items()}
    if isinstance(obj, Sequence | set | tuple):
        return [clean(v, digits) for v in obj]
    return str(obj)


def script_json(obj: Any) -> Markup:
    """``obj`` as compact JSON that is safe inside ``<script>`` (no ``</script>`` break-out)."""
    text = json.dumps(clean(obj), separators=(",", ":"), allow_nan=False)
    for char, escaped in _SCRIPT_UNSAFE.items():
        text = text.replace(char, escaped)
    return Markup(text)


def fmt_num(value: Any, digits: int = 4) -> str:
    """A number for people: ``0.9731``, ``1.2e-05``, ``12,345``; ``–`` when missing."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "–" if value is None else str(value)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def fmt_prob(value: Any) -> str:
    """A probability to three decimals that reads 1 or 0 only when it is: ``0.702``,
    ``> 0.999`` (0.99948), ``< 0.001``."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return fmt_num(value)
    p = float(value)
    if not math.isfinite(p) or p in (0.0, 1.0) or not 0.0 < p < 1.0:
        return fmt_num(value)
    if p >= 0.9995:
        return "> 0.999"
    if p < 0.0005:
        return "< 0.001"
    return f"{p:.3f}"


def fmt_si(value: Any) -> str:
    """A count in short form: ``12.3 k``, ``4.56 M``, ``1.2 G``."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "–" if value is None else str(value)
    for factor, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return fmt_num(value)


def fmt_seconds(value: Any) -> str:
    """Seconds for people: ``0.42 s``, ``3 min 20 s``, ``1 h 05 min``."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "–"
    if value < 60:
        return f"{value:.3g} s"
    minutes, seconds = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def pretty_json(obj: Any) -> str:
    """Indented JSON for a ``<pre>`` block (the template escapes it)."""
    return json.dumps(obj, indent=2, sort_keys=False, default=str, ensure_ascii=False)
