"""The overview's first screen as a decision: the test score with its interval beside the
baselines (trivial, linear and, for tabular data, gradient-boosted trees), the validation → test
gap against noise, why this winner, the search in one line, the explanations' checks in one line
and how the final model was trained (the statistics are in :mod:`explain.report.decision`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from explain.report import decision as d
from explain.report import plots
from explain.report._format import fmt_num, fmt_seconds, fmt_si, fmt_span
from explain.report.schema import ReportData

_STATES = ("complete", "pruned", "over_budget", "failed", "running")


def _m(x: Any) -> dict[str, Any]:
    return dict(x) if isinstance(x, Mapping) else {}


def _units(best: Mapping[str, Any], metric: str) -> str:
    units = best.get("target_units")
    per = _m(best.get("test")).get("per_output")
    if isinstance(per, list) and len(per) > 1:  # several targets: the score is their mean
        return f" (the mean over {len(per)} outputs, each in its own units)"
    return f" {units}" if units and metric in ("mae", "rmse") else ""


# nas.baselines._rows's words for a baseline fitted on some of the rows: "(2,238 rows, a random
# 2,238 of 170,000)", or "...of 170,000; the trees' cap: ...)"
_SAMPLED = re.compile(r"a random ([\d,]+) of ([\d,]+)[);]")


def _baselines(
    data: ReportData,
    metric: str,
    interval: dict[str, Any] | None,
    up: bool = True,
    test: float | None = None,
) -> list[dict]:
    """Each baseline's score and how it stands to the winner's: by the interval of their
    difference on the same test rows where the run stored its outputs (``paired``), else
    against the winner's own 95% interval (``within``: the two cannot be told apart).

    A percentile bootstrap of the paired difference is anti-conservative on a few rows, so a
    difference is claimed from it only where an exact test agrees: for accuracy McNemar's on
    the rows where the two disagree (``paired``' ``p``, nas.baselines.mcnemar); for another
    metric on fewer than :data:`SMALL_TEST` test rows, never (the split is too small to tell
    them apart)."""
    sizes = _m(_m(_m(data.get("run")).get("data_info")).get("sizes"))
    n_test = d.as_count(_m(data.get("baselines")).get("n_test")) or d.as_count(sizes.get("test"))
    rows = []
    for b in _m(data.get("baselines")).get("baselines") or []:
        if not isinstance(b, Mapping):
            continue
        value = d.as_number(_m(b.get("metrics")).get(metric))
        relation, beats = "", False
        if value is not None and interval:
            if interval["lo"] <= value <= interval["hi"]:
                relation = "inside the winner's 95% interval"
            else:
                beats = value > interval["hi"] if up else value < interval["lo"]
                relation = ("better than the winner, beyond its 95% interval" if beats
                            else "outside the winner's 95% interval")  # fmt: skip
        within = relation.startswith("inside")
        paired = _m(b.get("paired"))
        lo, hi = d.as_number(paired.get("lo")), d.as_number(paired.get("hi"))
        if value is not None and lo is not None and hi is not None:
            # judged by the interval of (baseline - winner) on the same rows
            beats, loses = (lo > 0, hi < 0) if up else (hi < 0, lo > 0)
            ends = fmt_span(lo, hi)
            span = f"baseline − winner {ends[0]} to {ends[1]}, 95%, on the same rows"
            p, exact = d.as_number(paired.get("p")), _mcnemar(paired)
            rows_n = d.as_count(paired.get("n")) or n_test
            unconfirmed = (beats or loses) and p is not None and p >= 0.05
            small = rows_n is not None and rows_n < d.SMALL_TEST
            too_few = (beats or loses) and p is None and small
            if unconfirmed or too_few:
                beats = loses = False  # the bootstrap alone claims it: not enough
            within = not (beats or loses)
            same = test is not None and abs(value - test) <= 1e-12 * max(1.0, abs(test))
            how = (
                "better by a difference"
                if test is None or (value > test if up else value < test)
                else "the same score, a difference"
                if same
                else "worse by a difference"
            )
            detail = f"{span}; {exact}" if exact else span
            if too_few:
                relation = (f"{how} within noise: {rows_n:,} test rows are too few to tell "
                            f"them apart ({span})")  # fmt: skip
            elif unconfirmed:
                relation = (f"{how} within noise: the bootstrap interval excludes 0 but the "
                            f"exact test does not confirm it ({detail})")  # fmt: skip
            else:
                relation = (f"better than the winner ({detail})" if beats
                            else f"worse than the winner ({detail})" if loses
                            else "the same as the winner on every resample of the same rows "
                                 "(difference 0)" if lo == hi == 0 and same
                            else f"{how} within noise ({detail})")  # fmt: skip
        few = _SAMPLED.search(str(b.get("detail") or ""))  # nas.baselines._rows's words
        if few and relation and not beats:
            k, n = (int(g.replace(",", "")) for g in few.groups())
            if 2 * k <= n:  # a baseline that saw a sliver of the rows: it may do better
                relation += (f"; fitted on a random {k:,} of {n:,} training rows, so it may "
                             "understate what it does with all of them")  # fmt: skip
        rows.append({
            "name": str(b.get("name") or "baseline"), "kind": str(b.get("kind") or ""),
            "value": value, "value_s": fmt_num(value), "detail": str(b.get("detail") or ""),
            "relation": relation, "beats": beats, "params": d.as_count(b.get("params")),
            "paired": lo is not None and hi is not None, "within": within,
        })  # fmt: skip
    return rows


def _mcnemar(paired: Mapping[str, Any]) -> str:
    """McNemar's exact test of a paired record (accuracy; nas.baselines.mcnemar) in words, ""
    without one."""
    p = d.as_number(paired.get("p"))
    if p is None:
        return ""
    said = f"p = {p:.2g}" if p >= 0.001 else "p < 0.001"
    split = paired.get("discordant")
    counts = [d.as_number(x) for x in split] if isinstance(split, list) else []
    if len(counts) != 2 or any(c is None or c < 0 for c in counts):
        return f"McNemar's exact test: {said}"
    base, win = int(counts[0]), int(counts[1])  # type: ignore[arg-type]
    m = base + win
    return (f"McNemar's exact test on the {m:,} row{'s' if m != 1 else ''} where they "
            f"disagree ({base} for the baseline, {win} for the winner): {said}")  # fmt: skip


def _the(b: Mapping[str, Any]) -> str:
    """A baseline as a sentence's subject: "The logistic regression", "Gradient boosting"."""
    name = str(b["name"])
    return name[:1].upper() + name[1:] if b["kind"] == "trees" else f"The {name}"


def _baseline_verdict(
    base: list[dict],
    test: float | None,
    up: bool,
    metric: str,
    interval: Mapping[str, Any] | None = None,
    params: Any = None,
) -> dict[str, str] | None:
    """The one sentence a shipping decision needs from the baselines: one beats the winner
    (beyond its 95% interval; the best of them, the others named), the winner is not shown to
    beat the trivial one, or the classical one scores as well (better or worse, within the
    interval; a linear model, worth considering when it is smaller), else the trees do (said
    plainly); None when the winner is better than every baseline beyond its interval."""
    if test is None:
        return None
    better = [b for b in base if b["value"] is not None
              and (b["value"] > test if up else b["value"] < test)]  # fmt: skip
    beyond = [b for b in better if b["beats"]]
    if beyond:
        b = max(beyond, key=lambda x: x["value"] if up else -x["value"])
        also = "".join(f"; so does the {o['name']}, {o['value_s']}" for o in beyond if o is not b)
        how = ("the 95% interval of the difference on the same rows excludes 0" if b["paired"]
               else "beyond the winner's 95% interval")  # fmt: skip
        return {"cls": "bad", "text": (
            f"{_the(b)} beats the winner on this test split ({metric} {b['value_s']} "
            f"against {fmt_num(test)}, {how}{also}): ship it instead, "
            "or search longer or in another space.")}  # fmt: skip
    trivial = next((b for b in base if b["kind"] == "trivial"), None)
    if trivial is not None and trivial["value"] is not None:
        scores = f"{metric} {fmt_num(test)} against {trivial['value_s']}"
        if trivial["within"]:
            # the evidence is that the test split cannot tell them apart, not that the model
            # learnt nothing (an AUC of 1.0 on 10 rows is within noise of a constant's too)
            n = d.as_count((interval or {}).get("n"))
            on = f" on these n = {n:,} test examples" if n else ""
            noise = ("a difference within noise on the same rows" if trivial["paired"]
                     else "within the winner's 95% interval")  # fmt: skip
            return {"cls": "bad", "text": (
                f"The winner is not shown to beat the {trivial['name']}{on} ({scores}, "
                f"{noise}).")}  # fmt: skip
        if trivial in better:
            return {"cls": "bad", "text": (
                f"The winner scores no better than the {trivial['name']} ({scores}).")}  # fmt: skip
    same = [b for kind in ("classical", "trees") for b in base if b["kind"] == kind
            and b["value"] is not None and (b in better or b["within"]
                                            or b["value"] == test)]  # fmt: skip
    # (a baseline better within noise on the same rows is one of these: a tie, not a win)
    if same:  # the linear model first: the simplest that scores as well
        return {"cls": "unk", "text": _tie(same[0], test, up, interval, params)}
    return None


def _tie(
    b: Mapping[str, Any], test: float, up: bool, interval: Mapping[str, Any] | None, params: Any
) -> str:
    """A baseline the test split cannot tell from the winner. The classical one comes with its
    size beside the winner's (a linear model that scores as well is the one to consider); the
    trees with no more (no smaller or simpler to run than a small network)."""
    who, value, win = _the(b), b["value_s"], fmt_num(test)
    if b["value"] == test:
        text = f"{who} scores {value}, the same as the winner ({win})"
    else:
        how = "better than" if (b["value"] > test) == up else "worse than"
        text = f"{who} scores {value}, {how} the winner's {win}"
        if b.get("paired"):
            text += (" though the difference on the same test rows is within noise: on this "
                     "test split they cannot be told apart")  # fmt: skip
        elif interval:
            text += " though inside its 95% interval: on this test split they cannot be told apart"
    if b["kind"] != "classical":
        return text + "."
    size, w = b["params"], d.as_count(params)
    if size is None:  # a run from before nas recorded the baseline's size
        against = f", against the winner's {w:,} parameters" if w else ""
        return f"{text}; it is a linear model{against}: consider it."
    if w is not None and size < w:
        against = f" of {size:,} parameters against the winner's {w:,}"
        return f"{text}; it is a linear model{against}: consider it."
    return text + "."


_NAMED = re.compile(
    r"""column ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*") """
)  # a name as repr() writes it


def _unseen(unseen: Any, metric: str) -> str:
    """The models' scores on the test rows that repeat no training row (nas.baselines.
    unseen_scores), as a sentence; "" without them."""
    u = _m(unseen)
    n, of, win = d.as_count(u.get("n")), d.as_count(u.get("of")), d.as_number(u.get("winner"))
    if n is None or of is None or win is None:
        return ""
    others = []
    for b in u.get("baselines") or []:
        value = d.as_number(_m(b).get("value"))
        if value is not None:
            others.append(f"{_m(b).get('name')} {fmt_num(value)}")
    scores = "; ".join([f"the winner {fmt_num(win)}", *others])
    return (f" On the {n:,} of {of:,} test rows that repeat no training row, {metric}: "
            f"{scores}.")  # fmt: skip


def _leak_caution(
    leaks: Any, verdict: dict[str, str] | None, unseen: str = ""
) -> dict[str, str] | None:
    """The verdict when the data notes name what can inflate a test score (nas.data.column_notes:
    a column that gives or nearly gives the target, an ID, test rows copied from training rows):
    every model here was scored on the same data, so no comparison of them says how one does on
    new rows; said first, the comparison after it."""
    leaks = [str(n) for n in leaks or [] if n] if isinstance(leaks, list) else []
    if not leaks:
        return verdict
    columns = [m.group(1) for n in leaks if (m := _NAMED.match(n))]
    copies = [n for n in leaks if not _NAMED.match(n)]
    what, act = [], []
    if columns:
        one = len(columns) == 1
        what.append(f"column{'' if one else 's'} {d.listed(columns)}, which may give the target "
                    "away")  # fmt: skip
        act.append(f"drop {'it' if one else 'them'} (--drop) unless known when you predict")
    if copies:
        what.append("test rows that repeat training rows")
        act.append("remove the duplicate rows")
    text = (
        f"Do not ship on these scores yet: the data notes name {', and '.join(what)} (the "
        "data's alerts say more), so every test score here, the winner's and the baselines' "
        f"alike, may overstate how a model does on new rows; {', and '.join(act)}, then search "
        "again."
    ) + unseen
    if verdict is not None:
        text += f" On these scores: {verdict['text']}"
    return {"cls": "bad", "text": text}


def _gan_verdict(test: Mapping[str, Any]) -> dict[str, str] | None:
    """A generator no closer to the real data than uniform random inputs, said first."""
    fcd, noise = d.as_number(test.get("fcd")), d.as_number(test.get("noise_fcd"))
    if fcd is None or noise is None or fcd < noise:
        return None
    return {"cls": "bad", "text": (
        f"The generator's samples are no closer to the real test data than uniform random "
        f"inputs (FCD {fmt_num(fcd)} against noise's {fmt_num(noise)}): do not use them; "
        "search longer (more epochs), or in another space.")}  # fmt: skip


def _strip(points: list[tuple[str, float | None, str]], band: tuple[float, float] | None,
           proportion: bool, nonnegative: bool = False) -> dict[str, Any] | None:  # fmt: skip
    """Positions (percent of the width) of the score, its interval and the references on one
    axis: a picture of "score vs baselines" without a plotting library. The axis stays within
    [0, 1] for a proportion and at or above 0 for an error (RMSE, MAE, MSE, FCD)."""
    values = [v for _, v, _ in points if v is not None] + list(band or ())
    if len(values) < 2:
        return None
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 0.05
    lo, hi = lo - pad, hi + pad
    if proportion:
        lo, hi = max(0.0, lo), min(1.0, hi)
    if nonnegative and min(values) >= 0:
        lo = max(0.0, lo)

    def at(v: float) -> float:
        return round(100 * (v - lo) / (hi - lo), 2)

    return {
        "axis": (fmt_num(lo, 3), fmt_num(hi, 3)),
        "band": {"left": at(band[0]), "width": max(at(band[1]) - at(band[0]), 0.5)}
        if band
        else None,
        "marks": [
            {"label": label, "value_s": fmt_num(v), "left": at(v), "cls": cls}
            for label, v, cls in points
            if v is not None
        ],
    }


def _why(data: ReportData, best: Mapping[str, Any], metric: str, up: bool) -> str | None:
    run = _m(data.get("run"))
    trials = [t for t in data.get("trials") or [] if isinstance(t, Mapping)]
    bound = d.as_number(run.get("min_faithfulness"))
    if bound is None and isinstance(data.get("pareto"), list):
        said = _why_pareto(data, best, metric, trials)
        if said is not None:
            return said
    if bound is None:
        return _why_among(data, best, metric, up, trials)
    # under --min-faithfulness the winner competed with the feasible trials only: compare it
    # with them, and say what the bound cost
    done = [t for t in trials if t.get("state") == "complete" and d.as_number(t.get("metric"))
            is not None]  # fmt: skip
    ok = [t for t in done if t.get("feasible")]
    win = next((t for t in done if t.get("number") == best.get("trial")), None)
    if not ok or win is None or not win.get("feasible"):
        return _why_among(data, best, metric, up, trials)  # finalize warned: none was feasible
    text = _why_among(data, best, metric, up, ok, among=" that met the bound") or ""
    sign = 1.0 if up else -1.0
    missed = [t for t in done if not t.get("feasible")
              and sign * (float(t["metric"]) - float(win["metric"])) > 0]  # fmt: skip
    said = f" Under --min-faithfulness {bound:g}, {len(ok)} of {len(done)} complete trials met it"
    if not missed:
        return text + said + "; no trial that misses it scored better."
    b = max(missed, key=lambda t: sign * float(t["metric"]))
    w, shown = float(win["metric"]), d.as_number(_m(best.get("val")).get(metric))
    scale = shown / w if shown is not None and w else 1.0  # standardized -> units
    f = d.as_number(b.get("faithfulness"))
    cost = (
        f"; the best trial that misses it, trial {b['number']} ({b.get('family') or '?'}, "
        f"faithfulness {fmt_num(f) if f is not None else '?'}), scored "
        f"{fmt_num(float(b['metric']) * scale)} on validation, "
        f"{fmt_num(abs(float(b['metric']) - w) * scale, 3)} better than the winner: that is "
        "what the bound costs."
    )
    return text + said + cost


def _across_front(data: ReportData) -> bool:
    """Whether `nas explain RUN --top K` explained the front (the winner included) and the
    report shows it (a comparison with models, not a note that it is stale)."""
    c = _m(data.get("comparison"))
    return bool(c.get("models")) and not c.get("note")


def _objective(value: Any, name: str) -> str:
    """An objective's value as the CLI's table writes it: a count exactly (19,074)."""
    if name in ("params", "flops") and d.as_number(value) is not None:
        return f"{float(value):,.0f}"
    return fmt_num(value, 3) if name in ("latency", "memory") else fmt_num(value)


def _why_pareto(
    data: ReportData, best: Mapping[str, Any], metric: str, trials: list[Mapping[str, Any]]
) -> str | None:
    """Why this winner of a search of several objectives: the rule nas.leaderboard.pick_winners
    applies (the front member with the best validation value of the first objective; ties: the
    earlier trial), the front's size, and each complete trial scoring as well as the winner
    that the front left out, with what put it out."""
    run = _m(data.get("run"))
    names = [str(o) for o in run.get("objectives") or []]
    front = {n for n in data.get("pareto") or [] if isinstance(n, int)}
    done = [t for t in trials if t.get("state") == "complete" and
            d.as_number(t.get("metric")) is not None]  # fmt: skip
    win = next((t for t in done if t.get("number") == best.get("trial")), None)
    if win is None or len(names) < 2 or not front:
        return None
    label = d.metric_label(metric)
    w = float(win["metric"])
    shown_val = d.as_number(_m(best.get("val")).get(metric))
    scale = shown_val / w if shown_val is not None and w else 1.0  # standardized → units
    others = " and ".join(names[1:])
    text = (
        f"Why this winner: of the {len(front)} Pareto-optimal trial"
        f"{'s' if len(front) != 1 else ''} (of {len(done)} complete; on the front, no other "
        f"trial is at least as good on {label} and {others} and better on one), it has the "
        f"best validation {label} ({fmt_num(w * scale)}; ties: the earlier trial)"
    )
    up = plots.maximizes(run)
    sign = 1.0 if up else -1.0
    nxt = sorted((t for t in done if t.get("number") in front and t is not win),
                 key=lambda t: (-sign * float(t["metric"]), t.get("number", 0)))  # fmt: skip
    if nxt:
        n = nxt[0]
        costs = ", ".join(f"{o} {_objective(v, o)}" for o, v in
                          zip(names[1:], (n.get("values") or [])[1:]))  # fmt: skip
        text += f"; the next on the front, trial {n['number']}, scored "
        text += fmt_num(float(n["metric"]) * scale) + (f" ({costs})" if costs else "")
    as_good = [t for t in done if t.get("number") not in front
               and sign * (float(t["metric"]) - w) >= 0]  # fmt: skip
    if as_good:
        mine = ", ".join(f"{o} {_objective(v, o)}" for o, v in
                         zip(names[1:], (win.get("values") or [])[1:]))  # fmt: skip
        said = "; ".join(
            f"trial {t['number']} ({fmt_num(float(t['metric']) * scale)}, "
            + ", ".join(
                f"{o} {_objective(v, o)}" for o, v in zip(names[1:], (t.get("values") or [])[1:])
            )  # fmt: skip
            + ")"
            for t in sorted(as_good, key=lambda t: t.get("number", 0))
        )
        text += (
            f". Off the front although as good on validation {label}: {said}, dominated (a "
            f"trial as good on {label} does better on {others}; the winner has {mine})"
        )
    return text + "."


def _why_among(
    data: ReportData,
    best: Mapping[str, Any],
    metric: str,
    up: bool,
    trials: list[Mapping[str, Any]],
    among: str = "",
) -> str | None:
    run = _m(data.get("run"))
    sizes = _m(_m(run.get("data_info")).get("sizes"))
    key, unit = _size(run)
    test = _m(best.get("test"))
    t = d.ties(trials, best.get("trial"), metric, sizes.get("val"), up, size=key,
               per_class=test.get("per_class"), test_interval=_m(data.get("test_interval")),
               test=test.get(metric), n_test=sizes.get("test"))  # fmt: skip
    if t is None:
        return None
    w = float(t["winner"]["metric"])
    shown_val = d.as_number(_m(best.get("val")).get(metric))
    scale = shown_val / w if shown_val is not None and w else 1.0  # standardized → units
    n_done = 1 + sum(1 for x in trials if x.get("state") == "complete" and x is not t["winner"])
    text = (
        f"Why this winner: the best validation {d.metric_label(metric)} ({fmt_num(w * scale)}) of "
        f"{n_done} complete trial{'s' if n_done != 1 else ''}{among}"
    )
    if t["winner"].get("warm_start"):  # the search has not beaten the point it started from
        words, before = t["winner"].get("fitted"), d.as_number(t["winner"].get("fitted_from"))
        if isinstance(words, str) and words:  # in the limit's terms: a start can grow
            fitted = f", {words}"
        else:  # a report collected before "fitted" was recorded
            fitted = f", fitted to the budget from {fmt_si(before)} parameters" if before else ""
        text += f" (a starting point nas tries before sampling{fitted})"
    ru = t["runner_up"]
    if ru is None:
        alone = f"; no other trial{among or ' completed'}"
        return text + alone + ", so there is nothing to compare it with."
    text += (
        f"; the runner-up, trial {ru['number']}, scored {fmt_num(float(ru['metric']) * scale)} "
        f"(a margin of {fmt_num(t['margin'] * scale, 3)})"
    )
    if not t["known"]:
        why = t.get("why") or "the validation size is not recorded"
        return text + f"; {why}, so ties cannot be judged."
    n_val = int(sizes["val"])
    tied, small = t["tied"], t["smallest"]
    if not tied:
        return text + f", beyond the noise of {n_val:,} validation examples: a clear winner."
    text += (
        f". {len(tied)} other trial{'s are' if len(tied) > 1 else ' is'} tied with it within "
        f"noise ({n_val:,} validation examples, a 95% band of the difference)"
    )
    if small is None or small is t["winner"]:
        return text + "; the winner is also the smallest of them."
    return text + (
        f"; the smallest tied one is trial {small['number']} ({small.get('family') or '?'}, "
        f"{_sized(small[key], key)} {unit}, validation "
        f"{fmt_num(float(small['metric']) * scale)}) against the winner's "
        f"{_sized(t['winner'].get(key), key)}: consider it when size matters."
    )


# a study's cost objective -> (the trial's field, its unit), as nas.study.COST_OBJECTIVES
_COSTS = {
    "params": ("params", "parameters"),
    "flops": ("flops", "FLOPs"),
    "latency": ("latency_ms", "ms of latency"),
    "memory": ("memory_mb", "MiB of memory"),
}


def _size(run: Mapping[str, Any]) -> tuple[str, str]:
    """What "smallest" means for this search: its first cost objective (a study of accuracy
    and FLOPs ranks a tied trial by FLOPs, or it would name one its own front dominates), else
    parameters."""
    objectives = [str(o) for o in run.get("objectives") or []][1:]
    return next((_COSTS[o] for o in objectives if o in _COSTS), _COSTS["params"])


def _sized(value: Any, key: str) -> str:
    return fmt_num(value, 3) if key in ("latency_ms", "memory_mb") else fmt_si(value)


def _search(data: ReportData) -> str:
    trials = [t for t in data.get("trials") or [] if isinstance(t, Mapping)]
    counts = _m(data.get("counts")) or {
        s: sum(t.get("state") == s for t in trials) for s in _STATES
    }
    wall = d.wall_seconds(trials)
    n = len(trials) or sum(v for v in counts.values() if isinstance(v, int))
    parts = ", ".join(f"{counts.get(s) or 0} {s.replace('_', ' ')}" for s in _STATES[:4])
    took = f" in {fmt_seconds(wall)} of wall time" if wall is not None else ""
    return f"Search: {n} trial{'' if n == 1 else 's'}{took}: {parts}."


def _retrain(best: Mapping[str, Any], gan: bool) -> str | None:
    r = _m(best.get("retrain"))
    epochs, best_epoch = d.as_count(r.get("epochs")), d.as_count(r.get("best_epoch"))
    if epochs is None:
        return None
    if gan:  # nas.gan.finalize: its validation FCD picks the epoch whose weights are kept
        kept = f", keeping its best validation epoch's weights ({best_epoch})" if best_epoch else ""
        return (f"Final model: the generator retrained on the training split with the search's "
                f"seed for {epochs} epochs{kept}; then tested once.")  # fmt: skip
    text = f"Final model: retrained on train + validation for {epochs} epochs"
    if best_epoch:
        factor = epochs / best_epoch
        text += f" ({fmt_num(factor, 3)}× the search's best epoch, {best_epoch})"
    planned = d.as_count(r.get("schedule_epochs"))
    if planned and planned != epochs:
        text += f", of a {planned}-epoch schedule"
    return text + "; then tested once."


def _no_better(
    trivial: Mapping[str, Any] | None,
    test: float | None,
    interval: Mapping[str, Any] | None,
    up: bool,
    metric: str,
    data: ReportData,
) -> str:
    """What the explanations' checks cannot say, when the winner is no better than the trivial
    baseline (as good or worse, or that baseline inside its 95% interval): the checks find an
    explanation faithful to the model, and a model fitted to noise has faithful explanations."""
    if not data.get("explanations") or trivial is None or test is None:
        return ""
    value = trivial.get("value")
    if value is None:
        return ""
    no_better = (test <= value) if up else (test >= value)
    inside = (bool(trivial.get("within")) if "within" in trivial
              else interval is not None and interval["lo"] <= value <= interval["hi"])  # fmt: skip
    if not (no_better or inside):
        return ""
    judged = "no better than" if no_better else "not shown to be better than"
    noise = ("a difference within noise on the same rows" if trivial.get("paired")
             else "within its 95% interval")  # fmt: skip
    within = f", {noise}" if inside and not no_better else ""
    return (
        f" But the model is {judged} the {trivial['name']} (test {metric} {fmt_num(test)} "
        f"against {fmt_num(value)}{within}): its explanations may be faithful to what it "
        "computes, but this test split does not show that it learnt a pattern of the data."
    )


def decision_view(data: ReportData) -> dict[str, Any] | None:
    """What the first screen shows to decide whether to ship the winner; None without one."""
    run, best = _m(data.get("run")), _m(data.get("best"))
    if not best:
        return None
    metric = str(run.get("metric") or best.get("metric") or "metric")
    up = plots.maximizes(run)
    sizes = _m(_m(run.get("data_info")).get("sizes"))
    test = _m(best.get("test")).get(metric)
    interval = d.score_interval(metric, test, sizes.get("test"), _m(data.get("test_interval")))
    base = _baselines(data, metric, interval, up, d.as_number(test))
    units = _units(best, metric)
    label = d.metric_label(metric)  # the words; ``metric`` the key
    g = d.gap(metric, _m(best.get("val")).get(metric), test, sizes.get("val"),
              sizes.get("test"), up, _m(data.get("test_interval")),
              _m(best.get("test")).get("per_class"))  # fmt: skip
    version = _m(run.get("versions")).get("nas")
    trivial = next((b for b in base if b["kind"] == "trivial"), None)
    points = [
        ("winner, test", d.as_number(test), "win"),
        ("winner, validation", d.as_number(_m(best.get("val")).get(metric)), "val"),
    ]
    for kind in ("trivial", "classical", "trees"):  # trees: tabular runs since nas fitted them
        b = next((b for b in base if b["kind"] == kind), None)
        if b is not None:
            points.append((b["name"], b["value"], kind))
    band = (interval["lo"], interval["hi"]) if interval else None
    return {
        "metric": label,
        "better": "higher is better" if up else "lower is better",
        "score": fmt_num(test),
        "units": units,
        "interval": interval
        and {**interval, "text": "–".join(fmt_span(interval["lo"], interval["hi"]))},
        "n": fmt_num(sizes.get("test")) if sizes.get("test") is not None else None,
        "baselines": base,
        "baselines_note": None
        if base
        else f"Baselines: {_m(data.get('baselines'))['note']}"
        if _m(data.get("baselines")).get("note")
        else "Baselines: not measured for this run (made with nas "
        f"{version or 'of an unknown version'}, before nas measured baselines at the end of a "
        "search; a new search measures them)."
        if data.get("gan") is None
        else "Baselines: none for a GAN search (the GAN section sets its FCD beside the real "
        "data's floor and random inputs).",
        "strip": _strip(points, band, metric in d.PROPORTIONS, nonnegative=not up),
        "gap": g
        and {
            "text": d.gap_sentence(label, g, sizes.get("val"), sizes.get("test"), units),
            "within": g["within"] if g["gap"] > 0 else True,
        },
        "why": _why(data, best, metric, up),
        "verdict": _leak_caution(
            _m(_m(_m(run.get("data_info")).get("preprocessing"))).get("leaks"),
            _baseline_verdict(
                base, d.as_number(test), up, label, interval, _m(best.get("cost")).get("params")
            ),
            _unseen(data.get("unseen"), label),
        )
        if data.get("gan") is None
        else _gan_verdict(_m(best.get("test"))),
        "search": _search(data),
        "explanations": d.explanation_line(
            _m(data.get("explanations")) or None, _across_front(data)
        )
        + _no_better(trivial, d.as_number(test), interval, up, label, data)
        if data.get("gan") is None
        else "Explanations: of the generator and the discriminator, in the GAN section."
        if _m(data.get("gan")).get("grid") or _m(data.get("gan")).get("discriminator")
        else "Explanations: none were stored for this GAN; `nas explain RUN` computes them.",
        "retrain": _retrain(best, data.get("gan") is not None),
    }


__all__ = ["decision_view"]
