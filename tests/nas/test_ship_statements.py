"""What the report, `nas search` and `nas show` state about a winner someone may ship: each
statement checked against the numbers it is made of (an outside tester found them wrong)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from nas.findings import alerts, budget_sentence, search_warnings, verdict
from tests.conftest import copy_finished_run, invoke


def _data(budget: dict, cost: dict, trial_cost: dict | None = None) -> dict:
    run = {"metric": "accuracy", "budget": budget, "directions": ["maximize"],
           "data_info": {"sizes": {"test": 270}}}  # fmt: skip
    best = {"trial": 2, "family": "fnn", "test": {"accuracy": 0.1444}, "cost": cost}
    trials = [{"number": 2, "state": "complete", **(trial_cost or {})}]
    return {"run": run, "best": best, "trials": trials}


def test_the_verdict_says_the_final_latency_is_over_the_budget_its_trial_met() -> None:
    """/tmp/oC/rl2: --max-latency-ms 0.1; the winner's trial measured 0.0668 ms, its retrain
    0.135 ms. The verdict said "It fits the budget (max_latency_ms 0.1)"."""
    limits = {"max_params": None, "max_flops": None, "max_latency_ms": 0.1, "max_memory_mb": None}
    data = _data(limits, {"params": 17482, "flops": 34048, "latency_ms": 0.1351},
                 {"latency_ms": 0.0668})  # fmt: skip
    text = verdict(data)
    assert "It fits the budget" not in text and "fits the budget" not in text
    assert "OVER the budget's max_latency_ms 0.1 (0.135 ms at batch 1; its trial measured " \
           "0.0668 ms, within the limit)" in text  # fmt: skip
    assert "latency varies with the machine's load" in text


def test_the_verdict_says_it_fits_each_limit_with_its_final_measurement() -> None:
    data = _data({"max_params": 20000, "max_latency_ms": 0.1},
                 {"params": 17482, "latency_ms": 0.0457})  # fmt: skip
    assert budget_sentence(data) == (
        " As measured after its retrain it fits the budget (max_params 20,000: 17,482 "
        "parameters; max_latency_ms 0.1: 0.0457 ms at batch 1)."
    )
    over = _data({"max_params": 20000, "max_latency_ms": 0.1},
                 {"params": 17482, "latency_ms": 0.2})  # fmt: skip
    said = budget_sentence(over)
    assert "fits the budget (max_params 20,000: 17,482 parameters)." in said
    assert "OVER the budget's max_latency_ms 0.1 (0.2 ms at batch 1)" in said  # no trial value
    assert budget_sentence(_data({}, {"params": 1})) == ""
    unknown = budget_sentence(_data({"max_latency_ms": 0.1}, {"params": 1}))
    assert unknown == " Its final cost was not recorded for max_latency_ms 0.1."


def test_the_gan_verdict_judges_the_final_cost_too() -> None:
    from nas.gan.kind import GanKind

    data = _data({"max_params": 1000}, {"params": 5000, "flops": 1e6})
    data["run"]["metric"] = "fcd"
    data["best"]["test"] = {"fcd": 3.0}
    text = GanKind().verdict(data)
    assert "fits the budget" not in text
    assert "OVER the budget's max_params 1,000 (5,000 parameters)" in text


def test_the_search_warnings_are_alerts_of_the_report() -> None:
    data = _data({}, {"params": 1})
    data["warnings"] = ["the winner measured 0.135 ms at batch 1 after its retrain, over "
                        "--max-latency-ms 0.1 <b>"]  # fmt: skip
    said = [a for a in alerts(data) if a["text"].startswith("The search warned: ")]
    assert said == [{"level": "warn", "text": "The search warned: " + data["warnings"][0]}]


def test_save_warnings_keeps_them_in_summary_json(tmp_path: Path) -> None:
    from nas.finalize import save_warnings

    (tmp_path / "summary.json").write_text(json.dumps({"counts": {"complete": 1}}))
    result = SimpleNamespace(run_dir=tmp_path, warnings=["over --max-latency-ms 0.1"])
    save_warnings(result)  # type: ignore[arg-type]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == {"counts": {"complete": 1}, "warnings": ["over --max-latency-ms 0.1"]}
    assert search_warnings(tmp_path) == ["over --max-latency-ms 0.1"]
    (tmp_path / "summary.json").write_text("{not json")
    assert search_warnings(tmp_path) == []
    save_warnings(result)  # type: ignore[arg-type]  # a damaged summary is left alone
    assert search_warnings(tmp_path / "nowhere") == []


@pytest.mark.usefixtures("restore_global_state")
def test_a_search_keeps_its_warnings_and_show_and_the_report_say_them(
    finished_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert finished_run.result.exit_code == 0, finished_run.result.output
    summary = json.loads((finished_run.run_dir / "summary.json").read_text())
    assert isinstance(summary["warnings"], list)
    metrics = json.loads((finished_run.run_dir / "best" / "metrics.json").read_text())
    assert metrics["cost"]["threads"] == 1  # --threads 1: what its latency was timed on
    run = copy_finished_run(finished_run, tmp_path)
    summary["warnings"] = ["the winner measured 0.135 ms at batch 1 after its retrain, over "
                           "--max-latency-ms 0.1 [bold]x[/]"]  # fmt: skip
    (run / "summary.json").write_text(json.dumps(summary))
    monkeypatch.chdir(tmp_path)
    shown = invoke("show", run)
    assert shown.exit_code == 0, shown.output
    assert f"warning: {summary['warnings'][0]}" in " ".join(shown.stderr.split())
    from nas.reporting import collect

    data = collect(run)
    assert data["warnings"] == summary["warnings"]
    assert {"level": "warn", "text": "The search warned: " + summary["warnings"][0]} in data[
        "alerts"
    ]


def _over(params: int, flops: int, latency: float) -> object:
    import optuna

    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.PRUNED,
        user_attrs={"status": "over_budget", "params": params, "flops": flops,
                    "latency_ms": latency, "reason": "over budget"},
    )  # fmt: skip


def test_an_impossible_budget_names_one_real_trial_per_limit_and_hints_that_admit_it() -> None:
    """It printed per-field minima of different trials as one "smallest seen" (params=9,098 of
    one trial beside latency_ms=0.0656 of another with 17,482 params) and hints rounded down
    ("params >= 5.159e+04" for a smallest of 51,594, which 51,590 still misses)."""
    import optuna

    from nas.cost import Budget
    from nas.errors import BudgetError
    from nas.leaderboard import check_impossible_budget
    from nas.trial import SearchSettings
    from search_spaces.spaces import get_space

    settings = SearchSettings(get_space("fnn"), "accuracy", ("accuracy",),
                              Budget(max_params=5000, max_latency_ms=0.01),
                              max_rejects=3)  # fmt: skip
    study = optuna.create_study(direction="maximize")
    for p, f, lat in ((51594, 103000, 0.2), (17482, 34048, 0.065612), (9098, 17920, 0.09)):
        study.add_trial(_over(p, f, lat))
    with pytest.raises(BudgetError) as e:
        check_impossible_budget(study, settings)
    message = str(e.value)
    assert ("the smallest by params was trial 2 (params 9,098, flops 17,920, latency_ms "
            "0.09 ms); the smallest by latency_ms was trial 1 (params 17,482, flops 34,048, "
            "latency_ms 0.0656 ms)") in message  # fmt: skip
    assert "These are the smallest of 3 random samples, not the space's smallest design" in message
    assert "raise the limits (--max-params >= 9,098, --max-latency-ms >= 0.0657)" in message
    study = optuna.create_study(direction="maximize")
    for p in (60000, 51594, 70000):
        study.add_trial(_over(p, 2 * p, 0.001))
    with pytest.raises(BudgetError, match=r"\(--max-params >= 51,594\)"):
        check_impossible_budget(study, settings)  # exact: 51,590 would still be rejected


def _pareto_board():
    import pandas as pd

    rows = [  # /tmp/oC/p1: --objectives accuracy,params
        {"number": 0, "state": "complete", "family": "fnn", "params": 41858, "flops": 81408,
         "latency_ms": 0.0813, "metric": 0.988372, "seconds": 2.72, "objective_params": 41858.0},
        {"number": 1, "state": "complete", "family": "transformer", "params": 19074,
         "flops": 1213568, "latency_ms": 0.4286, "metric": 0.988372, "seconds": 2.89,
         "objective_params": 19074.0},
        {"number": 2, "state": "pruned", "family": "cnn", "params": 21026, "flops": 695808,
         "latency_ms": 0.4971, "metric": None, "seconds": 0.64, "objective_params": None},
        {"number": 8, "state": "complete", "family": "rnn", "params": 3426, "flops": 190208,
         "latency_ms": 0.4922, "metric": 0.930233, "seconds": 0.89, "objective_params": 3426.0},
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_top_table_of_a_pareto_search_marks_the_front_and_lists_it_first() -> None:
    """It listed trial 0 (0.9884, 41,858 params) first, which trial 1 (0.9884, 19,074 params)
    dominates, with nothing marking the front."""
    from rich.console import Console

    from nas.commands.search import top_table
    from nas.leaderboard import board_front

    board = _pareto_board()
    assert board_front(board, ["maximize", "minimize"]) == {1, 8}
    assert board_front(board, ["maximize"]) == set()
    table = top_table(board, False, "accuracy", ["maximize", "minimize"], 1)
    console = Console(width=200, record=True)
    console.print(table)
    lines = [ln for ln in console.export_text(clear=False).splitlines() if "│" in ln]
    cells = [[c.strip() for c in ln.split("│")[1:-1]] for ln in lines]
    assert [(c[0], c[1]) for c in cells] == [("★", "1"), ("★", "8"), ("", "0")]
    text = " ".join(console.export_text(clear=False).split())
    assert ("★: no other trial is at least as good on accuracy and params and better on one. "
            "Winner (trial 1): the front member with the best validation accuracy (ties: the "
            "earlier trial).") in text  # fmt: skip
    one = top_table(board, False, "accuracy", ["maximize"])  # one objective: by the metric
    console = Console(width=200, record=True)
    console.print(one)
    assert "★" not in console.export_text(clear=False) and "front" not in console.export_text(
        clear=False
    )


def test_why_this_winner_of_a_pareto_search_states_the_rule_and_the_dominated_tie() -> None:
    """It said "the runner-up, trial 0, scored 0.9884 (a margin of 0)" with no rule."""
    from explain.report.decision_view import _why

    run = {"metric": "accuracy", "objectives": ["accuracy", "params"],
           "directions": ["maximize", "minimize"], "data_info": {"sizes": {"val": 86}}}  # fmt: skip
    trials = [
        {"number": n, "state": "complete", "family": "f", "metric": m, "params": p,
         "values": [m, float(p)]}
        for n, m, p in ((0, 0.988372, 41858), (1, 0.988372, 19074), (8, 0.930233, 3426))
    ]  # fmt: skip
    data = {"run": run, "trials": trials, "pareto": [1, 8]}
    why = _why(data, {"trial": 1, "val": {"accuracy": 0.988372}}, "accuracy", True)
    assert why == (
        "Why this winner: of the 2 Pareto-optimal trials (of 3 complete; on the front, no other "
        "trial is at least as good on accuracy and params and better on one), it has the best "
        "validation accuracy (0.9884; ties: the earlier trial); the next on the front, trial 8, "
        "scored 0.9302 (params 3,426). Off the front although as good on validation accuracy: "
        "trial 0 (0.9884, params 41,858), dominated (a trial as good on accuracy does better on "
        "params; the winner has params 19,074)."
    )
    assert "margin" not in why and "runner-up" not in why


def test_the_winner_card_says_batch_1_latency_on_its_threads_and_the_batch_figure() -> None:
    """It said "0.0457 ms per example" of a batch-1 call timed on one thread; metrics.json
    also has the batch-256 figure (0.205 ms per batch)."""
    from explain.report.sections import overview

    cost = {"params": 1, "flops": 1, "latency_ms": 0.0457, "latency_ms_batch": 0.205,
            "batch_size": 256, "memory_mb": 0.1, "device": "cpu"}  # fmt: skip
    run = {"metric": "accuracy", "command": "nas search --dataset digits --space fnn"}
    data = {"run": run, "best": {"trial": 2, "family": "fnn", "cost": cost, "test": {}}}
    card = dict(overview(data)["winner"])  # type: ignore[arg-type]
    assert card["latency"] == (
        "0.0457 ms batch-1 latency (1 thread, cpu); 0.205 ms per batch of 256; re-measured "
        "after the retrain (the leaderboard's is the trial's)"
    )
    assert "per example" not in card["latency"]
    run["command"] = "nas search --dataset digits --threads 4"
    assert dict(overview(data)["winner"])["latency"].startswith(  # type: ignore[arg-type]
        "0.0457 ms batch-1 latency (4 threads, cpu)"
    )
    run["command"] = "nas search --data 'my data.csv' --target 'y <1>' --threads 3"  # quoted
    assert dict(overview(data)["winner"])["latency"].startswith(  # type: ignore[arg-type]
        "0.0457 ms batch-1 latency (3 threads, cpu)"
    )
    cost["threads"] = 2  # recorded: it wins
    del cost["latency_ms_batch"]
    assert dict(overview(data)["winner"])["latency"] == (  # type: ignore[arg-type]
        "0.0457 ms batch-1 latency (2 threads, cpu); re-measured after the retrain (the "
        "leaderboard's is the trial's)"
    )


@pytest.mark.usefixtures("restore_global_state")
def test_weights_changed_after_the_search_are_said_by_the_report_and_show(
    finished_run, tmp_path: Path
) -> None:
    """An outsider's edited winner loaded nowhere, but `nas report` and `nas show` read it
    without a word (the summary still matched: only the weights had moved)."""
    import torch

    from nas.reporting import collect

    run = copy_finished_run(finished_run, tmp_path)
    assert not [a for a in collect(run)["alerts"] if a["level"] == "error"]
    weights = run / "best" / "model.pt"
    state = torch.load(weights, weights_only=True)
    torch.save({k: v + 0.1 if v.is_floating_point() else v for k, v in state.items()}, weights)
    first = collect(run)["alerts"][0]
    assert first["level"] == "error" and f"{weights} is not the file the search saved" in (
        first["text"])  # fmt: skip
    shown = invoke("show", run)
    assert shown.exit_code == 0
    assert "is not the file the search saved" in " ".join(shown.output.split())


def test_a_final_cost_over_a_limit_is_said_in_the_terminal_too(tmp_path: Path) -> None:
    """The report said OVER; `nas show` and the search's summary printed only the baselines."""
    from nas.config import SearchConfig
    from nas.cost import Budget
    from nas.reporting import judged
    from search_spaces import Space

    config = SearchConfig(study="s", space=Space("fnn"), budget=Budget(max_latency_ms=0.3),
                          metric="accuracy", task="classification")  # fmt: skip
    best = {"trial": 0, "test": {"accuracy": 0.9},
            "cost": {"params": 10, "flops": 20, "latency_ms": 0.45, "memory_mb": 0.1}}  # fmt: skip
    lines = judged(tmp_path, config, best)
    said = [x for x in lines if x.startswith("budget: ")]
    assert len(said) == 1 and "OVER the budget's max_latency_ms 0.3 (0.45 ms" in said[0]
    best["cost"]["latency_ms"] = 0.2
    assert not [x for x in judged(tmp_path, config, best) if x.startswith("budget: ")]


def test_a_gap_without_an_error_formula_says_so_not_that_sizes_are_missing() -> None:
    """A GAN's FCD gap had read "the split sizes are not recorded" beside a Data card showing
    val 270 / test 270: the sizes were there; nas has no error formula for an FCD."""
    from explain.report.decision import gap, gap_sentence

    g = gap("fcd", 62.42, 71.12, 270, 270, maximize=False)
    assert g is not None and g["within"] is None
    assert gap_sentence("fcd", g, 270, 270) == (
        "Validation fcd 62.42 → test 71.12: test is worse by 8.7; nas knows no error formula "
        "for fcd on 270 validation and 270 test examples, so whether that is noise cannot be said."
    )
    missing = gap("fcd", 62.42, 71.12, None, 270, maximize=False)
    assert "the split sizes are not recorded" in gap_sentence("fcd", missing, None, 270)


def test_the_terminal_says_the_reports_warnings_of_imbalance_a_silent_class_and_overfitting(
    tmp_path: Path,
) -> None:
    """The tester's 97:3 churn run: `nas search` and `nas show` printed accuracy 0.9767 and
    nothing else, where the report warned of the imbalance and its per-class table showed a
    recall of 0 for the churners (the model said "no" to all 300 test rows); a noise run's
    validation → test gap beyond noise was in the report only."""
    import dataclasses

    from nas.config import SearchConfig
    from nas.reporting import judged
    from search_spaces import Space

    sizes = {"sizes": {"train": 1400, "val": 300, "test": 300}}
    config = SearchConfig(study="s", space=Space("fnn"), metric="accuracy",
                          task="classification", data_info=sizes)  # fmt: skip
    per_class = [
        {"class": "0", "precision": 293 / 300, "recall": 1.0, "f1": 0.988, "support": 293},
        {"class": "1", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 7},
    ]
    best = {"trial": 0, "val": {"accuracy": 0.9767}, "cost": {"params": 10},
            "test": {"accuracy": 293 / 300, "per_class": per_class}}  # fmt: skip
    lines = judged(tmp_path, config, best)
    assert (
        "warning: The classes are imbalanced (test support 7 to 293 rows): read balanced "
        "accuracy and per-class recall, not only accuracy." in lines
    )
    assert (
        "warning: The winner says '0' for every one of the 300 test rows: recall 0 for '1' (7 "
        "rows). If those classes matter, search again with --metric balanced_accuracy (or f1), "
        "which counts each class alike." in lines
    )
    # a class missed among others: named, without "every row"
    b = {"class": "b", "precision": 0.5, "recall": 0.8, "support": 5}
    three = [dict(per_class[0], recall=0.9, precision=0.95), b, per_class[1]]
    best["test"]["per_class"] = three
    (missed,) = [x for x in judged(tmp_path, config, best) if "recall 0 for" in x]
    assert missed.startswith("warning: The winner never gets these classes right on the test "
                             "rows: recall 0 for '1' (7 rows).")  # fmt: skip
    # validation 0.60 -> test 0.42 on 90 and 90 rows: beyond noise, said as the report says it
    config = dataclasses.replace(config, data_info={"sizes": {"train": 420, "val": 90, "test": 90}})
    best = {"trial": 0, "val": {"accuracy": 0.6}, "test": {"accuracy": 38 / 90}}
    (gap,) = [x for x in judged(tmp_path, config, best) if x.startswith("warning: Validation")]
    assert "is more than the noise of 90 validation and 90 test examples allows" in gap
    assert not [x for x in judged(tmp_path, config, best) if "recall 0" in x or "imbalanced" in x]


def test_untested_classes_and_the_most_missed_class_are_said(tmp_path: Path) -> None:
    """/tmp/oB4 F1: 2 of 40 classes had no test rows; the per-class table showed them at
    precision, recall and F1 0 ("never right"), the alert said "test support 1 to 9", and
    nothing said the headline 1.0 was over 38 classes. F4: at 2 % positives the first screen
    read 0.988 and never said that 8 of the 16 positives were missed."""
    from explain.report.sections import Figures
    from explain.report.winner_section import winner
    from nas.config import SearchConfig
    from nas.reporting import judged
    from search_spaces import Space

    sizes = {"sizes": {"train": 1000, "val": 200, "test": 46}}
    config = SearchConfig(study="s", space=Space("fnn"), metric="accuracy",
                          task="classification", data_info=sizes)  # fmt: skip

    def row(name: str, recall: float, support: int) -> dict[str, object]:
        return {"class": name, "precision": 1.0 if support else 0.0, "recall": recall,
                "f1": recall, "support": support}  # fmt: skip

    # scikit-learn gives 0s to a class with no test rows
    per_class = [row("a", 0.0, 0), row("b", 0.0, 0), row("c", 1.0, 9), row("d", 1.0, 1),
                 row("e", 1.0, 36)]  # fmt: skip
    best = {"trial": 0, "val": {"accuracy": 1.0}, "cost": {"params": 10},
            "test": {"accuracy": 1.0, "roc_auc": None, "per_class": per_class}}  # fmt: skip
    lines = judged(tmp_path, config, best)
    assert (
        "warning: 2 of 5 classes have no rows in the test split ('a', 'b'): how the winner "
        "does on them is untested, and the macro scores (balanced accuracy, precision, recall, "
        "F1) are over the other 3. ROC AUC is undefined without them. Add rows of those "
        "classes to the data if they matter." in lines
    )
    assert (
        "warning: The classes are imbalanced (test support 1 to 36 rows among the tested "
        "classes): read balanced accuracy and per-class recall, not only accuracy." in lines
    )
    rows = winner({"best": best, "run": {}}, Figures())["per_class"]  # type: ignore[arg-type]
    assert [r["recall"] for r in rows] == ["–", "–", "1", "1", "1"]
    assert rows[0] == {"class": "a", "precision": "–", "recall": "–", "f1": "–",
                       "support": "0: untested"}  # fmt: skip

    # 2 % positives: half of them missed, said with the counts
    # /tmp/oE4 N2: an untested class the winner predicted counts in the macro P / R / F1
    import numpy as np

    from nas.kinds.classifier import per_class_metrics
    from nas.metrics import compute_metrics

    y, said = np.array([0] * 10 + [1] * 10), np.array([0] * 10 + [1] * 7 + [2] * 3)
    scored = compute_metrics("classification", y, said, 3)
    scored["per_class"] = per_class_metrics(y, said, 3, ["a", "b", "c"])
    assert scored["per_class"][2]["predicted"] == 3 and scored["balanced_accuracy"] == 0.85
    assert scored["recall"] == pytest.approx((1 + 0.7 + 0) / 3)  # over 3 classes, c at 0
    lines = judged(tmp_path, config, {**best, "test": scored})
    assert any("balanced accuracy is over the other 2; macro precision, recall and F1 are over "
               "3, counting at 0 the untested classes the winner gave test rows to anyway, every "
               "one of them wrongly: 'c' (3 rows)" in line for line in lines)  # fmt: skip
    cell = winner({"best": {**best, "test": scored}, "run": {}}, Figures())["per_class"][2]
    assert (cell["precision"], cell["recall"], cell["support"]) == (
        "0",
        "–",
        "0: untested (3 predicted)",
    )

    best["test"] = {"accuracy": 0.988, "per_class": [row("no", 0.998, 784), row("yes", 0.5, 16)]}
    assert (
        "warning: The classes are imbalanced (test support 16 to 784 rows): read balanced "
        "accuracy and per-class recall, not only accuracy. The winner finds 8 of the 16 'yes' "
        "test rows (recall 0.50)." in judged(tmp_path, config, best)
    )


def test_an_accuracy_search_on_a_rare_class_is_warned_before_it_starts() -> None:
    """An outsider's 97:3 churn file: 8 trials all scored 0.9767 by saying "no" to every
    churner, and nothing said so before the search."""
    import dataclasses
    from types import SimpleNamespace

    import torch

    from nas.config import SearchConfig
    from nas.session import _rare_class
    from search_spaces import Space

    y = torch.tensor([0] * 97 + [1] * 3)
    td = SimpleNamespace(task="classification", class_names=["no", "yes"],
                         train=SimpleNamespace(y=y))  # fmt: skip
    config = SearchConfig(study="s", space=Space("fnn"), metric="accuracy",
                          task="classification")  # fmt: skip
    assert _rare_class(config, td) == [
        "class 'yes' is 3.0% of the training rows (the most frequent, 'no', 97.0%): accuracy "
        "rewards saying the most frequent class for every row, so trials may tie near 0.97 and "
        "choose nothing; --metric balanced_accuracy (or f1) counts each class alike."
    ]
    assert _rare_class(dataclasses.replace(config, metric="balanced_accuracy"), td) == []
    td.train.y = torch.tensor([0] * 85 + [1] * 15)  # 15 %: accuracy says enough
    assert _rare_class(config, td) == []
    # ten classes of about 10 % (digits: '8' is 9.7 %, '1' 10.2 %) are balanced, not rare
    td.class_names = [str(c) for c in range(10)]
    td.train.y = torch.tensor([c for c in range(10) for _ in range(97 if c == 8 else 102)])
    assert _rare_class(config, td) == []
    # 40 classes, the largest 3.9 %: no tie near 0.04 to warn of (/tmp/oB4 F10), but the
    # rare class is still cheap to miss
    td.class_names = [f"c{c}" for c in range(40)]
    td.train.y = torch.tensor(
        [0] * 2 + [c for c in range(1, 40) for _ in range(20 if c < 30 else 37)]
    )
    assert _rare_class(config, td) == [
        "class 'c0' is 0.2% of the training rows (the most frequent, 'c30', 3.9%): accuracy "
        "counts a class by its rows, so a model may miss every row of 'c0' at a cost of 0.002 of "
        "accuracy; --metric balanced_accuracy (or f1) counts each class alike."
    ]
