"""Escaping, rounding and number formatting shared by the figures and the templates."""

from __future__ import annotations

import html
import json
import math
import re
import unicodedata
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


#: Characters of a user label (a feature, class or target name) that a figure draws; a longer
#: one is cut in the middle with an ellipsis, and the hover shows it whole.
LABEL_CHARS = 32
#: The same for labels across an x axis, which Plotly turns upright when they do not fit: each
#: character then takes height from the plot.
XLABEL_CHARS = 14
#: Pixels added to a figure's height when its x-axis labels are long enough to be shortened
#: (upright, they need about 7 px a character).
XLABEL_PX = 7 * XLABEL_CHARS
# "name = value" / "column ≠ category": the last separator splits the name from the value
_NAME_VALUE = re.compile(r"^(.*)( [=≠] )(.*)$", re.S)
FSI, PDI = "\u2068", "\u2069"  # first-strong isolate, pop directional isolate


def short(value: Any, limit: int = LABEL_CHARS) -> str:
    """``value`` as text of at most ``limit`` characters: a longer one keeps its start and its
    end (where names made of a shared prefix and a suffix differ) around an ellipsis. Not
    escaped: pass the result through :func:`plot_text`."""
    text = str(value)
    if len(text) <= limit:
        return text
    tail = max(1, limit // 3)
    return text[: max(1, limit - 1 - tail)] + "…" + text[-tail:]


def short_label(value: Any, limit: int = LABEL_CHARS) -> str:
    """A tick label shortened: in ``name = value`` the name and the value are shortened each,
    so the value stays readable beside a long name."""
    m = _NAME_VALUE.match(str(value))
    if m is None:
        return short(value, limit)
    return short(m[1], limit) + m[2] + short(m[3], limit)


def label_alias(raw: Sequence[Any], limit: int = LABEL_CHARS) -> dict[str, str]:
    """Plotly's ``labelalias`` for the category labels ``raw`` (unescaped): each escaped label
    longer than ``limit`` to its escaped short form. The categories keep their full text (two
    long names that shorten alike stay two rows); the hover must show it from ``customdata``,
    as Plotly applies the alias to ``%{x}`` / ``%{y}`` too."""
    out = {}
    for value in raw:
        cut = short_label(value, limit)
        if cut != str(value):
            out[plot_text(value)] = plot_text(cut)
    return out


def is_rtl(text: str) -> bool:
    """Whether ``text`` holds a right-to-left letter (Arabic, Hebrew, ...)."""
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def isolate(name: Any) -> str:
    """``name`` between Unicode isolates (FSI ... PDI) when it holds right-to-left letters, so
    that ``name = value`` reads in that order beside left-to-right labels instead of the
    bidirectional algorithm putting the value first; other names are returned unchanged."""
    text = str(name)
    return f"{FSI}{text}{PDI}" if is_rtl(text) else text


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
    """A number for people: ``0.9731``, ``1.2e-05``, ``12,345``, ``52,599`` (not ``5.26e+04``:
    from 1,000 to a billion the whole number, grouped, which keeps at least four significant
    digits); ``–`` when missing."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "–" if value is None else str(value)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return str(value)
    if GROUPED[0] <= abs(value) < GROUPED[1] and round(value) != 0:
        return f"{round(value):,}"
    return f"{value:.{digits}g}"


#: The range of magnitudes :func:`fmt_num` writes as a grouped whole number (an RMSE of 52,599
#: in a price's units, not 5.26e+04); larger ones stay in scientific notation.
GROUPED = (1e3, 1e9)


def fmt_span(lo: Any, hi: Any, digits: int = 3) -> tuple[str, str]:
    """The two ends of an interval on one scale: ``digits`` significant digits of the larger
    end, and as many decimals for the other (``-0.0467`` to ``-0.0001``, not ``-8.33e-05``: a
    bootstrap percentile of a difference counted in 1/300ths falls between them). An end that
    rounds to zero keeps its sign (``-0.0000``: the interval still excludes 0), and 0 is
    ``0``; ends too large or too small for decimals are :func:`fmt_num`'s."""
    ends = [v for v in (lo, hi) if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(ends) < 2 or not all(math.isfinite(v) for v in ends) or max(map(abs, ends)) == 0:
        return fmt_num(lo, digits), fmt_num(hi, digits)
    top = max(map(abs, ends))
    decimals = digits - 1 - math.floor(math.log10(top))
    if not 0 <= decimals <= 6 or top >= GROUPED[1]:
        return fmt_num(lo, digits), fmt_num(hi, digits)

    def end(v: float) -> str:
        if v == 0:
            return "0"
        text = f"{v:,.{decimals}f}"
        return "-" + text if v < 0 and not text.startswith("-") else text

    a, b = end(float(lo)), end(float(hi))
    # zeros both ends share go ("-0.1 to 0.1", not "-0.100 to 0.100"); "50.0–59.3" keeps its
    while all("." in t and t.endswith("0") for t in (a, b) if t != "0") and {a, b} != {"0"}:
        a, b = (t if t == "0" else t[:-1].rstrip(".") for t in (a, b))
    return a, b


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
