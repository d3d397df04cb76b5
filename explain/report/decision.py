"""The statistics behind the report's first screen: is the winner worth shipping?

Pure functions of the report data (SCHEMA.md), no I/O: the test score's 95% interval (Wilson for
accuracy, a bootstrap when ``test_interval`` was computed from the predictions, else a normal
approximation), the validation → test gap judged against the noise of both splits (Newcombe's
interval for a difference of proportions for accuracy; for balanced accuracy and the macro
averages the test score's bootstrap spread and, for validation, a standard error from the class
counts, see :func:`class_recall_se`), the winner's margin over the runner-up and the trials tied
with it within noise, and the explanations' checks in one line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from explain.report._format import fmt_num
from explain.report.method_trust import MIN_JUDGED, disagreement_text, disagreements

Z95 = 1.959964  # the two-sided 95% normal quantile
# metrics on the scale of a proportion, [0, 1] (an interval or an axis is kept within it)
PROPORTIONS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc")
# ... of which only accuracy IS a proportion of the n examples (a binomial standard error,
# Wilson's and Newcombe's intervals). Balanced accuracy and the macro averages average the
# classes' scores: a class of 7 rows weighs what one of 293 does, and a binomial error on n is
# far too narrow (balanced accuracy 0.72 on 300 rows, 7 of them the minority: its bootstrap
# interval was 0.524-0.872, its binomial one ±0.05). ROC AUC is no proportion of n either.
BINOMIAL = ("accuracy",)
# the mean of the classes' recalls (nas.metrics: macro recall is balanced accuracy where every
# class is in the test rows): a standard error from the class counts, class_recall_se
CLASS_RECALLS = ("balanced_accuracy", "recall")
# a test split smaller than this is a rough guide: a bootstrap of its rows is anti-conservative
# (the report claims no difference from it alone, and nas.findings.alerts says so)
SMALL_TEST = 30
# standard error of an error metric estimated on n examples, relative to the metric itself,
# for normal residuals: sd(RMSE) ~ RMSE / sqrt(2n), sd(MSE) ~ MSE sqrt(2/n),
# sd(MAE) ~ MAE sqrt(pi/2 - 1) / sqrt(n)
_RELATIVE_SE = {"rmse": math.sqrt(0.5), "mse": math.sqrt(2.0), "mae": math.sqrt(math.pi / 2 - 1)}


# nas.metrics' precision, recall and f1 average the classes' scores (macro averages): a recall of
# 0.5 may be a minority class's 0 beside a majority's 1.0, so a reader is told which it is
_MACRO = ("precision", "recall", "f1")


def metric_label(name: Any) -> str:
    """A metric's name as shown to people: ``macro f1`` for the macro averages, else as is."""
    return f"macro {name}" if name in _MACRO else str(name)


# a GAN's precision and recall (nas.gan.score) are Kynkäänniemi et al.'s k-NN manifold scores of
# all its samples against all real ones, not averages over classes: named so wherever shown
MANIFOLD_LABELS = {"precision": "precision (k-NN manifold)", "recall": "recall (k-NN manifold)"}


def gan_metric_label(name: Any) -> str:
    """A GAN's test score's name as shown to people: its precision and recall as the k-NN
    manifold scores they are, the rest as :func:`metric_label` names them."""
    return MANIFOLD_LABELS.get(str(name)) or metric_label(name)


def as_number(x: Any) -> float | None:
    """``x`` as a finite float, else None."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def as_count(x: Any) -> int | None:
    """``x`` as a positive int, else None."""
    v = as_number(x)
    return int(v) if v is not None and v >= 1 else None


def wilson(k: float, n: int) -> tuple[float, float]:
    """Wilson's score interval (95 %) of a proportion of ``k`` successes in ``n`` trials
    (SciPy's ``binomtest(...).proportion_ci(method="wilson")``)."""
    from scipy.stats import binomtest

    ci = binomtest(int(round(k)), n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def newcombe(p1: float, n1: int, p2: float, n2: int) -> tuple[float, float]:
    """Newcombe's hybrid score interval (1998, method 10) of ``p1 - p2``, from each
    proportion's Wilson interval: sound at 0 and 1, where the Wald interval collapses."""
    l1, u1 = wilson(p1 * n1, n1)
    l2, u2 = wilson(p2 * n2, n2)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def standard_error(metric: str, value: float, n: int) -> float | None:
    """The standard error of ``metric`` measured as ``value`` on ``n`` examples (binomial for
    proportions, with Agresti's one success and one failure added so that 1.0 has one; normal
    residuals for the error metrics); None for a metric without a noise model."""
    if metric in PROPORTIONS:
        p = (value * n + 1) / (n + 2)
        return math.sqrt(p * (1 - p) / (n + 2))
    if metric in _RELATIVE_SE:
        return abs(value) * _RELATIVE_SE[metric] / math.sqrt(n)
    if metric == "r2":
        return max(1.0 - value, 0.0) * math.sqrt(2.0 / n)
    return None


def class_recall_se(value: float, counts: Sequence[int]) -> float | None:
    """The standard error of a mean of class recalls (balanced accuracy) that is ``value``,
    the classes holding ``counts`` rows: ``Var = (1/k²) Σ r_c (1 - r_c) / n_c``, at its largest
    over the class recalls ``r_c`` in [0, 1] that average to ``value`` (only their mean is
    known for validation), so never narrower than the binomial error of each class's recall
    (a recall of 0 or 1 keeps the error of one failure or success of ``n_c + 2``).
    The largest is where ``(1 - 2 r_c) / n_c`` is the same for every class not at 0 or 1
    (Lagrange): ``r_c = (1 - λ n_c) / 2``, clipped, with λ found by bisection. None without
    counts or for a value outside [0, 1]."""
    n = [int(c) for c in counts if as_count(c) is not None]
    if not n or not 0.0 <= value <= 1.0:
        return None
    k, smallest = len(n), min(n)

    def recalls(lam: float) -> list[float]:
        return [min(1.0, max(0.0, (1.0 - lam * c) / 2.0)) for c in n]

    lo, hi = -1.0 / smallest, 1.0 / smallest  # every recall 1, every recall 0
    for _ in range(200):  # the mean of the recalls falls as λ grows
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if sum(recalls(mid)) / k > value else (lo, mid)
    r = recalls((lo + hi) / 2.0)
    # a class's recall of 0 or 1 keeps Agresti's one success and one failure's error, as
    # standard_error's proportions do: 7 of 7 right is no certainty
    var = sum(max(x * (1.0 - x), (c + 1) / (c + 2) ** 2) / c for x, c in zip(r, n, strict=True))
    return math.sqrt(var) / k


def class_counts(per_class: Any) -> list[int]:
    """The test split's rows per class (``best.test.per_class``' supports; classes it lacks
    left out), or [] when they are not recorded."""
    if not isinstance(per_class, Sequence) or isinstance(per_class, str):
        return []
    found = [as_count(c.get("support")) for c in per_class if isinstance(c, Mapping)]
    return [c for c in found if c is not None]


def val_counts(test_counts: Sequence[int], n_val: int) -> list[int]:
    """Validation's rows per class, from the test split's class shares (nas stratifies its
    splits by class), rounded down (at least 1): fewer rows, a wider error, never narrower."""
    total = sum(test_counts)
    return [max(1, math.floor(n_val * c / total)) for c in test_counts] if total else []


def _bootstrap_se(
    test_interval: Mapping[str, Any] | None, test: float, toward: float | None
) -> float | None:
    """The test score's standard error from its bootstrap interval (``{lo, hi}``, from the
    test predictions): the half toward ``toward`` (validation's score), else the wider half;
    None without an interval that holds the score."""
    ti = test_interval or {}
    lo, hi = as_number(ti.get("lo")), as_number(ti.get("hi"))
    if lo is None or hi is None or not lo <= test <= hi:
        return None
    if toward is None:
        return max(test - lo, hi - test) / Z95
    return ((test - lo) if test >= toward else (hi - test)) / Z95


def macro_spread(
    metric: str,
    value: float,
    n: int,
    *,
    per_class: Any = None,
    test_interval: Mapping[str, Any] | None = None,
    test: Any = None,
    n_test: Any = None,
) -> tuple[float | None, str]:
    """The standard error of a validation score of balanced accuracy or a macro average (a
    metric of :data:`PROPORTIONS` but accuracy) on ``n`` examples, and how it was found (or,
    with None, why it could not be): for balanced accuracy and macro recall, from the class
    counts (:func:`class_recall_se`; validation's counts from the test split's class shares,
    ``per_class``); else the test score's (``test``) bootstrap spread (``test_interval``, its
    wider half) scaled by ``sqrt(n_test / n)``. Never a binomial error on ``n``: far too
    narrow for a mean over classes."""
    counts = class_counts(per_class)
    if metric in CLASS_RECALLS and counts:
        se = class_recall_se(value, val_counts(counts, n))
        if se is not None:
            return se, ("validation's standard error from its class counts, as the test "
                        "split's shares give them, at its widest for the mean recall")  # fmt: skip
    ti = test_interval or {}
    nt = as_count(n_test) or as_count(ti.get("n"))
    lo, hi, t = as_number(ti.get("lo")), as_number(ti.get("hi")), as_number(test)
    if nt is not None and lo is not None and hi is not None and lo <= hi:
        half = max(t - lo, hi - t) if t is not None and lo <= t <= hi else (hi - lo) / 2
        return half / Z95 * math.sqrt(nt / n), (
            f"validation's standard error from the test score's bootstrap spread, scaled by "
            f"sqrt({nt:,} / {n:,})"
        )
    missing = "no bootstrap interval of the test score is"
    if metric in CLASS_RECALLS:
        missing = "neither the class counts nor a bootstrap interval of the test score is"
    return None, (
        f"{metric_label(metric)} is no proportion of the examples (a mean over classes), and "
        f"{missing} recorded"
    )


def score_interval(
    metric: str, value: Any, n: Any, stored: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The test score's 95% interval: ``{lo, hi, n, method}``."""
    value, n = as_number(value), as_count(n)
    if value is None:
        return None
    if stored and stored.get("metric") == metric and as_number(stored.get("lo")) is not None:
        return {"lo": stored["lo"], "hi": stored["hi"], "n": stored.get("n") or n,
                "method": stored.get("method") or "bootstrap"}  # fmt: skip
    if n is None:
        return None
    if metric == "accuracy" and 0 <= value <= 1:
        lo, hi = wilson(round(value * n), n)
        return {"lo": lo, "hi": hi, "n": n, "method": "Wilson score interval"}
    se = standard_error(metric, value, n)
    if se is None:
        return None
    lo, hi = value - Z95 * se, value + Z95 * se
    if metric in PROPORTIONS:
        lo, hi = max(0.0, lo), min(1.0, hi)
    return {"lo": lo, "hi": hi, "n": n, "method": "normal approximation"}


def gap(
    metric: str,
    val: Any,
    test: Any,
    n_val: Any,
    n_test: Any,
    maximize: bool,
    test_interval: Mapping[str, Any] | None = None,
    per_class: Any = None,
) -> dict[str, Any] | None:
    """How much worse test is than validation (``gap`` > 0: worse), its 95% interval and
    whether that is within the noise of the two sample sizes (``within``: None if unknown, and
    ``why`` says why).

    Accuracy, a proportion of n, by Newcombe's interval. The test score's spread comes from
    its bootstrap interval when one is given (``{"lo", "hi"}``, from the test predictions), the
    half toward validation: for an error metric the normal-residual formula, RMSE / sqrt(2n),
    is far too narrow when a few rows carry most of the error (one test row off by 313 where
    the rest are off by 13); for balanced accuracy and the macro averages a binomial error on
    n is, when a class has a few rows. Their validation side: :func:`macro_spread` (from
    the class counts, ``per_class`` of the test split, else the test spread scaled); their
    test side, without a bootstrap interval, the class counts' for balanced accuracy and
    macro recall; with neither, the noise is not judged."""
    val, test = as_number(val), as_number(test)
    if val is None or test is None:
        return None
    worse = (val - test) if maximize else (test - val)
    out: dict[str, Any] = {"val": val, "test": test, "gap": worse, "lo": None, "hi": None,
                           "within": None, "method": None, "why": None}  # fmt: skip
    n_val, n_test = as_count(n_val), as_count(n_test)
    if n_val is None or n_test is None:
        out["why"] = "the split sizes are not recorded"
        return out
    if metric in BINOMIAL and 0 <= val <= 1 and 0 <= test <= 1:
        lo, hi = newcombe(val, n_val, test, n_test)
        if not maximize:
            lo, hi = -hi, -lo
        method = "Newcombe's interval for a difference of proportions"
    elif metric in PROPORTIONS:
        se_v, said_v = macro_spread(metric, val, n_val, per_class=per_class,
                                    test_interval=test_interval, test=test,
                                    n_test=n_test)  # fmt: skip
        se_t, said_t = _bootstrap_se(test_interval, test, val), "its bootstrap interval"
        counts = class_counts(per_class)
        if se_t is None and metric in CLASS_RECALLS and counts:
            se_t, said_t = class_recall_se(test, counts), "its class counts"
        if se_v is None or se_t is None:
            out["why"] = said_v if se_v is None else (
                f"{metric_label(metric)} is no proportion of the examples (a mean over classes) "
                "and no bootstrap interval of the test score is recorded")  # fmt: skip
            return out
        half = Z95 * math.hypot(se_v, se_t)
        lo, hi = worse - half, worse + half
        method = f"normal approximation: {said_v}; the test score's from {said_t}"
    else:
        se_v, se_t = standard_error(metric, val, n_val), standard_error(metric, test, n_test)
        if se_v is None or se_t is None:
            out["why"] = (f"nas knows no error formula for {metric} on {n_val:,} validation "
                          f"and {n_test:,} test examples")  # fmt: skip
            return out
        method = "normal approximation"
        side = _bootstrap_se(test_interval, test, val)
        if side is not None:  # the half toward validation
            se_t = max(se_t, side)
            method += ", the test score's spread from its bootstrap interval"
        half = Z95 * math.hypot(se_v, se_t)
        lo, hi = worse - half, worse + half
    out.update(lo=lo, hi=hi, within=lo <= 0 <= hi or worse <= 0, method=method)
    largest = (test_interval or {}).get("largest")
    if isinstance(largest, Mapping) and as_number(largest.get("share")) is not None:
        out["largest"] = dict(largest)
    return out


#: The share of a test error its largest 1 % of rows (one at least) may hold before the
#: over-fitting alert names them instead, from 100 test rows; under 100, where that is one row
#: of few, SMALL_TEST_SHARE. Simulated (2,000 draws each): with Gaussian errors the largest
#: 1 % hold 8-9 % of the squared error (99th percentile 13 % at 258 rows, 16 % at 86, 37 %
#: at 30: one row); Laplace's 16 % (p99 30 % at 258); Student-t(2)'s 45 % at 258 rows (10th
#: percentile 25 %), where one row had held 51 % (/tmp/oG6 F1).
HEAVY_TAIL_SHARE = 0.3
SMALL_TEST_SHARE = 0.6


def _g(x: float) -> str:
    return fmt_num(float(x))  # 4 significant digits; 52,599 rather than 5.26e+04


def gap_sentence(
    metric: str, g: Mapping[str, Any], n_val: Any, n_test: Any, units: str = ""
) -> str:
    """The validation → test gap in words, judged against noise when it can be."""
    val, test, worse = g["val"], g["test"], g["gap"]
    head = f"Validation {metric} {_g(val)} → test {_g(test)}{units}"
    if worse <= 0:
        return f"{head}: test is as good as validation or better; no sign of over-fitting."
    if g.get("within") is None:
        nv, nt = as_count(n_val), as_count(n_test)
        why = ("the split sizes are not recorded" if nv is None or nt is None
               else g.get("why") or f"nas knows no error formula for {metric} on {nv:,} "
               f"validation and {nt:,} test examples")  # fmt: skip
        return (f"{head}: test is worse by {_g(worse)}; {why}, so whether that is noise "
                "cannot be said.")  # fmt: skip
    ci = f"95% interval of the gap {g['lo']:.3g} to {g['hi']:.3g}, {g['method']}"
    sizes = f"{as_count(n_val):,} validation and {as_count(n_test):,} test examples"
    if g["within"]:
        return f"{head}: a gap of {_g(worse)} is within the noise of {sizes} ({ci})."
    largest = g.get("largest") or {}
    share = as_number(largest.get("share"))
    k, n = as_count(largest.get("rows")) or 1, as_count(largest.get("of"))
    heavy = HEAVY_TAIL_SHARE if n is not None and n >= 100 else SMALL_TEST_SHARE
    if share is not None and share >= heavy:
        rows = ("1 test row holds" if k == 1 else f"{k:,} test rows hold") + (
            f" {share:.0%} of the test error" if n is None else
            f" {share:.0%} of the error of all {n:,}")  # fmt: skip
        return (
            f"{head}: a gap of {_g(worse)}, more than the noise of {sizes} would give with "
            f"errors of one size ({ci}); but {rows}: the errors are heavy-tailed, and a few "
            "rows can make such a gap without any over-fitting. Read the largest errors (the "
            "predictions of best/) before deciding; the test number is still the honest one."
        )
    return (
        f"{head}: a gap of {_g(worse)} is more than the noise of {sizes} allows ({ci}): the "
        "search may have over-fitted the validation split; treat the test number as the honest one."
    )


def ties(
    trials: Sequence[Mapping[str, Any]],
    winner: Any,
    metric: str,
    n_val: Any,
    maximize: bool,
    size: str = "params",
    *,
    per_class: Any = None,
    test_interval: Mapping[str, Any] | None = None,
    test: Any = None,
    n_test: Any = None,
) -> dict[str, Any] | None:
    """The winner's validation margin over the runner-up and the complete trials whose
    validation metric is within noise of the winner's (each trial against the winner; a
    binomial standard error on ``n_val`` examples for accuracy, a normal-residual one for an
    error metric, :func:`macro_spread`'s for balanced accuracy and the macro averages, from
    ``per_class``, ``test_interval``, ``test`` and ``n_test``); ``smallest`` is the tied trial
    lowest in ``size`` (a trial's "params", or the study's own cost: "flops", "latency_ms",
    "memory_mb"), the better metric first among equals, and the winner itself when it is the
    smallest. ``known`` is False when the noise cannot be judged, ``why`` says why."""
    done = [
        t for t in trials if t.get("state") == "complete" and as_number(t.get("metric")) is not None
    ]
    win = next((t for t in done if t.get("number") == winner), None)
    if win is None:
        return None
    sign = 1.0 if maximize else -1.0
    others = sorted((t for t in done if t is not win), key=lambda t: -sign * float(t["metric"]))
    w = float(win["metric"])
    out: dict[str, Any] = {"winner": win, "runner_up": others[0] if others else None,
                           "margin": sign * (w - float(others[0]["metric"])) if others else None,
                           "tied": [], "smallest": None, "known": False,
                           "why": "the validation size is not recorded",
                           "method": None}  # fmt: skip
    n = as_count(n_val)
    if n is None:
        return out

    def se(value: float) -> tuple[float | None, str | None]:
        if metric in PROPORTIONS and metric not in BINOMIAL:
            return macro_spread(metric, value, n, per_class=per_class,
                                test_interval=test_interval, test=test,
                                n_test=n_test)  # fmt: skip
        return standard_error(metric, value, n), None

    se_w, said = se(w)
    if se_w is None:
        out["why"] = said or f"nas knows no error formula for {metric}"
        return out
    tied = []
    for t in others:
        se_t = se(float(t["metric"]))[0] or 0.0
        if abs(w - float(t["metric"])) <= Z95 * math.hypot(se_w, se_t):
            tied.append(t)
    sized = [t for t in [win, *tied] if as_number(t.get(size)) is not None]
    smallest = (min(sized, key=lambda t: (t[size], -sign * float(t["metric"]), t.get("number", 0)))
                if sized else None)  # fmt: skip
    out.update(tied=tied, smallest=smallest, known=True, why=None, method=said)
    return out


def wall_seconds(trials: Sequence[Mapping[str, Any]]) -> float | None:
    """The search's wall time: the first trial's start to the last trial's end."""
    starts = [s for t in trials if (s := as_number(t.get("start_s"))) is not None]
    ends = [e for t in trials if (e := as_number(t.get("end_s"))) is not None]
    return max(ends) - min(starts) if starts and ends else None


def check_verdict(checks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per method, the checks it did not pass: ``{passed: [methods that passed every check
    they ran], warned: {method: [check]}, failed: {method: [check]}, broken: {method: [check
    that could not run (an error, not one that does not apply)]}}``."""
    by: dict[str, dict[str, list[str]]] = {}
    for c in checks:
        if not isinstance(c, Mapping) or not c.get("method"):
            continue
        m = by.setdefault(str(c["method"]), {"pass": [], "warn": [], "fail": [], "skipped": [],
                                             "broken": []})  # fmt: skip
        status = str(c.get("status"))
        if status == "skipped" and str(c.get("detail") or "").startswith("could not run"):
            status = "broken"  # an error, not a check that does not apply
        m.setdefault(status, []).append(str(c.get("name")))
    return {
        "passed": [m for m, s in by.items() if s["pass"] and not s["warn"] and not s["fail"]],
        "warned": {m: s["warn"] for m, s in by.items() if s["warn"] and not s["fail"]},
        "failed": {m: s["fail"] for m, s in by.items() if s["fail"]},
        "broken": {m: s["broken"] for m, s in by.items() if s["broken"]},
    }


def explanation_line(exp: Mapping[str, Any] | None, across_front: bool = False) -> str:
    """The explanations' checks in one sentence (``across_front``: the run has none in
    explain/, but `nas explain RUN --top K` explained the front, the winner included)."""
    if not exp and across_front:
        return (
            "Explanations: the winner's global map and checks are in 'Across the front' "
            "(`nas explain RUN --top K`); run `nas explain RUN` for the per-example views."
        )
    if not exp:
        return "Explanations: none for this run (run `nas explain RUN` to make them)."
    checks = [c for c in exp.get("checks") or [] if isinstance(c, Mapping)]
    if not checks:
        return "Explanations: computed, but their quality checks were not run."
    v = check_verdict(checks)
    parts = []
    if v["passed"]:
        ran = " it ran" if any(m in v["broken"] for m in v["passed"]) else ""
        parts.append(listed(v["passed"]) + f" passed every check{ran}")
    else:
        parts.append("no method passed every check")
    for verb, by_method in (("warned on", v["warned"]), ("failed", v["failed"]),
                            ("could not run", v["broken"])):  # fmt: skip
        grouped: dict[tuple[str, ...], list[str]] = {}
        for m, names in by_method.items():
            grouped.setdefault(tuple(names), []).append(m)
        parts += [f"{listed(ms)} {verb} {', '.join(c)}" for c, ms in grouped.items()]
    parts += [disagreement_text(d) for d in disagreements(exp)]
    n = exp.get("n_explained")
    few = (f" (on only {n} example{'s' * (n != 1)}: too few for these verdicts to judge; "
           f"explain at least {MIN_JUDGED})" if isinstance(n, int) and n < MIN_JUDGED
           else "")  # fmt: skip
    return "Explanations: " + "; ".join(parts) + few + "."


def listed(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


__all__ = [
    "BINOMIAL",
    "CLASS_RECALLS",
    "MANIFOLD_LABELS",
    "PROPORTIONS",
    "SMALL_TEST",
    "as_count",
    "as_number",
    "check_verdict",
    "class_counts",
    "class_recall_se",
    "explanation_line",
    "gap",
    "gap_sentence",
    "listed",
    "macro_spread",
    "gan_metric_label",
    "metric_label",
    "newcombe",
    "score_interval",
    "standard_error",
    "ties",
    "val_counts",
    "wall_seconds",
    "wilson",
]
