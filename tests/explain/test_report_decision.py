"""The report's first screen as a decision: known answers for the statistics (Wilson's and
Newcombe's intervals, the gap against noise, ties within noise) and the words a breast-cancer
run renders."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from explain.report import decision as d
from explain.report import render_html
from explain.report.decision_view import decision_view
from nas.findings import alerts, verdict
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")


def breast_cancer(baselines: bool = True) -> dict[str, Any]:
    """The tabular fixture as a real breast_cancer run: 85 validation and 86 test examples,
    validation 1.000, test 82/86, two baselines, a retrain of 2 x 12 epochs and one method
    that passed every check."""
    data = copy.deepcopy(fx.tabular_classification())
    data["run"]["data_info"]["sizes"] = {"train": 398, "val": 85, "test": 86}
    best = data["best"]
    best["test"]["accuracy"] = 82 / 86
    best["val"] = {"accuracy": 1.0}
    best["retrain"].update(epochs=24, schedule_epochs=40, best_epoch=12)
    win = next(t for t in data["trials"] if t["number"] == best["trial"])
    win.update(metric=1.0, values=[1.0], params=47_700)
    for t in data["trials"]:
        if t["state"] == "complete" and t is not win:
            # 0.90 against 1.0 on 85: a 95% band of ±0.069 (Agresti's +1/+1), not tied;
            # 0.99 against 1.0: tied
            t["metric"] = t["values"][0] = 0.90
    tied = next(t for t in data["trials"] if t["state"] == "complete" and t is not win)
    tied.update(metric=0.99, values=[0.99], params=1_200, family="fnn")
    for c in data["explanations"]["checks"]:
        if c["method"] == "integrated_gradients":
            c["status"] = "pass"
    if baselines:
        data["baselines"] = {
            "metric": "accuracy", "split": "test", "n_test": 86, "fitted_on": "train+val",
            "baselines": [
                {"name": "majority class", "kind": "trivial", "metrics": {"accuracy": 54 / 86},
                 "detail": "always predicts the most frequent class (benign, 62.7%)"},
                {"name": "logistic regression", "kind": "classical",
                 "metrics": {"accuracy": 84 / 86},
                 "detail": "scikit-learn LogisticRegression(max_iter=200) on 30 inputs"},
            ],
        }  # fmt: skip
    return data


# --- the statistics, by hand ------------------------------------------------------------------


def test_wilson_interval_of_82_of_86() -> None:
    # by hand: p = 0.95349, z² = 3.8415; centre (p + z²/172) / (1 + z²/86) = 0.93405,
    # half-width z / (1 + z²/86) * sqrt(p q / 86 + z² / 29584) = 0.04762
    lo, hi = d.wilson(82, 86)
    assert lo == pytest.approx(0.886, abs=1e-3) and hi == pytest.approx(0.982, abs=1e-3)
    assert d.wilson(0, 10)[0] == 0.0 and d.wilson(10, 10)[1] == 1.0
    assert d.wilson(10, 10)[0] == pytest.approx(10 / (10 + 1.959964**2))  # n / (n + z²)


def test_newcombe_matches_the_papers_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, Table II, 56/70 - 48/80, method 10
    lo, hi = d.newcombe(56 / 70, 70, 48 / 80, 80)
    assert lo == pytest.approx(0.0524, abs=2e-4) and hi == pytest.approx(0.3339, abs=2e-4)


def test_the_test_score_interval_is_wilson_for_accuracy() -> None:
    ci = d.score_interval("accuracy", 82 / 86, 86)
    assert ci is not None and ci["method"] == "Wilson score interval" and ci["n"] == 86
    assert (ci["lo"], ci["hi"]) == pytest.approx((0.8864, 0.9818), abs=1e-3)
    # an RMSE of 50 on 200 examples: sd ≈ 50 / sqrt(400) = 2.5, so 50 ± 4.9
    ci = d.score_interval("rmse", 50.0, 200)
    assert ci is not None and (ci["lo"], ci["hi"]) == pytest.approx((45.1, 54.9), abs=0.01)
    stored = {"metric": "rmse", "lo": 44.0, "hi": 57.0, "n": 200, "method": "bootstrap"}
    assert d.score_interval("rmse", 50.0, 200, stored)["lo"] == 44.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("metric", "val", "test", "n_val", "n_test", "up", "within"),
    [
        # 85/85 against 82/86: Fisher's exact test gives p = 0.12, so within noise
        ("accuracy", 1.0, 82 / 86, 85, 86, True, True),
        # 99% against 90% on 1000 examples each: z ≈ 8.8, far beyond noise
        ("accuracy", 0.99, 0.90, 1000, 1000, True, False),
        # RMSE 50 against 60 on 100 each: sd 3.54 and 4.24, 95% band ±10.8 > 10
        ("rmse", 50.0, 60.0, 100, 100, False, True),
        # RMSE 50 against 70: 95% band ±11.9 < 20
        ("rmse", 50.0, 70.0, 100, 100, False, False),
        # no sizes: nothing to judge against
        ("accuracy", 0.99, 0.90, None, None, True, None),
    ],
)
def test_the_gap_is_judged_against_the_noise_of_both_splits(
    metric: str, val: float, test: float, n_val: Any, n_test: Any, up: bool, within: Any
) -> None:
    g = d.gap(metric, val, test, n_val, n_test, up)
    assert g is not None and g["within"] is within
    assert g["gap"] == pytest.approx(abs(val - test))


def test_ties_name_the_smallest_trial_within_noise() -> None:
    # n = 100 validation examples: 0.99 vs 0.98 differ by 0.01 against a 95% band of ≈ 0.042
    # (tied); 0.99 vs 0.90 by 0.09 against ≈ 0.066 (not tied, though it is the smallest)
    trials = [
        {"number": 7, "state": "complete", "metric": 0.99, "params": 50_000},
        {"number": 3, "state": "complete", "metric": 0.98, "params": 2_000},
        {"number": 4, "state": "complete", "metric": 0.985, "params": 9_000},
        {"number": 5, "state": "complete", "metric": 0.90, "params": 1_000},
        {"number": 6, "state": "pruned", "metric": None, "params": 10},
    ]
    t = d.ties(trials, 7, "accuracy", 100, True)
    assert t is not None and t["runner_up"]["number"] == 4
    assert t["margin"] == pytest.approx(0.005)
    assert sorted(x["number"] for x in t["tied"]) == [3, 4]
    assert t["smallest"]["number"] == 3
    # with 100,000 validation examples the same differences are all beyond noise
    t = d.ties(trials, 7, "accuracy", 100_000, True)
    assert t is not None and t["tied"] == [] and t["smallest"]["number"] == 7


def test_a_study_of_flops_names_the_tied_trial_with_the_fewest_flops() -> None:
    """The helper's wine search on accuracy and FLOPs: trial 1 has the fewest parameters but
    469,440 FLOPs, and trial 0 (72,960 FLOPs, better accuracy) dominates it on the study's own
    objectives; "the smallest tied one" had named trial 1. By FLOPs it is the winner itself."""
    from explain.report.decision_view import decision_view

    data = breast_cancer()
    data["run"]["objectives"] = ["accuracy", "flops"]
    data["run"]["data_info"]["sizes"]["val"] = 27
    data["best"]["trial"], data["best"]["val"]["accuracy"] = 0, 0.963
    data["trials"] = [
        {"number": 0, "state": "complete", "metric": 0.963, "params": 40_000, "flops": 72_960},
        {"number": 1, "state": "complete", "metric": 0.926, "params": 18_000, "flops": 469_440},
        {"number": 2, "state": "complete", "metric": 0.926, "params": 90_000, "flops": 900_000},
    ]
    t = d.ties(data["trials"], 0, "accuracy", 27, True, size="flops")
    assert t is not None and {x["number"] for x in t["tied"]} == {1, 2}
    assert t["smallest"]["number"] == 0
    assert d.ties(data["trials"], 0, "accuracy", 27, True)["smallest"]["number"] == 1  # params
    why = decision_view(data)["why"]
    assert "the winner is also the smallest of them" in why, why
    data["trials"][0]["flops"] = 600_000  # now trial 1 is the one with fewer FLOPs
    why = decision_view(data)["why"]
    assert "the smallest tied one is trial 1" in why and "469 k FLOPs" in why, why
    assert "against the winner's 600 k" in why, why


def test_the_explanation_verdict_names_who_passed_every_check() -> None:
    checks = [
        {"name": "completeness", "method": "ig", "status": "pass"},
        {"name": "sensitivity", "method": "ig", "status": "pass"},
        {"name": "completeness", "method": "shap", "status": "pass"},
        {"name": "infidelity", "method": "shap", "status": "warn"},
        {"name": "randomisation", "method": "saliency", "status": "fail"},
    ]
    v = d.check_verdict(checks)
    assert v == {"passed": ["ig"], "warned": {"shap": ["infidelity"]},
                 "failed": {"saliency": ["randomisation"]}, "broken": {}}  # fmt: skip
    line = d.explanation_line({"checks": checks})
    assert "Explanations: ig passed every check; " in line
    three = [{"name": "completeness", "method": m, "status": "pass"} for m in ("a", "b", "c")]
    assert d.explanation_line({"checks": three}) == "Explanations: a, b and c passed every check."
    assert "saliency failed randomisation" in line
    # a check that could not run (an error) is not a pass; one that does not apply is
    checks += [
        {"name": "randomisation", "method": "ig", "status": "skipped",
         "detail": "could not run: RuntimeError: out of memory"},
        {"name": "completeness", "method": "saliency", "status": "skipped",
         "detail": "saliency makes no completeness claim"},
    ]  # fmt: skip
    line = d.explanation_line({"checks": checks})
    assert "ig passed every check it ran" in line and "ig could not run randomisation" in line
    assert "saliency could not run" not in line


def test_methods_that_disagree_are_named_beside_their_own_passes() -> None:
    """IG and SHAP each passed their own checks on a noise target while ranking its inputs
    at -0.39 (agreement: fail): the first screen said "integrated_gradients passed every
    check" and the trust table "every check held" (/tmp/oW 1). Both now name the pair."""
    from explain.report.method_trust import trust_table

    checks = [{"name": "completeness", "method": m, "status": "pass"} for m in ("ig", "shap")]
    agreement = [
        {"name": "agreement", "method": "ig vs shap", "status": "fail", "value": -0.3857},
        {"name": "agreement", "method": "ig vs deeplift", "status": "pass", "value": 0.99},
        {"name": "agreement", "method": "deeplift vs shap", "status": "warn", "value": 0.31},
    ]
    exp = {"checks": checks, "agreement": agreement}
    assert d.explanation_line(exp) == (
        "Explanations: ig and shap passed every check; ig and shap disagree on which inputs "
        "matter (rank agreement -0.39); deeplift and shap partly disagree on which inputs "
        "matter (rank agreement 0.31)."
    )
    rows = {r["method"]: r for r in trust_table(exp, {"ig": "pass", "shap": "pass"})["rows"]}
    said = "ig and shap disagree on which inputs matter (rank agreement -0.39)"
    assert rows["ig"]["meaning"] == [f"{said}: one of the two is off"]
    assert len(rows["shap"]["meaning"]) == 2
    agreeing = {"checks": checks, "agreement": agreement[1:2]}
    assert d.explanation_line(agreeing) == "Explanations: ig and shap passed every check."
    # agreement checks kept among the checks (an older explanations.json) count the same
    assert "ig and shap disagree" in d.explanation_line({"checks": checks + agreement[:1]})


def test_the_overfit_alert_fires_only_beyond_noise() -> None:
    data = breast_cancer()
    data["alerts"] = []
    texts = [a["text"] for a in alerts(data)]
    assert not any("over-fitted" in t for t in texts), texts  # 1.000 vs 0.9535: noise
    data["run"]["data_info"]["sizes"] = {"train": 5000, "val": 1000, "test": 1000}
    data["best"]["val"]["accuracy"], data["best"]["test"]["accuracy"] = 0.99, 0.90
    texts = [a["text"] for a in alerts(data)]
    assert any("more than the noise of 1,000 validation and 1,000 test" in t for t in texts)


# --- the rendered first screen ----------------------------------------------------------------


def _decision_text(html: str) -> str:
    import re

    start = html.index('id="decision"')
    block = html[start : html.index('<div class="alerts">', start)]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block)).replace("&#39;", "'")


def test_the_first_screen_shows_what_a_decision_needs() -> None:
    text = _decision_text(render_html(breast_cancer()))
    assert "0.9535" in text and "0.886–0.982" in text and "n = 86" in text
    assert "Wilson score interval" in text
    assert "majority class 0.6279" in text and "logistic regression 0.9767" in text
    assert "outside the winner's 95% interval" in text  # the majority class, 0.628
    assert "inside the winner's 95% interval" in text  # logistic regression, 0.977
    assert "Validation accuracy 1 → test 0.9535" in text
    assert "within the noise of 85 validation and 86 test examples" in text
    assert "Newcombe" in text
    assert "1 other trial is tied with it within noise" in text
    assert "the smallest tied one is trial" in text and "1.2 k parameters" in text
    assert "Explanations: integrated_gradients passed every check" in text
    assert "shap_permutation failed randomisation" in text
    assert "retrained on train + validation for 24 epochs (2× the search's best epoch, 12)" in text
    trials = fx.tabular_classification()["trials"]
    wall = max(t["end_s"] for t in trials) - min(t["start_s"] for t in trials)
    minutes, seconds = divmod(round(wall), 60)
    assert f"Search: 40 trials in {minutes} min {seconds:02d} s of wall time: " in text
    states = [t["state"] for t in fx.tabular_classification()["trials"]]
    counts = ", ".join(f"{states.count(s)} {s.replace('_', ' ')}"
                       for s in ("complete", "pruned", "over_budget", "failed"))  # fmt: skip
    assert f"wall time: {counts}." in text


def test_a_run_without_baselines_says_they_were_not_measured() -> None:
    text = _decision_text(render_html(breast_cancer(baselines=False)))
    assert "not measured for this run (made with nas 0.1.0" in text
    assert "0.886–0.982" in text  # the interval needs no baselines


def test_a_regression_shows_a_bootstrap_interval_when_there_is_one() -> None:
    data = copy.deepcopy(fx.regression())
    text = _decision_text(render_html(data))
    # no stored interval: the normal approximation, sd(RMSE) ≈ 54.66 / sqrt(2 · 270)
    half = 1.959964 * 54.66 / math.sqrt(540)
    # both ends to the decimals of the larger's 3 significant digits ("50.0", not "50")
    assert f"{54.66 - half:.1f}–{54.66 + half:.1f}" == "50.0–59.3"
    assert "50.0–59.3" in text and "normal approximation" in text
    data["test_interval"] = {"metric": "rmse", "lo": 49.1, "hi": 60.7, "n": 270,
                             "method": "percentile bootstrap, 1000 resamples"}  # fmt: skip
    text = _decision_text(render_html(data))
    assert "49.1–60.7" in text and "percentile bootstrap, 1000 resamples" in text


def test_user_strings_in_the_decision_are_escaped() -> None:
    data = breast_cancer()
    data["baselines"]["baselines"][0]["name"] = fx.XSS_FEATURE
    html = render_html(data)
    assert fx.XSS_FEATURE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_under_min_faithfulness_the_winner_is_compared_with_feasible_trials() -> None:
    """The winner met --min-faithfulness 0.45; the runner-up among the feasible trials is
    named, and the better trial that misses the bound is named with what the bound cost."""
    data = breast_cancer()
    data["run"]["min_faithfulness"] = 0.45
    win = next(t for t in data["trials"] if t["number"] == data["best"]["trial"])
    done = [t for t in data["trials"] if t["state"] == "complete" and t is not win]
    for t in data["trials"]:
        t["feasible"], t["faithfulness"] = None, None
    win.update(feasible=True, faithfulness=0.52)
    done[0].update(metric=0.99, values=[0.99], feasible=True, faithfulness=0.47)
    for t in done[1:]:
        t.update(feasible=False, faithfulness=0.30)
    done[1].update(metric=1.0, values=[1.0])  # better than nothing, tied with the winner
    text = _decision_text(render_html(data))
    n_done = len(done) + 1
    assert f"Under --min-faithfulness 0.45, 2 of {n_done} complete trials met it" in text
    runner_up = f"the runner-up, trial {done[0]['number']}, scored 0.99"
    assert f"of 2 complete trials that met the bound; {runner_up}" in text
    assert "faithfulness ≥ 0.45" in render_html(data)  # the search card's constraint row
    assert "the best that met --min-faithfulness 0.45 is a" in verdict(data)
    assert "no trial that misses it scored better" in text  # 1.0 ties the winner's 1.0
    win.update(metric=0.97, values=[0.97])  # now the trial that misses the bound is better
    done[0].update(metric=0.96, values=[0.96])
    data["best"]["val"] = {"accuracy": 0.97}
    text = _decision_text(render_html(data))
    assert (
        f"the best trial that misses it, trial {done[1]['number']} (" in text
        and "faithfulness 0.3), scored 1 on validation, 0.03 better than the winner" in text
    )


def test_a_winning_starting_point_is_named_as_one() -> None:
    """A winner nas enqueued before sampling (and fitted to the budget) is not an architecture
    the search found: the first screen says so; a sampled winner gets no such words."""
    data = breast_cancer()
    text = _decision_text(render_html(data))
    assert "starting point" not in text
    win = next(t for t in data["trials"] if t["number"] == data["best"]["trial"])
    win.update(warm_start=True)
    text = _decision_text(render_html(data))
    assert " complete trials (a starting point nas tries before sampling); the runner-up" in text
    win.update(fitted_from=21_290)  # a report collected before "fitted" was added
    text = _decision_text(render_html(data))
    assert (
        "(a starting point nas tries before sampling, fitted to the budget from 21.3 k "
        "parameters); the runner-up" in text
    )
    # a start fitted to --max-flops may have grown in parameters: said in the limit's terms
    win.update(fitted="fitted to the budget from 1.93 MFLOPs")
    text = _decision_text(render_html(data))
    assert "sampling, fitted to the budget from 1.93 MFLOPs); the runner-up" in text


def test_explanations_of_a_model_no_better_than_the_majority_class_say_so() -> None:
    """Labels drawn at random: test accuracy 0.50 against the majority class's 0.51. The checks
    pass (the explanations follow the model), and the line said only 'passed every check'."""
    data = breast_cancer()
    data["best"]["test"]["accuracy"] = 43 / 86
    data["baselines"]["baselines"][0]["metrics"]["accuracy"] = 44 / 86
    text = _decision_text(render_html(data))
    assert "Explanations: integrated_gradients passed every check" in text
    assert "But the model is no better than the majority class (test accuracy 0.5 against" in text
    assert "this test split does not show that it learnt a pattern of the data" in text
    # the same, inside the winner's interval though below it: 0.90 +- 0.065 holds 0.86
    data["best"]["test"]["accuracy"] = 77 / 86
    data["baselines"]["baselines"][0]["metrics"]["accuracy"] = 74 / 86
    assert (
        "But the model is not shown to be better than the majority class (test accuracy 0.8953 "
        "against 0.8605, within its 95% interval)" in _decision_text(render_html(data))
    )
    # a model clearly better says nothing of the kind
    assert "no better than" not in _decision_text(render_html(breast_cancer()))


def test_a_baseline_better_than_the_winner_is_said_on_the_first_screen() -> None:
    """A logistic regression above the winner's interval had read 'outside the winner's 95%
    interval', the words the majority class below it got, and nothing more."""
    data = breast_cancer()
    text = _decision_text(render_html(data))  # logistic regression 0.9767, inside 0.886-0.982
    assert "better than the winner's 0.9535 though inside its 95% interval" in text
    data["baselines"]["baselines"][1]["metrics"]["accuracy"] = 86 / 86
    text = _decision_text(render_html(data))
    assert "better than the winner, beyond its 95% interval" in text  # its row
    assert ("The logistic regression beats the winner on this test split (accuracy 1 against "
            "0.9535, beyond the winner's 95% interval): ship it instead") in text  # fmt: skip
    assert "outside the winner's 95% interval" in text  # the majority class, below it
    # a regression: lower is better, so a ridge below the interval beats the winner
    reg = copy.deepcopy(fx.regression())  # test rmse 54.66, interval 50.05-59.27
    reg["baselines"] = {"metric": "rmse", "baselines": [
        {"name": "mean predictor", "kind": "trivial", "metrics": {"rmse": 77.0}},
        {"name": "ridge regression", "kind": "classical", "metrics": {"rmse": 45.0}},
    ]}  # fmt: skip
    view = decision_view(reg)
    assert view is not None and view["better"] == "lower is better"
    assert view["verdict"] == {"cls": "bad", "text": (
        "The ridge regression beats the winner on this test split (rmse 45 against 54.66, "
        "beyond the winner's 95% interval): ship it instead, or search longer or in another "
        "space.")}  # fmt: skip
    reg["baselines"]["baselines"][1]["metrics"]["rmse"] = 60.0  # worse: nothing to say
    assert decision_view(reg)["verdict"] is None  # type: ignore[index]


def test_the_score_strip_of_an_error_starts_at_zero_not_below() -> None:
    """RMSE 1.2 beside a mean predictor's 18.5: the 8 % padding had drawn the axis from -0.906."""
    from explain.report.decision_view import _strip

    points = [("winner", 1.2, "score"), ("mean predictor", 18.5, "trivial")]
    error = _strip(points, (1.0, 1.5), proportion=False, nonnegative=True)
    assert error is not None and error["axis"][0] == "0"
    assert error["marks"][0]["left"] == pytest.approx(100 * 1.2 / (18.5 + 0.08 * 17.5), abs=0.01)
    signed = _strip([("winner", -0.2, "score"), ("mean", 0.0, "trivial")], None, False, True)
    assert signed is not None and signed["axis"][0].startswith("-")  # r2-like: below 0 kept


def test_a_heavy_tailed_test_error_is_judged_by_its_bootstrap_spread() -> None:
    """The helper's houses run: validation RMSE 16.37, test 35.43 on 90 rows each, one test
    row off by 313 (an imputed size). The normal-residual SE, RMSE / sqrt(2n), puts the gap's
    interval at 13.4-24.8 ("over-fitted"); the test's own bootstrap interval, 11.58-58.78,
    holds the validation value. Its half toward validation, 23.85 / 1.96, is the test's SE."""
    z = 1.959963984540054
    plain = d.gap("rmse", 16.37, 35.43, 90, 90, False)
    se_v, se_t = 16.37 / math.sqrt(180), 35.43 / math.sqrt(180)
    assert plain["lo"] == pytest.approx(19.06 - z * math.hypot(se_v, se_t), abs=1e-6)
    assert plain["within"] is False and plain["lo"] == pytest.approx(13.36, abs=0.01)
    boot = {"lo": 11.578, "hi": 58.784}
    g = d.gap("rmse", 16.37, 35.43, 90, 90, False, boot)
    half = z * math.hypot(se_v, (35.43 - 11.578) / z)
    assert (g["lo"], g["hi"]) == (pytest.approx(19.06 - half), pytest.approx(19.06 + half))
    assert g["within"] is True and "bootstrap" in g["method"]
    assert d.gap("accuracy", 1.0, 0.95, 85, 86, True, boot)["method"].startswith("Newcombe")


def test_a_majority_class_within_the_interval_is_not_shown_beaten_not_patternless() -> None:
    """97:3 data: the winner's accuracy 0.9767 on 86 rows equals the majority class's. The
    screen said "it has found no pattern in the data", which a 10-row AUC of 1.0 also got:
    the evidence is only that this test split cannot tell the two apart."""
    data = breast_cancer()
    data["best"]["test"]["accuracy"] = 84 / 86
    data["baselines"]["baselines"][0]["metrics"]["accuracy"] = 84 / 86
    view = decision_view(data)
    assert view is not None and view["verdict"] == {"cls": "bad", "text": (
        "The winner is not shown to beat the majority class on these n = 86 test examples "
        "(accuracy 0.9767 against 0.9767, within the winner's 95% interval).")}  # fmt: skip
    assert "no pattern" not in _decision_text(render_html(data))


def test_a_linear_model_as_good_as_the_winner_is_named_with_its_size() -> None:
    """A logistic regression that scores what the winner scores (0.9535 on 86 rows) had got no
    word: only a baseline better than the winner was said."""
    data = breast_cancer()
    data["baselines"]["baselines"][1]["metrics"]["accuracy"] = 82 / 86
    winner = data["best"]["cost"]["params"]
    view = decision_view(data)
    assert view is not None and view["verdict"] == {"cls": "unk", "text": (
        "The logistic regression scores 0.9535, the same as the winner (0.9535); it is a linear "
        f"model, against the winner's {winner:,} parameters: consider it.")}  # fmt: skip
    data["baselines"]["baselines"][1]["params"] = 31  # 30 inputs and an intercept
    data["baselines"]["baselines"][1]["metrics"]["accuracy"] = 80 / 86  # inside 0.886-0.982
    assert decision_view(data)["verdict"]["text"] == (  # type: ignore[index]
        "The logistic regression scores 0.9302, worse than the winner's 0.9535 though inside its "
        "95% interval: on this test split they cannot be told apart; it is a linear model of 31 "
        f"parameters against the winner's {winner:,}: consider it."
    )
    data["baselines"]["baselines"][1]["metrics"]["accuracy"] = 70 / 86  # below the interval
    assert decision_view(data)["verdict"] is None  # type: ignore[index]


def test_the_macro_averages_are_named_so_where_people_read_them() -> None:
    """precision, recall and f1 average the classes (nas.metrics): a "recall 0.5" on 97:3 data
    hides the minority class's 0. The report names them macro averages; the data keeps the keys."""
    import re

    data = breast_cancer()
    data["run"]["metric"] = "f1"
    data["best"]["test"].update(f1=0.5, precision=0.49, recall=0.51)
    data["best"]["val"] = {"f1": 0.52}
    data["baselines"] = None
    html = render_html(data)
    cards = {
        k: v
        for v, k in re.findall(r'<div class="v">([^<]*)</div><div class="k">([^<]*)</div>', html)
    }
    assert cards["macro recall"] == "0.51" and cards["macro precision"] == "0.49"
    assert "recall" not in cards and "f1" not in cards
    assert '<div class="metric main"><div class="v">0.5</div><div class="k">macro f1</div>' in html
    text = _decision_text(html)
    assert "test macro f1 (higher is better)" in text
    assert "Validation macro f1 0.52 → test 0.5" in text
    assert "scores test macro f1 0.5 on 86 held-out examples" in verdict(data)
    assert data["best"]["test"]["f1"] == 0.5  # the stored key is unchanged


def test_the_data_card_lists_every_note_of_the_data_escaped() -> None:
    """run.json's data_info.notes ("107 of 800 rows ... left out") were in no view: the data
    card lists them all, as text."""
    data = breast_cancer()
    notes = [f"note {i}: 12 rows with no value for target 'y' were left out" for i in range(7)]
    data["run"]["data_info"]["notes"] = [*notes, fx.XSS_FEATURE]
    html = render_html(data)
    block = html[html.index('id="data-notes"') :]
    items = block[: block.index("</ul>")].split("<li>")[1:]
    assert [i.removesuffix("</li>").replace("&#39;", "'") for i in items[:7]] == notes
    assert fx.XSS_FEATURE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in items[7]
    del data["run"]["data_info"]["notes"]
    assert 'id="data-notes"' not in render_html(data)  # no notes, no heading


def _with_trees(accuracy: float) -> dict[str, Any]:
    """breast_cancer with the third baseline a tabular run gets: gradient-boosted trees."""
    data = breast_cancer()
    data["baselines"]["baselines"].append({
        "name": "gradient boosting", "kind": "trees", "metrics": {"accuracy": accuracy},
        "detail": "scikit-learn HistGradientBoostingClassifier(random_state=0) on the 30 "
                  "preprocessed inputs, fitted on train + validation (483 rows), on one core",
    })  # fmt: skip
    return data


def test_gradient_boosting_is_a_third_baseline_with_its_own_mark() -> None:
    """Tabular runs get gradient-boosted trees beside the linear model: a row of the table, a
    mark of its own on the strip and in its legend; a run without them (older, or images)
    renders as before."""
    data = _with_trees(80 / 86)  # 0.9302, inside the winner's 0.886-0.982
    html = render_html(data)
    text = _decision_text(html)
    assert "gradient boosting 0.9302" in text
    assert "HistGradientBoostingClassifier(random_state=0)" in text
    assert html.count('class="mk mk-trees"') == 3  # its row, the axis and the legend
    assert ".mk-trees {" in html  # the style that draws it
    view = decision_view(data)
    assert view is not None
    assert [m["cls"] for m in view["strip"]["marks"]] == [
        "win", "val", "trivial", "classical", "trees"
    ]  # fmt: skip
    # the logistic regression is better than the winner within its interval: it is the one
    # named (the simpler model), as before
    assert view["verdict"]["text"].startswith("The logistic regression scores 0.9767, better")
    old = render_html(breast_cancer())
    assert "mk-trees" not in old.split("<style>")[0] + old.split("</style>")[-1]
    assert "gradient boosting" not in _decision_text(old)


def test_gradient_boosting_beating_the_winner_is_said_as_plainly() -> None:
    """Trees at 1.0 on 86 rows, beyond the winner's 0.886-0.982: the verdict names them, with
    the linear model too when it also beats the winner."""
    data = _with_trees(86 / 86)
    view = decision_view(data)
    assert view is not None and view["verdict"] == {"cls": "bad", "text": (
        "Gradient boosting beats the winner on this test split (accuracy 1 against 0.9535, "
        "beyond the winner's 95% interval): ship it instead, or search longer or in another "
        "space.")}  # fmt: skip
    assert "better than the winner, beyond its 95% interval" in _decision_text(render_html(data))
    data["baselines"]["baselines"][1]["metrics"]["accuracy"] = 85 / 86  # 0.9884, beyond too
    assert decision_view(data)["verdict"]["text"] == (  # type: ignore[index]
        "Gradient boosting beats the winner on this test split (accuracy 1 against 0.9535, "
        "beyond the winner's 95% interval; so does the logistic regression, 0.9884): ship it "
        "instead, or search longer or in another space."
    )
    # lower is better: the trees' RMSE below the winner's interval beats it
    reg = copy.deepcopy(fx.regression())  # test rmse 54.66, interval 50.05-59.27
    reg["baselines"] = {"metric": "rmse", "baselines": [
        {"name": "mean predictor", "kind": "trivial", "metrics": {"rmse": 77.0}},
        {"name": "ridge regression", "kind": "classical", "metrics": {"rmse": 70.0}},
        {"name": "gradient boosting", "kind": "trees", "metrics": {"rmse": 41.0}},
    ]}  # fmt: skip
    assert decision_view(reg)["verdict"]["text"].startswith(  # type: ignore[index]
        "Gradient boosting beats the winner on this test split (rmse 41 against 54.66"
    )


def test_a_tie_with_gradient_boosting_is_said_without_calling_it_linear() -> None:
    """The tie sentence's "it is a linear model ...: consider it" is the linear model's only;
    trees that the test split cannot tell from the winner get the plain comparison."""
    data = _with_trees(82 / 86)
    data["baselines"]["baselines"][1]["metrics"]["accuracy"] = 70 / 86  # linear: below
    assert decision_view(data)["verdict"] == {"cls": "unk", "text": (  # type: ignore[index]
        "Gradient boosting scores 0.9535, the same as the winner (0.9535).")}  # fmt: skip
    data["baselines"]["baselines"][2]["metrics"]["accuracy"] = 84 / 86  # inside, above
    assert decision_view(data)["verdict"]["text"] == (  # type: ignore[index]
        "Gradient boosting scores 0.9767, better than the winner's 0.9535 though inside its 95% "
        "interval: on this test split they cannot be told apart."
    )
    # both tied: the linear model is named, as before, with its words
    data["baselines"]["baselines"][1]["metrics"]["accuracy"] = 82 / 86
    assert "it is a linear model" in decision_view(data)["verdict"]["text"]  # type: ignore[index]


# --- balanced accuracy and the macro averages are no proportions of n --------------------------

# the tester's run: 300 test rows, 7 of them the minority class (and as many validation rows,
# stratified), balanced accuracy 0.7292 on validation and 0.7189 on test, whose bootstrap
# interval from the test predictions was 0.524-0.872
_PER_CLASS = [{"class": "no", "recall": 0.9378, "support": 293},
              {"class": "yes", "recall": 0.5, "support": 7}]  # fmt: skip
_BOOT = {"metric": "balanced_accuracy", "lo": 0.524, "hi": 0.872, "n": 300,
         "method": "percentile bootstrap, 1000 resamples"}  # fmt: skip


def _worst_class_variance(v: float, n1: int, n2: int) -> float:
    """By hand, for two classes: the recalls r1 + r2 = 2v that maximize
    (r1 (1 - r1) / n1 + r2 (1 - r2) / n2) / 4 satisfy (1 - 2 r1) / n1 = (1 - 2 r2) / n2, so
    r_c = (1 - mu n_c) / 2 with mu = (1 - 2v) / ((n1 + n2) / 2)."""
    mu = (1 - 2 * v) / ((n1 + n2) / 2)
    r1, r2 = (1 - mu * n1) / 2, (1 - mu * n2) / 2
    return (r1 * (1 - r1) / n1 + r2 * (1 - r2) / n2) / 4


def test_the_class_recall_error_is_the_widest_the_mean_recall_allows() -> None:
    var = _worst_class_variance(0.7292, 7, 293)
    assert d.class_recall_se(0.7292, [7, 293]) == pytest.approx(math.sqrt(var), rel=1e-9)
    assert math.sqrt(var) == pytest.approx(0.0947, abs=1e-4)  # a binomial on 300: 0.0256
    # no pair of recalls averaging 0.7292 gives more (a grid over r1), and the run's own
    # recalls (0.9378 and 0.5 average 0.7189, the test's) give less at their own mean
    grid = [r1 / 1000 for r1 in range(458, 1001)]  # r2 = 1.4584 - r1 within [0, 1]
    widest = max((r * (1 - r) / 7 + (1.4584 - r) * (r - 0.4584) / 293) / 4 for r in grid)
    assert widest <= var + 1e-12
    own = (0.5 * 0.5 / 7 + 0.9378 * 0.0622 / 293) / 4
    assert own <= d.class_recall_se(0.7189, [7, 293]) ** 2
    # three classes of 10 rows, mean 0.5: every recall 0.5, Var = 3 * 0.25 / 10 / 9
    assert d.class_recall_se(0.5, [10, 10, 10]) == pytest.approx(math.sqrt(0.75 / 90))
    # a recall of 1 keeps Agresti's error (1 failure, 1 success of n + 2): no certainty
    assert d.class_recall_se(1.0, [7, 293]) == pytest.approx(
        math.sqrt(8 / 81 / 7 + 294 / 295**2 / 293) / 2
    )
    assert d.class_recall_se(0.7, []) is None and d.val_counts([293, 7], 301) == [293, 7]
    assert d.val_counts([290, 10], 150) == [145, 5]


def test_the_testers_balanced_accuracy_gap_is_within_noise() -> None:
    """Newcombe's interval on 300 rows put the gap at -0.061 to 0.081 while the test score's
    own bootstrap interval was 0.524-0.872: the spread of a mean over a 7-row class."""
    assert d.newcombe(0.7292, 300, 0.7189, 300) == pytest.approx((-0.0611, 0.0812), abs=1e-4)
    g = d.gap("balanced_accuracy", 0.7292, 0.7189, 300, 300, True, _BOOT, _PER_CLASS)
    assert g is not None and g["within"] is True
    se_v = math.sqrt(_worst_class_variance(0.7292, 7, 293))  # 300 x the test's shares
    se_t = (0.872 - 0.7189) / d.Z95  # the half of the bootstrap interval toward validation
    half = d.Z95 * math.hypot(se_v, se_t)
    assert (g["lo"], g["hi"]) == (pytest.approx(0.0103 - half), pytest.approx(0.0103 + half))
    assert g["lo"] < -0.2 and "class counts" in g["method"] and "bootstrap" in g["method"]
    said = d.gap_sentence("balanced accuracy", g, 300, 300)
    assert "within the noise of 300 validation and 300 test examples" in said
    assert "validation's standard error from its class counts" in said
    # without the bootstrap interval, the test side from its class counts too
    g = d.gap("balanced_accuracy", 0.7292, 0.7189, 300, 300, True, None, _PER_CLASS)
    half = d.Z95 * math.hypot(se_v, d.class_recall_se(0.7189, [293, 7]))  # type: ignore[arg-type]
    assert g["hi"] == pytest.approx(0.0103 + half) and "from its class counts" in g["method"]


def test_a_balanced_accuracy_drop_a_binomial_error_calls_over_fitting_is_noise() -> None:
    """0.85 → 0.72 on 300 rows each: Newcombe's interval excludes 0 (the alert fired); with a
    7-row class it is noise."""
    lo, _ = d.newcombe(0.85, 300, 0.72, 300)
    assert lo > 0
    g = d.gap("balanced_accuracy", 0.85, 0.72, 300, 300, True, _BOOT | {"lo": 0.52}, _PER_CLASS)
    assert g is not None and g["within"] is True
    data = breast_cancer()
    data["run"]["metric"] = "balanced_accuracy"
    data["run"]["data_info"]["sizes"] = {"train": 1400, "val": 300, "test": 300}
    data["best"]["val"] = {"balanced_accuracy": 0.85}
    data["best"]["test"].update(balanced_accuracy=0.72, per_class=_PER_CLASS)
    data["test_interval"] = _BOOT | {"lo": 0.52}
    assert not any("over-fitted" in a["text"] for a in alerts(data))
    data["test_interval"] = None  # the class counts alone say the same
    assert not any("over-fitted" in a["text"] for a in alerts(data))


def test_accuracy_keeps_newcombes_interval_exactly() -> None:
    g = d.gap("accuracy", 0.7292, 0.7189, 300, 300, True, _BOOT, _PER_CLASS)
    assert g is not None and (g["lo"], g["hi"]) == d.newcombe(0.7292, 300, 0.7189, 300)
    assert g["method"] == "Newcombe's interval for a difference of proportions"
    plain = d.gap("accuracy", 0.99, 0.90, 1000, 1000, True)
    assert plain is not None and plain["within"] is False
    assert (plain["lo"], plain["hi"]) == d.newcombe(0.99, 1000, 0.90, 1000)


def test_a_macro_f1_gap_uses_the_bootstrap_spread_or_is_not_judged() -> None:
    boot = {"metric": "f1", "lo": 0.60, "hi": 0.80, "n": 200}
    g = d.gap("f1", 0.78, 0.70, 100, 200, True, boot, _PER_CLASS)
    # validation: the wider half of the test's interval, 0.10 / 1.96, x sqrt(200 / 100);
    # test: the half toward validation, 0.10 / 1.96
    se_v, se_t = 0.10 / d.Z95 * math.sqrt(2), 0.10 / d.Z95
    assert g is not None and g["hi"] == pytest.approx(0.08 + d.Z95 * math.hypot(se_v, se_t))
    assert "scaled by sqrt(200 / 100)" in g["method"] and g["within"] is True
    blind = d.gap("f1", 0.78, 0.70, 100, 200, True, None, _PER_CLASS)  # no binomial fallback
    assert blind is not None and blind["within"] is None and blind["lo"] is None
    said = d.gap_sentence("macro f1", blind, 100, 200)
    assert "macro f1 is no proportion of the examples" in said and "cannot be said" in said
    roc = d.gap("roc_auc", 0.95, 0.90, 100, 100, True)
    assert roc is not None and roc["within"] is None


def test_ties_of_balanced_accuracy_are_judged_by_the_class_counts() -> None:
    """0.7292 against 0.64 on 300 validation rows: 0.089 apart, beyond a binomial band
    (±0.072) but within that of a mean over a 7-row class."""
    trials = [
        {"number": 1, "state": "complete", "metric": 0.7292, "params": 9_000},
        {"number": 2, "state": "complete", "metric": 0.64, "params": 1_000},
    ]
    assert d.ties(trials, 1, "accuracy", 300, True)["tied"] == []  # type: ignore[index]
    t = d.ties(trials, 1, "balanced_accuracy", 300, True, per_class=_PER_CLASS)
    assert t is not None and t["known"] and [x["number"] for x in t["tied"]] == [2]
    band = d.Z95 * math.hypot(
        math.sqrt(_worst_class_variance(0.7292, 7, 293)),
        math.sqrt(_worst_class_variance(0.64, 7, 293)),
    )
    assert band > 0.7292 - 0.64 and t["smallest"]["number"] == 2
    blind = d.ties(trials, 1, "f1", 300, True, per_class=_PER_CLASS)
    assert blind is not None and not blind["known"] and "no proportion" in blind["why"]
    t = d.ties(trials, 1, "f1", 300, True, test_interval={"lo": 0.6, "hi": 0.8, "n": 300},
               test=0.7)  # fmt: skip
    assert t is not None and t["known"] and "bootstrap spread" in t["method"]
    # on the first screen: the reason, not "the validation size is not recorded"
    data = breast_cancer()
    data["run"]["metric"] = "f1"
    data["run"]["data_info"]["sizes"] = {"train": 1400, "val": 300, "test": 300}
    data["best"]["val"], data["best"]["test"]["f1"] = {"f1": 1.0}, 0.95
    why = decision_view(data)["why"]  # type: ignore[index]
    assert "macro f1 is no proportion of the examples" in why and "cannot be judged" in why, why


def test_a_baseline_fitted_on_a_sliver_of_the_rows_says_so_beside_its_score() -> None:
    """An outsider's 200,000-row file: the trees were fitted on 2,238 of 170,000 rows (their
    cap of values) and scored 0.8123, "outside the winner's 95% interval" (0.8597), where trees
    fitted on all the rows scored 0.8545-0.8618."""
    data = _with_trees(0.70)  # below the winner's 82/86, beyond its interval
    trees = data["baselines"]["baselines"][-1]
    trees["detail"] = trees["detail"].replace(
        "(483 rows)", "(240 rows, a random 240 of 483; the trees' cap: 150,000 values, at least "
        "200 rows)")  # fmt: skip
    row = next(b for b in decision_view(data)["baselines"] if b["kind"] == "trees")
    assert row["relation"].endswith(
        "; fitted on a random 240 of 483 training rows, so it may understate what it does with "
        "all of them"
    )
    trees["detail"] = trees["detail"].replace("a random 240 of 483", "a random 400 of 483")
    row = next(b for b in decision_view(data)["baselines"] if b["kind"] == "trees")
    assert "fitted on a random" not in row["relation"]  # most of the rows: nothing to add


def test_each_check_row_says_how_many_examples_it_ran_on_and_too_few_is_no_judgement() -> None:
    """The report had not said on how many examples a check ran (sensitivity and
    randomisation re-run on their own sample), nor that a verdict on 1 example is none
    (/tmp/oW 5, 6)."""
    from explain.report.method_trust import check_rows

    rows = check_rows([
        {"name": "completeness", "method": "ig", "status": "pass", "value": 0.01},
        {"name": "sensitivity", "method": "ig", "status": "pass", "extra": {"n_examples": 32}},
        {"name": "randomisation", "method": "ig", "status": "fail", "extra": {"n_examples": 3}},
    ], n_explained=180)  # fmt: skip
    assert [r["n"] for r in rows] == ["180", "32", "3"]
    assert [r["qualifier"] for r in rows][:2] == ["", ""]
    assert rows[2]["qualifier"].startswith("on only 3 examples: too few to judge")
    assert check_rows([{"name": "deletion", "method": "ig", "status": "pass"}])[0]["n"] == "–"
    line = d.explanation_line({"checks": [{"name": "completeness", "method": "ig",
                                           "status": "pass"}], "n_explained": 1})  # fmt: skip
    assert line == ("Explanations: ig passed every check (on only 1 example: too few for these "
                    "verdicts to judge; explain at least 8).")  # fmt: skip


def test_an_infidelity_warning_names_inputs_that_copy_each_other_as_a_cause() -> None:
    """Three copies of one input in a saturating model: an exact IG (completeness error 2e-7)
    warned on infidelity at 0.362, worded as a fault of the map alone (/tmp/oW 7)."""
    from explain.report.method_trust import consequence

    said = consequence({"name": "infidelity", "status": "warn"})
    assert said == (
        "the map does not predict how the output changes when inputs are removed "
        "(as also when inputs copy each other: removing one then changes little)"
    )
    flipped = {"name": "infidelity", "extra": {"scale": -0.5, "scale_judged": True}}
    assert consequence(flipped) == "the map points the wrong way"


def test_a_gap_made_by_a_few_heavy_tailed_rows_is_not_called_over_fitting() -> None:
    """/tmp/oG6 F1: t(2) noise put 51 % of the test squared error on one row of 258; the true
    function itself showed a larger validation -> test gap than the winner, which had been
    said to have over-fitted the validation split."""
    import numpy as np

    from nas.baselines import largest_errors

    y = np.zeros(100)
    out = np.r_[np.ones(99), 10.0]  # squared errors 99 x 1 and one 100: the largest holds 100/199
    assert largest_errors("rmse", y, out) == {"rows": 1, "of": 100, "share": 100 / 199}
    assert largest_errors("mae", y, out)["share"] == pytest.approx(10 / 109)
    assert largest_errors("r2", y, out) is None  # no sum of errors to share
    interval = {"metric": "rmse", "lo": 2.5, "hi": 5.9, "n": 258,
                "largest": {"rows": 3, "of": 258, "share": 0.51}}  # fmt: skip
    g = d.gap("rmse", 1.792, 3.627, 257, 258, False, interval)
    assert g is not None and not g["within"]  # beyond the noise of errors of one size ...
    said = d.gap_sentence("rmse", g, 257, 258)
    assert "3 test rows hold 51% of the error of all 258: the errors are heavy-tailed" in said
    assert "over-fitted" not in said
    interval["largest"] = {"rows": 3, "of": 258, "share": 0.13}  # Gaussian errors' 99th pct.
    said = d.gap_sentence("rmse", d.gap("rmse", 1.792, 3.627, 257, 258, False, interval), 257,
                          258)  # fmt: skip
    assert "may have over-fitted the validation split" in said
