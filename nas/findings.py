"""What a reader should know before trusting a run's winner, in words: the report's alerts
(a validation → test gap beyond noise, imbalance, failed trials and checks) and its
one-paragraph verdict. Both read the report's data (explain/report/SCHEMA.md); a search kind
may word the verdict its own way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nas.kinds import SearchKind

_UNIT_SCALE = ("accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc", "r2")


def _units(best: dict[str, Any], metric: str) -> str:
    """ " (in units of <target>)" for an error metric of a regression in the target's own units
    (``metrics["target_units"]``, written since test metrics left standardized units)."""
    units = best.get("target_units")
    if not units or metric not in ("mae", "rmse", "mse"):
        return ""
    per = (best.get("test") or {}).get("per_output")
    if isinstance(per, list) and len(per) > 1:  # several targets, each in its own units
        return f" (the mean over {len(per)} outputs, each in its own units)"
    return f" (in {units}{'²' if metric == 'mse' else ''})"


def _overfit(
    best: dict[str, Any], run: dict[str, Any], test_interval: dict[str, Any] | None = None
) -> str | None:
    """The over-fitting alert: the validation → test gap when it is beyond the noise of the
    two splits' sizes (explain.report.decision.gap); when the sizes are not recorded, a gap
    over 5% of the scale, said to be unjudged."""
    from explain.report.decision import gap, gap_sentence, metric_label

    metric = run["metric"]
    sizes = (run.get("data_info") or {}).get("sizes") or {}
    maximize = (run.get("directions") or ["maximize"])[0] == "maximize"
    g = gap(metric, best.get("val", {}).get(metric), best.get("test", {}).get(metric),
            sizes.get("val"), sizes.get("test"), maximize, test_interval,
            best.get("test", {}).get("per_class"))  # fmt: skip
    if g is None or g["gap"] <= 0 or g["within"]:
        return None
    if g["within"] is None:
        scale = 1.0 if metric in _UNIT_SCALE else max(abs(g["val"]), 1e-9)
        if g["gap"] / scale <= 0.05:
            return None
    label = metric_label(metric)
    return gap_sentence(label, g, sizes.get("val"), sizes.get("test"), _units(best, metric))


def _missed_classes(per_class: list[Any]) -> str | None:
    """The classes the winner never gets right on the test rows (recall 0), and whether it
    says one class for every row (that class's recall 1 and precision its share of the rows):
    an accuracy of 0.97 may be a model that says "no" to everything."""
    rows = [c for c in per_class if isinstance(c, dict) and isinstance(c.get("support"), int)
            and isinstance(c.get("recall"), int | float)]  # fmt: skip
    n = sum(c["support"] for c in rows)
    missed = [c for c in rows if c["support"] > 0 and c["recall"] == 0]
    if not n or not missed:
        return None
    names = ", ".join(f"{c['class']!r} ({c['support']} row{'s' if c['support'] != 1 else ''})"
                      for c in missed[:5])  # fmt: skip
    more = f" and {len(missed) - 5} more" if len(missed) > 5 else ""
    every = [c for c in rows if c["recall"] == 1 and c["support"] > 0
             and abs(float(c.get("precision") or 0) - c["support"] / n) < 1e-9]  # fmt: skip
    if every and len(missed) == sum(c["support"] > 0 for c in rows) - 1:
        said = f"The winner says {every[0]['class']!r} for every one of the {n} test rows"
    else:
        said = "The winner never gets these classes right on the test rows"
    return (
        f"{said}: recall 0 for {names}{more}. If those classes matter, search again with "
        "--metric balanced_accuracy (or f1), which counts each class alike."
    )


def _untested_classes(per_class: list[Any], test: dict[str, Any]) -> str | None:
    """The classes with no row in the test split: their scores are unknown (scikit-learn's
    per-class 0s read as "never right"), the macro scores are over the other classes, and ROC
    AUC is undefined (/tmp/oB4 F1: 2 of 40 classes, under a headline of 1.0)."""
    rows = [c for c in per_class if isinstance(c, dict)]
    none = [c for c in rows if c.get("support") == 0]
    if not none:
        return None
    names = ", ".join(repr(c.get("class")) for c in none[:5])
    more = f" and {len(none) - 5} more" if len(none) > 5 else ""
    auc = " ROC AUC is undefined without them." if test.get("roc_auc") is None else ""
    said = [c for c in none if isinstance(c.get("predicted"), int) and c["predicted"] > 0]
    tested = len(rows) - len(none)
    if said:  # scikit-learn's macro averages span the classes of the rows and of the predictions
        wrong = ", ".join(f"{c.get('class')!r} ({c['predicted']} row"
                          f"{'s' if c['predicted'] != 1 else ''})" for c in said[:5])  # fmt: skip
        over = (
            f"balanced accuracy is over the other {tested}; macro precision, recall and F1 "
            f"are over {tested + len(said)}, counting at 0 the untested classes the winner "
            f"gave test rows to anyway, every one of them wrongly: {wrong}"
        )
    else:
        over = (
            f"the macro scores (balanced accuracy, precision, recall, F1) are over the other "
            f"{tested}"
        )
    return (
        f"{len(none)} of {len(rows)} classes have no rows in the test split ({names}{more}): "
        f"how the winner does on them is untested, and {over}.{auc} Add rows of those classes "
        f"to the data if they matter."
    )


def _lowest_recall(per_class: list[Any]) -> str:
    """The sentence "The winner finds 8 of the 16 'yes' test rows (recall 0.50).": the class it
    misses most among those tested, where it misses any; a headline accuracy of 0.988 had
    hidden that half of 2 % positives were missed (/tmp/oB4 F4). Recall 0 is
    :func:`_missed_classes`'."""
    rows = [c for c in per_class if isinstance(c, dict) and isinstance(c.get("support"), int)
            and c["support"] > 0 and isinstance(c.get("recall"), int | float)]  # fmt: skip
    if not rows:
        return ""
    worst = min(rows, key=lambda c: (c["recall"], c["support"]))
    if worst["recall"] >= 1 or worst["recall"] == 0:
        return ""
    found = round(worst["recall"] * worst["support"])
    return (f" The winner finds {found} of the {worst['support']} {worst['class']!r} test rows "
            f"(recall {worst['recall']:.2f}).")  # fmt: skip


def alerts(data: dict[str, Any]) -> list[dict[str, str]]:
    """Things a reader should know before trusting the winner."""
    out: list[dict[str, str]] = []
    best, run = data.get("best"), data["run"]
    counts = data.get("counts", {})
    if best is None:
        out.append({"level": "error", "text": _no_winner(data, counts)})
    else:
        interval = data.get("test_interval")
        over = _overfit(best, run, interval if isinstance(interval, dict) else None)
        if over is not None:
            out.append({"level": "warn", "text": over})
        per_class = best.get("test", {}).get("per_class") or []
        untested = _untested_classes(per_class, best.get("test", {}))
        if untested:
            out.append({"level": "warn", "text": untested})
        support = [c.get("support") for c in per_class if isinstance(c, dict)]
        support = [n for n in support if isinstance(n, (int, float)) and n > 0]
        if support and max(support) > 3 * min(support):
            among = " among the tested classes" if untested else ""
            out.append(
                {
                    "level": "warn",
                    "text": f"The classes are imbalanced (test support {min(support)} to "
                    f"{max(support)} rows{among}): read balanced accuracy and per-class recall, "
                    f"not only accuracy.{_lowest_recall(per_class)}",
                }
            )
        missed = _missed_classes(per_class)
        if missed:
            out.append({"level": "warn", "text": missed})
    info = run.get("data_info") if isinstance(run.get("data_info"), dict) else {}
    small = _small_test(info, data.get("baselines")) if best is not None else None
    if small is not None:
        out.append({"level": "warn", "text": small})
    prep = info.get("preprocessing") if isinstance(info.get("preprocessing"), dict) else {}
    for leak in prep.get("leaks") or []:  # nas.data.column_notes: what can inflate the score
        out.append({"level": "warn", "text": f"The data: {leak}"})
    if counts.get("failed"):
        reasons = [t.get("reason") for t in data.get("trials", []) if t.get("state") == "failed"]
        out.append(
            {
                "level": "warn",
                "text": f"{counts['failed']} trial(s) failed; first "
                f"reason: {reasons[0] if reasons else 'unknown'}.",
            }
        )
    if counts.get("over_budget"):
        out.append(
            {
                "level": "info",
                "text": f"{counts['over_budget']} sampled architecture(s) "
                "were over budget and rejected before training.",
            }
        )
    for w in data.get("warnings") or []:  # what the search warned of as it ended
        out.append({"level": "warn", "text": f"The search warned: {w}"})
    exp = data.get("explanations") or {}
    failed = [c for c in exp.get("checks", []) if c.get("status") == "fail"]
    if failed:
        names = ", ".join(sorted({f"{c['name']} ({c['method']})" for c in failed}))
        out.append(
            {
                "level": "warn",
                "text": f"Explanation checks failed: {names}. Read those "
                "methods' attributions with care: they failed a test of faithfulness.",
            }
        )
    apart = [c["method"] for c in exp.get("agreement", []) if c.get("status") == "fail"]
    if apart:
        out.append(
            {
                "level": "info",
                "text": "Some methods disagree on what matters ("
                + "; ".join(apart)
                + "): disagreement says the view depends on the method, "
                "not which one is right; prefer the methods that pass their checks.",
            }
        )
    return out


def _small_test(info: dict[str, Any], base: Any) -> str | None:
    """The alert for a test split of fewer than SMALL_TEST rows (a 40-row CSV leaves 6): its
    scores' intervals are wide and a bootstrap of a few rows claims differences an exact test
    does not (the report claims one only where an exact test agrees)."""
    from explain.report.decision import SMALL_TEST

    sizes = info.get("sizes") if isinstance(info.get("sizes"), dict) else {}
    n = sizes.get("test")
    if not isinstance(n, int) or isinstance(n, bool):
        n = base.get("n_test") if isinstance(base, dict) else None
    if not isinstance(n, int) or isinstance(n, bool) or not 0 < n < SMALL_TEST:
        return None
    return (
        f"The test split holds only {n} row{'s' if n != 1 else ''}: its scores and their "
        "comparisons are a rough guide; the report claims a difference from a baseline only "
        "where an exact test agrees, and on so few rows most cannot be told apart. Add rows "
        "to the data: nas keeps 15% of a file's rows for the test split, and `nas search` has "
        "no option for a larger share."
    )


# a budget limit -> the cost it bounds, and how a value of it is written
_LIMITS = (
    ("max_params", "params", lambda v: f"{v:,.0f} parameters"),
    ("max_flops", "flops", lambda v: f"{v:,.0f} FLOPs"),
    ("max_latency_ms", "latency_ms", lambda v: f"{v:.3g} ms at batch 1"),
    ("max_memory_mb", "memory_mb", lambda v: f"{v:.3g} MiB"),
)


def budget_sentence(data: Any) -> str:
    """The verdict's sentence on the budget, from the winner's FINAL cost (best/metrics.json,
    re-measured after its retrain) against each limit: it fits them all, or which limit the
    final measurement is over and what its trial measured (which met it: a latency is a median
    of timed runs on a machine whose load varies). "" without a budget."""
    run, best = data.get("run") or {}, data.get("best") or {}
    budget = {k: v for k, v in (run.get("budget") or {}).items() if v is not None}
    if not budget:
        return ""
    cost = best.get("cost") if isinstance(best.get("cost"), dict) else {}
    trial = next((t for t in data.get("trials") or [] if isinstance(t, dict)
                  and t.get("number") == best.get("trial")), {})  # fmt: skip
    fits, over, unknown = [], [], []
    for limit, key, say in _LIMITS:
        if limit not in budget:
            continue
        now = cost.get(key)
        if not isinstance(now, int | float) or isinstance(now, bool):
            unknown.append(f"{limit} {budget[limit]:,g}")
        elif now <= budget[limit]:
            fits.append(f"{limit} {budget[limit]:,g}: {say(now)}")
        else:
            then = trial.get(key)
            was = (f"; its trial measured {say(then).removesuffix(' at batch 1')}, within the limit"
                   if isinstance(then, int | float) and then <= budget[limit] else "")  # fmt: skip
            over.append(f"{limit} {budget[limit]:,g} ({say(now)}{was})")
    text = ""
    if fits:
        text += (" As measured after its retrain it fits the budget ("
                 + "; ".join(fits) + ").")  # fmt: skip
    if over:
        text += (
            " Measured again after its retrain it is OVER the budget's "
            + " and ".join(over)
            + ": the search admitted it on its trial's measurement, and latency varies with "
            "the machine's load; measure it where it will run before relying on the limit."
        )
    if unknown:
        text += f" Its final cost was not recorded for {', '.join(unknown)}."
    return text


def search_warnings(run_dir: Any) -> list[str]:
    """The warnings the search printed as it ended, as summary.json keeps them (none for a run
    from before they were kept, or a damaged summary)."""
    try:
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
    except (OSError, ValueError):
        return []
    found = summary.get("warnings") if isinstance(summary, dict) else None
    return [str(w) for w in found if w] if isinstance(found, list) else []


def _no_winner(data: dict[str, Any], counts: dict[str, int]) -> str:
    """Why a run has no winner: its search is running, stopped after trials completed (the
    retrain is what is missing), or no trial completed."""
    done = counts.get("complete", 0)
    if data.get("running"):
        return (f"A nas search is running in this folder ({done} trial(s) complete so far): "
                "there is no winner until it ends; make the report again then.")  # fmt: skip
    if done:
        return (f"{done} trial(s) completed, but the search stopped before it retrained and "
                "tested the winner, so there is no winner yet; run the same `nas search` "
                "command again (same --out) to finish it.")  # fmt: skip
    return "No trial completed: there is no winner yet."


def verdict(data: dict[str, Any], kind: SearchKind | None = None) -> str:
    """One paragraph, in words, on what the search found (the kind's own words if it has
    them)."""
    best, run = data.get("best"), data["run"]
    n = len(data.get("trials", []))
    if best is None:
        done = data.get("counts", {}).get("complete", 0)
        if data.get("running"):
            return (f"A search is running in this folder: {n} trials so far, {done} complete; "
                    "the winner is retrained and tested when it ends.")  # fmt: skip
        if done:
            return (f"{n} trials ran and {done} completed, but the search stopped before it "
                    "retrained and tested the winner, so there is no winner yet.")  # fmt: skip
        return f"{n} trials ran and none completed, so there is no winner yet."
    own = kind.verdict(data) if kind is not None else None
    if own is not None:
        return own
    from explain.report._format import fmt_num
    from explain.report.decision import metric_label

    metric = run["metric"]
    test = best.get("test", {}).get(metric)
    cost = best.get("cost", {})
    within = budget_sentence(data)
    # 52,599 as the tiles above it say, not 5.26e+04 (/tmp/oB4 F10)
    test_txt = (f"{fmt_num(float(test))}{_units(best, metric)}" if isinstance(test, int | float)
                else "n/a")  # fmt: skip
    sizes = (run.get("data_info") or {}).get("sizes") or {}
    params, flops = cost.get("params"), cost.get("flops")
    params_txt = f"{params:,}" if isinstance(params, (int, float)) else "?"
    flops_txt = f"{flops / 1e6:.3g}" if isinstance(flops, (int, float)) else "?"
    bound = run.get("min_faithfulness")
    best_txt = "the best" if bound is None else f"the best that met --min-faithfulness {bound:g}"
    return (
        f"Of {n} trials, {best_txt} is a {best.get('family')} network with {params_txt} "
        f"parameters and {flops_txt} MFLOPs per example; retrained on "
        f"train + validation it scores test {metric_label(metric)} {test_txt} on "
        f"{sizes.get('test', '?')} held-out examples.{within}"
    )


def baseline_lines(data: dict[str, Any]) -> list[str]:
    """The baselines' scores on the winner's test rows and the report's verdict on them
    (explain.report.decision_view, the same words), as one or two lines; without baselines,
    the verdict alone when there is one (the data notes doubt every score)."""
    from explain.report.decision_view import decision_view

    view = decision_view(data)
    if view is None:
        return []
    lines = []
    if view["baselines"]:
        rows = f" {view['n']}" if view["n"] else ""
        scores = ", ".join(
            f"{b['name']} {b['value_s']}" + (f" ({b['relation']})" if b["relation"] else "")
            for b in view["baselines"]
        )
        lines.append(f"baselines on the same{rows} test rows, {view['metric']}: {scores}")
    if view["verdict"]:  # without baselines, what the data notes doubt
        lines.append(f"verdict: {view['verdict']['text']}")
    return lines


__all__ = ["alerts", "baseline_lines", "budget_sentence", "search_warnings", "verdict"]
